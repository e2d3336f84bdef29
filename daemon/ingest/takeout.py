"""Reading a Google Takeout sidecar: when (UTC seconds), where, and who Google said was in the photo.

A Takeout export often has photos whose EXIF was stripped (uploads from messengers, "storage saver"
copies), so the JSON beside them is their only date. ``photoTakenTime.timestamp`` is UTC seconds;
the wall time comes from the zone at the photo's position, else the home zone. A ``geoData`` of
0.0, 0.0 means "no place". The ``url`` fields are never fetched: nothing here opens a socket.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from homeroll.daemon.ingest.metadata import valid_position
from homeroll.daemon.ingest.sidecars import MAX_SIDECAR_BYTES
from homeroll.daemon.ingest.xmp import MetadataError, plausible_human


@dataclass(frozen=True)
class TakeoutFacts:
    taken_utc: datetime | None
    lat: float | None
    lon: float | None
    people: tuple[str, ...]
    title: str | None


def _read_bounded(path: str, what: str) -> bytes:
    """A sidecar's bytes, refusing a huge one before reading it (a per-file reason, not a stalled worker)."""
    try:
        size = os.stat(path).st_size
        if size > MAX_SIDECAR_BYTES:
            raise MetadataError(f"{what} too large ({size} bytes, limit {MAX_SIDECAR_BYTES})")
        with open(path, "rb") as handle:
            return handle.read(MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        raise MetadataError(f"{what} unreadable ({exc.strerror or exc})") from None


def _load(path: str, what: str) -> dict:
    raw = _read_bounded(path, what)
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MetadataError(f"malformed {what} ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise MetadataError(f"malformed {what} (not a JSON object)")
    return data


def _timestamp(value: object, now: datetime | None) -> datetime | None:
    if not isinstance(value, dict):
        return None
    raw = value.get("timestamp")
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(seconds) or seconds <= 0:  # 0 is Google's "unknown", not 1970
        return None
    try:
        utc = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return utc if plausible_human(utc.replace(tzinfo=None), now) else None


def _position(value: object) -> tuple[float | None, float | None]:
    if not isinstance(value, dict):
        return None, None
    try:
        lat, lon = float(value.get("latitude")), float(value.get("longitude"))
    except (TypeError, ValueError):
        return None, None
    return valid_position(lat, lon)


def read_sidecar(path: str, now: datetime | None = None) -> TakeoutFacts:
    """Parse one photo sidecar. Raises MetadataError (the per-file reason) for a malformed or huge one."""
    data = _load(path, "Takeout JSON")
    taken = _timestamp(data.get("photoTakenTime"), now)
    lat, lon = _position(data.get("geoData"))
    if lat is None:
        lat, lon = _position(data.get("geoDataExif"))
    people: list[str] = []
    for person in data.get("people") or []:
        name = person.get("name") if isinstance(person, dict) else None
        if isinstance(name, str) and name.strip() and name.strip() not in people:
            people.append(name.strip()[:200])
    title = data.get("title") if isinstance(data.get("title"), str) else None
    return TakeoutFacts(taken, lat, lon, tuple(people[:50]), title)


def read_album(path: str) -> str | None:
    """An album folder's own title from its ``metadata.json`` (None when it has none)."""
    data = _load(path, "album metadata.json")
    title = data.get("title")
    if isinstance(title, str) and title.strip():
        return " ".join(title.split())[:200]
    return None
