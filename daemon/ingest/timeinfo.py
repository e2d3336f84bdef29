"""When a photo was taken: local wall time, UTC offset, IANA zone, and where that answer came from.

Sources by priority (the first valid one wins):
  1. EXIF DateTimeOriginal (+SubSecTimeOriginal, +OffsetTimeOriginal)      -> "exif"
     without an offset: the zone at the GPS position (timezonefinder)      -> "exif+gps_tz"
     else the configured home zone                                         -> "exif+home_tz"
     (CreateDate / DateTimeDigitized is tried when DateTimeOriginal is invalid.)
  2. video: Apple com.apple.quicktime.creationdate with its offset         -> "quicktime"
     container creation_time (UTC) in the zone at its location             -> "video+gps_tz"
     or in the home zone                                                   -> "video+home_tz"
  3. a date in the file name (PXL_…, IMG_…, IMG-…-WA…, Screenshot_…, VID_…, signal-…) -> "filename"
  4. the file's mtime, in the home zone                                    -> "mtime"

Invalid values fall through: blank, 0000:00:00, before 1990, more than a day in the future, or
malformed (e.g. ``2009:09:09 20:27:09.60:04:00``). A zero offset is a real offset (``is not None``).

"The future" needs a clock the library can trust. A Pi without an RTC boots in 1970, and a photo of
last week is not in the future then: an analyse worker's settings carry ``clock_floor``, the time the DB
trusts (``store.clock``), and while the system clock reads earlier than that, the limit is that time
plus ``BEHIND_ALLOWANCE`` (nothing says how long the Pi was off). A date rejected here is rejected for
good (the file is not read again), so a wrong clock must not decide it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

EARLIEST = datetime(1990, 1, 1)


@dataclass(frozen=True)
class TakenAt:
    local: datetime  # naive wall-clock time where the photo was taken
    offset_min: int | None
    tz_name: str | None
    source: str

    @property
    def utc(self) -> datetime | None:
        if self.offset_min is None:
            return None
        return (self.local - timedelta(minutes=self.offset_min)).replace(tzinfo=UTC)

    def local_iso(self) -> str:
        return self.local.isoformat(timespec="microseconds" if self.local.microsecond else "seconds")

    def utc_iso(self) -> str | None:
        utc = self.utc
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if utc else None


_EXIF_RE = re.compile(r"^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})\s*$")
_OFFSET_RE = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


#: While the clock is behind, a capture may be this much newer than the trusted time: a Pi off for two years.
BEHIND_ALLOWANCE = timedelta(days=730)
#: A clock this far before the trusted time is right (the DB's mark lags by a few minutes; NTP slews).
CLOCK_SLACK = timedelta(minutes=10)


class _ClockFloor:
    """The trusted time of this process's current job, as naive local time (None: trust the system clock)."""

    value: datetime | None = None


def use_clock_floor(value: str | None) -> None:
    """Judge "the future" against this trusted time (ISO text from ``store.clock.worker_floor``) from now on.

    ``analyse`` calls it with each job's settings, so a worker always uses its job's value (None clears it).
    """
    floor = datetime.fromisoformat(value) if value else None
    if floor is not None and floor.tzinfo is not None:
        floor = floor.astimezone().replace(tzinfo=None)  # the same naive local time as datetime.now()
    _ClockFloor.value = floor


def reference_now(now: datetime | None = None) -> datetime:
    """The naive local "now" that the future-date rules compare with: the system clock (or ``now``, what
    a test says it reads), unless it reads earlier than the trusted time: then that time plus
    BEHIND_ALLOWANCE."""
    system = now or datetime.now()
    floor = _ClockFloor.value
    if floor is not None and system + CLOCK_SLACK < floor:
        return floor + BEHIND_ALLOWANCE
    return system


def plausible(local: datetime, now: datetime | None = None) -> bool:
    """Not before 1990 and not more than a day in the future (clock-default and garbage dates fail)."""
    return EARLIEST <= local <= reference_now(now) + timedelta(days=1)


def parse_exif_datetime(value: object, subsec: object = None) -> datetime | None:
    """'2024:01:01 12:34:56' (+ '123' sub-seconds) -> datetime, or None if blank/zero/malformed/implausible."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00")
    match = _EXIF_RE.match(value)
    if not match:
        return None
    try:
        local = datetime(*(int(g) for g in match.groups()))
    except ValueError:
        return None
    if isinstance(subsec, bytes):
        subsec = subsec.decode("ascii", "replace")
    if isinstance(subsec, str):
        digits = subsec.strip().strip("\x00")
        if digits.isdigit():
            local = local.replace(microsecond=int((digits + "000000")[:6]))
    return local if plausible(local) else None


def parse_offset(value: object) -> int | None:
    """'+02:00' -> 120, '-05:00' -> -300, '+00:00' -> 0; None when absent or malformed."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    match = _OFFSET_RE.match(value.strip("\x00"))
    if not match:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    if total > 14 * 60 or int(minutes) >= 60:
        return None
    return -total if sign == "-" else total


@lru_cache(maxsize=1)
def _finder():
    from timezonefinder import TimezoneFinder

    return TimezoneFinder(in_memory=False)


def zone_at(lat: float | None, lon: float | None) -> str | None:
    """IANA zone at a position, offline (timezonefinder); None without a position or over the sea."""
    if lat is None or lon is None:
        return None
    try:
        return _finder().timezone_at(lat=lat, lng=lon)
    except ValueError:
        return None


def offset_in_zone(local: datetime, tz_name: str) -> int:
    """UTC offset in minutes of a wall-clock time in a zone (DST-aware)."""
    delta = local.replace(tzinfo=ZoneInfo(tz_name)).utcoffset()
    return int(delta.total_seconds() // 60) if delta is not None else 0


def from_local(local: datetime, offset_min: int | None, lat: float | None, lon: float | None,
               home_tz: str, source: str) -> TakenAt:
    """A wall time from EXIF or a file name: its own offset if it has one, else the GPS zone, else home."""
    gps_zone = zone_at(lat, lon)
    if offset_min is not None:
        zone = gps_zone if gps_zone and offset_in_zone(local, gps_zone) == offset_min else None
        return TakenAt(local, offset_min, zone, source)
    if gps_zone:
        return TakenAt(local, offset_in_zone(local, gps_zone), gps_zone, f"{source}+gps_tz")
    return TakenAt(local, offset_in_zone(local, home_tz), home_tz, f"{source}+home_tz")


def from_utc(utc: datetime, lat: float | None, lon: float | None, home_tz: str, source: str) -> TakenAt:
    """A UTC instant (video creation_time, file mtime) shown as wall time in the GPS zone, else home."""
    zone_name = zone_at(lat, lon)
    suffix = "+gps_tz"
    if not zone_name:
        zone_name, suffix = home_tz, "+home_tz"
    local_aware = utc.astimezone(ZoneInfo(zone_name))
    offset = int(local_aware.utcoffset().total_seconds() // 60)
    name = source if source == "mtime" else f"{source}{suffix}"
    return TakenAt(local_aware.replace(tzinfo=None), offset, zone_name, name)


# File-name dates phones and messengers write. Each pattern captures Y M D and optionally h m s.
_NAME_PATTERNS = [
    re.compile(r"(?:PXL|IMG|VID|MVIMG|PANO|BURST\d*|Screenshot|Screen_Recording|MOV|DSC|Photo|Video)"
               r"[_-](\d{4})(\d{2})(\d{2})[_-](\d{2})(\d{2})(\d{2})", re.I),
    re.compile(r"(?:IMG|VID|AUD|PTT|STK)-(\d{4})(\d{2})(\d{2})-WA\d+", re.I),
    re.compile(r"signal-(\d{4})-(\d{2})-(\d{2})-(\d{2})-?(\d{2})-?(\d{2})", re.I),
    re.compile(r"(?:Screenshot|Screen Shot|Photo|Video)[ _](\d{4})-(\d{2})-(\d{2})[ _at]+(\d{2})[.:\-](\d{2})[.:\-](\d{2})", re.I),
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[_-](\d{2})(\d{2})(\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[ _](\d{2})[.\-](\d{2})[.\-](\d{2})(?!\d)"),
    re.compile(r"signal-(\d{4})-(\d{2})-(\d{2})", re.I),
]


def parse_filename(name: str) -> datetime | None:
    """The capture time encoded in a phone's file name, if any (plausible dates only)."""
    for pattern in _NAME_PATTERNS:
        match = pattern.search(name)
        if not match:
            continue
        parts = [int(g) for g in match.groups()]
        try:
            local = datetime(*parts)
        except ValueError:
            continue
        if plausible(local):
            return local
    return None
