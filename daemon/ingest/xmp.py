"""Capture time and position from XMP, for photos whose date is not (or not only) in EXIF.

Photoshop/Lightroom exports, scans and edited copies often keep their capture date only in XMP (and
IPTC, see iptc.py); without this module they fall back to the file's mtime. The same parser reads an
embedded packet (JPEG, PNG, WebP, HEIF, TIFF) and a ``.xmp`` sidecar.

XMP is XML written by many tools and sometimes by hand, so it is treated as hostile: it is parsed with
defusedxml (entity declarations are refused, which stops billion-laughs and external entities), is
size-capped, and every failure becomes a ``MetadataError`` whose message is the per-file reason.

Time, by priority: ``exif:DateTimeOriginal``, ``photoshop:DateCreated``, ``xmp:CreateDate``; an invalid
or implausible value falls through to the next tag. Namespaces are matched by URI, not by prefix.
Partial dates (``1998``, ``1998-07``, ``1998-07-14``) keep their precision and are placed at 12:00:00
local time on the first possible day: midday keeps the calendar date stable through any later zone
conversion (up to ±12 h), where midnight would move it to the day before west of the zone.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET

from homeroll.daemon.ingest import timeinfo
from homeroll.daemon.ingest.metadata import valid_position

MAX_XMP_BYTES = 2 * 1024 * 1024

NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_EXIF = "http://ns.adobe.com/exif/1.0/"
NS_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
NS_XMP = "http://ns.adobe.com/xap/1.0/"

# (qualified name in ElementTree's {uri}local form, the name reported in EmbeddedTime.tag), by priority.
TIME_TAGS = (
    (f"{{{NS_EXIF}}}DateTimeOriginal", "exif:DateTimeOriginal"),
    (f"{{{NS_PHOTOSHOP}}}DateCreated", "photoshop:DateCreated"),
    (f"{{{NS_XMP}}}CreateDate", "xmp:CreateDate"),
)
_GPS_LAT = f"{{{NS_EXIF}}}GPSLatitude"
_GPS_LON = f"{{{NS_EXIF}}}GPSLongitude"
_RDF_RDF = f"{{{NS_RDF}}}RDF"
_RDF_VALUE_TAGS = (f"{{{NS_RDF}}}value", f"{{{NS_RDF}}}li")
_WANTED = {qname for qname, _ in TIME_TAGS} | {_GPS_LAT, _GPS_LON}

# People type XMP/IPTC dates (scanned prints, archives), so the floor is lower than EXIF's 1990.
EARLIEST_HUMAN = datetime(1900, 1, 1)
EPOCH = datetime(1970, 1, 1)
MIDDAY = 12


class MetadataError(Exception):
    """XMP or IPTC that cannot be used; the message is the per-file reason shown to the user."""


@dataclass(frozen=True)
class EmbeddedTime:
    local: datetime  # naive wall-clock time; 12:00:00 when only a date (or month/year) is known
    offset_min: int | None  # UTC offset when the value had one (0 is a real offset)
    tag: str  # e.g. "exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate", "IPTC:DateCreated"
    precision: str = "time"  # "time" | "day" | "month" | "year"


@dataclass(frozen=True)
class XmpFacts:
    time: EmbeddedTime | None
    lat: float | None
    lon: float | None


NO_FACTS = XmpFacts(None, None, None)


def plausible_human(local: datetime, now: datetime | None = None, *, offset_min: int | None = None) -> bool:
    """A typed-in date that could be a capture time: from 1900 to a day after ``now``, not the epoch default.

    The epoch check rejects 1970-01-01T00:00:00 with Z or no zone, and also any zoned value that is that
    same instant (a zero timestamp rendered in the writer's zone, e.g. 1970-01-01T01:00:00+01:00).
    """
    now = timeinfo.reference_now(now)  # the same "now" as timeinfo.plausible, wrong clock included
    if not EARLIEST_HUMAN <= local <= now + timedelta(days=1):
        return False
    instant = local if offset_min is None else local - timedelta(minutes=offset_min)
    return instant != EPOCH


_DATE_RE = re.compile(
    r"(?P<y>\d{4})"
    r"(?:(?P<sep>[-:])(?P<mo>\d{2})"
    r"(?:(?P=sep)(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?"
    # Apple's SpatialCapture writes "…GMT+02:00"; the prefix adds nothing, the offset is what counts.
    r"\s*(?P<tz>Z|(?:GMT|UTC)?[+-]\d{2}:?\d{2})?"
    r")?)?)?",
    re.IGNORECASE,
)


def parse_xmp_date(value: str, tag: str, now: datetime | None = None) -> EmbeddedTime | None:
    """An XMP date value (ISO 8601 subset of the XMP spec) -> EmbeddedTime, or None if invalid/implausible.

    EXIF-style separators (``2008:05:25 19:31:26``) are tolerated: some writers copy EXIF into XMP verbatim.
    """
    match = _DATE_RE.fullmatch(value.strip().strip("\x00"))
    if not match:
        return None
    parts = match.groupdict()
    offset = None
    if parts["tz"]:
        zone = parts["tz"].upper()
        if zone == "Z":
            offset = 0
        else:
            offset = timeinfo.parse_offset(zone.removeprefix("GMT").removeprefix("UTC"))
            # e.g. Photoshop CS4's "+1:00": an unusable zone makes the whole value unusable.
            if offset is None:
                return None
    if parts["h"] is not None:
        precision = "time"
    elif parts["d"] is not None:
        precision = "day"
    elif parts["mo"] is not None:
        precision = "month"
    else:
        precision = "year"
    try:
        if precision == "time":
            fraction = parts["f"] or ""
            local = datetime(
                int(parts["y"]),
                int(parts["mo"]),
                int(parts["d"]),
                int(parts["h"]),
                int(parts["mi"]),
                int(parts["s"] or 0),
                int((fraction + "000000")[:6]),
            )
        else:
            local = datetime(int(parts["y"]), int(parts["mo"] or 1), int(parts["d"] or 1), MIDDAY)
    except ValueError:  # 0000-00-00, month 13, 25:00…
        return None
    if not plausible_human(local, now, offset_min=offset):
        return None
    return EmbeddedTime(local, offset, tag, precision)


# XMP's GPSCoordinate is "DDD,MM,SSk" or "DDD,MM.mmk" (k = N/S/E/W); plain signed decimals occur too.
_GPS_DMS_RE = re.compile(
    r"(?P<deg>\d{1,3}(?:\.\d+)?)\s*,\s*(?P<min>\d{1,2}(?:\.\d+)?)"
    r"(?:\s*,\s*(?P<sec>\d{1,2}(?:\.\d+)?))?\s*(?P<ref>[NSEW])",
    re.IGNORECASE,
)
_GPS_DECIMAL_RE = re.compile(r"[+-]?\d{1,3}(?:\.\d+)?")


def parse_gps_coordinate(value: str, axis: str) -> float | None:
    """One XMP GPS coordinate as signed decimal degrees; ``axis`` is "lat" or "lon". None if malformed."""
    text = value.strip()
    if _GPS_DECIMAL_RE.fullmatch(text):
        return float(text)
    match = _GPS_DMS_RE.fullmatch(text)
    if not match:
        return None
    ref = match["ref"].upper()
    if ref not in ("NS" if axis == "lat" else "EW"):  # "45,10N" as a longitude is a writer bug, not a place
        return None
    minutes = float(match["min"])
    seconds = float(match["sec"] or 0)
    if minutes >= 60 or seconds >= 60:
        return None
    degrees = float(match["deg"]) + minutes / 60 + seconds / 3600
    return -degrees if ref in "SW" else degrees


def _decode(packet: bytes) -> str:
    """XMP may be UTF-8, UTF-16 or UTF-32 (either byte order), with or without a BOM."""
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\xfe\xff", "utf-16"),
        (b"\xff\xfe", "utf-16"),
    ):
        if packet.startswith(bom):
            return packet.decode(codec, "replace")
    head = packet[:4].ljust(4, b"\x01")
    if head[:3] == b"\x00\x00\x00" and head[3]:
        codec = "utf-32-be"
    elif head[0] and head[1:4] == b"\x00\x00\x00":
        codec = "utf-32-le"
    elif not head[0] and head[1]:
        codec = "utf-16-be"
    elif head[0] and not head[1]:
        codec = "utf-16-le"
    else:
        codec = "utf-8"
    # A stray Latin-1 byte in a caption must not cost the date: undecodable bytes become U+FFFD.
    return packet.decode(codec, "replace")


_PACKET_END_RE = re.compile(r"<\?xpacket\s+end\s*=[^>]*\?>")


def _clean(text: str) -> tuple[str, int]:
    """The XML to parse and how many lines were cut off its start (to report true line numbers)."""
    # U+0000 is never legal in XML, so dropping it (in-place-edit padding, C-string ends) loses nothing.
    text = text.replace("\x00", "").lstrip("\ufeff")
    stripped = text.lstrip()
    lines_cut = text[: len(text) - len(stripped)].count("\n")
    end = _PACKET_END_RE.search(stripped)
    if end:  # whatever follows the packet trailer (a JPEG's junk, a second packet) is not XMP
        stripped = stripped[: end.end()]
    return stripped.rstrip(), lines_cut


def _value(element: ET.Element) -> str | None:
    text = (element.text or "").strip()
    if text:
        return text
    # A qualified value (rdf:value) or an array (first rdf:li) instead of a simple one.
    for sub in element.iter():
        if sub.tag in _RDF_VALUE_TAGS and (sub.text or "").strip():
            return sub.text.strip()
    return None


def _properties(root: ET.Element) -> dict[str, list[str]]:
    """The wanted top-level properties, each with its values in document order."""
    found: dict[str, list[str]] = {}
    for rdf in root.iter(_RDF_RDF):  # the root itself when a packet starts at <rdf:RDF>
        # Only the node elements directly under rdf:RDF describe this file; an rdf:Description nested
        # deeper (xmpMM:Pantry, ingredients, history) describes some other document's dates.
        for node in rdf:
            for name, value in node.attrib.items():
                if name in _WANTED and value.strip():
                    found.setdefault(name, []).append(value.strip())
            for child in node:
                if child.tag in _WANTED:
                    value = _value(child)
                    if value:
                        found.setdefault(child.tag, []).append(value)
    return found


def _parse_xml(text: str, lines_cut: int) -> ET.Element:
    try:
        return SafeET.fromstring(text, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.EntitiesForbidden:
        raise MetadataError("XMP refused (entity declarations)") from None
    except defusedxml.ExternalReferenceForbidden:
        raise MetadataError("XMP refused (external reference)") from None
    except defusedxml.DefusedXmlException as exc:
        raise MetadataError(f"XMP refused ({type(exc).__name__})") from None
    except ET.ParseError as exc:
        line = exc.position[0] + lines_cut if exc.position else "?"
        raise MetadataError(f"malformed XMP (not well-formed XML at line {line})") from None


def _facts(packet: bytes | str, now: datetime | None) -> XmpFacts:
    size = len(packet) if isinstance(packet, (bytes, bytearray)) else len(packet.encode("utf-8", "replace"))
    if size > MAX_XMP_BYTES:
        raise MetadataError(f"XMP too large ({size} bytes)")
    text = _decode(bytes(packet)) if isinstance(packet, (bytes, bytearray)) else packet
    text, lines_cut = _clean(text)
    if not text:
        return NO_FACTS  # padding only: an empty packet is "no XMP", not a broken one
    props = _properties(_parse_xml(text, lines_cut))

    time = None
    for qname, tag in TIME_TAGS:
        for value in props.get(qname, ()):
            time = parse_xmp_date(value, tag, now)
            if time:
                break
        if time:
            break

    lat = next(
        (c for v in props.get(_GPS_LAT, ()) if (c := parse_gps_coordinate(v, "lat")) is not None), None
    )
    lon = next(
        (c for v in props.get(_GPS_LON, ()) if (c := parse_gps_coordinate(v, "lon")) is not None), None
    )
    lat, lon = valid_position(lat, lon)
    return XmpFacts(time, lat, lon)


def parse_xmp(packet: bytes | str, now: datetime | None = None) -> XmpFacts:
    """Capture time and GPS position from one XMP packet or sidecar. Raises only MetadataError.

    A well-formed packet without the tags gives ``XmpFacts(None, None, None)``; malformed GPS is "no
    position", not an error. ``now`` is for tests (the "more than a day in the future" rule).
    """
    try:
        return _facts(packet, now)
    except MetadataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure is still only this file's XMP
        raise MetadataError(f"malformed XMP ({type(exc).__name__})") from None


def _as_bytes(value: Any) -> bytes | None:
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, tuple) and all(isinstance(v, int) and 0 <= v < 256 for v in value):
        return bytes(value)  # a TIFF XMP tag stored as BYTE instead of UNDEFINED
    return None


def embedded_packet(image: Any) -> bytes | None:
    """The raw XMP packet of an opened image, or None if it carries none.

    Pillow and pillow-heif put it in ``info["xmp"]`` (JPEG, WebP, HEIF, TIFF) or, for PNG, also in the
    iTXt key ``XML:com.adobe.xmp``; TIFF tag 700 is read directly when a plugin did not copy it.
    """
    try:
        info = getattr(image, "info", None) or {}
        for key in ("xmp", "XML:com.adobe.xmp"):
            packet = _as_bytes(info.get(key))
            if packet:
                return packet
        tags = getattr(image, "tag_v2", None)
        if tags is not None and 700 in tags:
            packet = _as_bytes(tags.get(700))
            if packet:
                return packet
        return None
    except Exception as exc:  # noqa: BLE001 - a broken TIFF directory, say
        raise MetadataError(f"unreadable XMP ({type(exc).__name__})") from None


def read_sidecar(path: str | os.PathLike[str], now: datetime | None = None) -> XmpFacts:
    """parse_xmp on a ``.xmp`` sidecar file, reading at most MAX_XMP_BYTES + 1 bytes of it."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_XMP_BYTES + 1)
            if len(data) > MAX_XMP_BYTES:
                raise MetadataError(f"XMP too large ({os.fstat(handle.fileno()).st_size} bytes)")
    except OSError as exc:
        raise MetadataError(f"unreadable XMP sidecar ({exc.strerror or type(exc).__name__})") from None
    return parse_xmp(data, now)
