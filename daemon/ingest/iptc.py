"""Capture date from IPTC IIM (2:55 DateCreated, 2:60 TimeCreated), the news-photo metadata block.

Photoshop, Photo Mechanic and agency workflows write the capture date into IPTC, often next to XMP's
photoshop:DateCreated and sometimes instead of EXIF; without it such photos fall back to the mtime.
The APP13/TIFF block is read by Pillow's ``IptcImagePlugin.getiptcinfo`` (not parsed here by hand).

2:55 is ``CCYYMMDD`` where ``00`` marks an unknown month or day (precision "month" or "year"); 2:60 is
``HHMMSS±HHMM`` or ``HHMMSS``. Without a time (or with an unknown day) the local time is 12:00:00:
midday keeps the calendar date stable through any later zone conversion. Malformed values raise
``MetadataError`` (the per-file reason); plausible-but-absurd dates (before 1900, in the future, the
epoch default, 00000000) are simply "no date".
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from PIL import IptcImagePlugin

from homeroll.daemon.ingest import timeinfo
from homeroll.daemon.ingest.xmp import MIDDAY, EmbeddedTime, MetadataError, plausible_human

TAG = "IPTC:DateCreated"
DATE_CREATED = (2, 55)
TIME_CREATED = (2, 60)

_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")
# The standard has no colons, but some writers add them; the meaning is the same.
_TIME_RE = re.compile(r"(\d{2}):?(\d{2}):?(\d{2})(?P<offset>[+-]\d{2}:?\d{2})?")


def _field(fields: dict, key: tuple[int, int], name: str) -> str | None:
    value: Any = fields.get(key)
    if isinstance(value, list):  # a repeated dataset: the first non-empty one counts
        value = next((v for v in value if v), None)
    if not value:
        return None
    try:
        text = value.decode("ascii") if isinstance(value, (bytes, bytearray)) else str(value)
    except UnicodeDecodeError:
        raise MetadataError(f"malformed IPTC ({name} is not ASCII)") from None
    return text.strip("\x00 ") or None


def _time(fields: dict, now: datetime | None) -> EmbeddedTime | None:
    dated = _date(fields)
    if dated is None:
        return None
    local, precision = dated
    offset = None
    time_text = _field(fields, TIME_CREATED, "TimeCreated")
    if time_text is not None and precision == "day":
        local, offset = _with_time(local, time_text)
        precision = "time"
    if not plausible_human(local, now, offset_min=offset):
        return None
    return EmbeddedTime(local, offset, TAG, precision)


def _date(fields: dict) -> tuple[datetime, str] | None:
    """2:55 as (midday of that day, precision); None without a date or for the "unknown" placeholder."""
    date_text = _field(fields, DATE_CREATED, "DateCreated")
    if date_text is None:
        return None  # a TimeCreated without a date says nothing about the day
    match = _DATE_RE.fullmatch(date_text)
    if not match:
        raise MetadataError(f"malformed IPTC (DateCreated {date_text[:20]!r})")
    year, month, day = (int(g) for g in match.groups())
    if year == 0:
        return None  # 00000000 / 0000MMDD: the writer's "unknown" placeholder
    if month == 0:
        precision, month, day = "year", 1, 1  # a day without its month means nothing either
    elif day == 0:
        precision, day = "month", 1
    else:
        precision = "day"
    try:
        return datetime(year, month, day, MIDDAY), precision
    except ValueError:
        raise MetadataError(f"malformed IPTC (DateCreated {date_text!r})") from None


def _with_time(day: datetime, time_text: str) -> tuple[datetime, int | None]:
    """The day at 2:60's time, and its UTC offset in minutes when it has one."""
    tmatch = _TIME_RE.fullmatch(time_text)
    if not tmatch:
        raise MetadataError(f"malformed IPTC (TimeCreated {time_text[:20]!r})")
    offset = None
    if tmatch["offset"]:
        offset = timeinfo.parse_offset(tmatch["offset"])
        if offset is None:
            raise MetadataError(f"malformed IPTC (TimeCreated {time_text!r})")
    try:
        return day.replace(hour=int(tmatch[1]), minute=int(tmatch[2]), second=int(tmatch[3])), offset
    except ValueError:
        raise MetadataError(f"malformed IPTC (TimeCreated {time_text!r})") from None


def read_iptc(image: Any, now: datetime | None = None) -> EmbeddedTime | None:
    """IPTC DateCreated (+ TimeCreated) of an opened JPEG or TIFF; None if absent or implausible.

    Raises only MetadataError, for a malformed IPTC block or value. ``now`` is for tests.
    """
    try:
        fields = IptcImagePlugin.getiptcinfo(image)
    except Exception as exc:  # noqa: BLE001 - Pillow raises SyntaxError/OSError/… for a broken block
        raise MetadataError(f"malformed IPTC ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not fields:
        return None
    try:
        return _time(fields, now)
    except MetadataError:
        raise
    except Exception as exc:  # noqa: BLE001 - still only this file's IPTC
        raise MetadataError(f"malformed IPTC ({type(exc).__name__})") from None
