"""The library as columns: one numpy array per field, rows sorted by time.

Selection runs over 100k items on a Pi, so it reads the DB once into compact arrays (about 60 bytes
per item) and every rule works on row indices into them. Nothing here decodes an image.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from homeroll.daemon.store import memories as store
from sqlite_utils import Database

#: A night belongs to the evening before it: photos before this hour count for the previous day.
NIGHT_OWL_HOURS = 4
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass
class Library:
    ids: np.ndarray            # int64 item ids
    t: np.ndarray              # float64 UTC seconds, ascending
    day: np.ndarray            # int32 ordinal of the local date where the photo was taken
    outing_day: np.ndarray     # int32 ordinal of the local date, nights counted to the evening before
    lat: np.ndarray            # float64, NaN = no GPS
    lon: np.ndarray
    place: np.ndarray          # int64 places.id, -1 = none
    quality: np.ndarray        # float32 0..1 base quality from indexing
    faces: np.ndarray          # int16 face count
    face_size: np.ndarray      # float32 largest face relative to the short side, 0..1
    phash: np.ndarray          # uint64, 0 = unknown
    video: np.ndarray          # bool
    places: dict[int, dict[str, Any]] = field(default_factory=dict)
    people: dict[int, dict[str, Any]] = field(default_factory=dict)
    row_people: dict[int, tuple[int, ...]] = field(default_factory=dict)   # row -> person ids
    person_rows: dict[int, np.ndarray] = field(default_factory=dict)      # person id -> rows

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_gps(self) -> np.ndarray:
        return ~np.isnan(self.lat)

    def row_of(self) -> dict[int, int]:
        return {int(item_id): row for row, item_id in enumerate(self.ids)}

    def named(self, person_id: int) -> str | None:
        person = self.people.get(person_id)
        return person["name"] if person and person.get("name") else None


def _utc_seconds(local: str, offset: int | None, utc: str | None, zone: ZoneInfo) -> float:
    if utc:
        moment = datetime.fromisoformat(utc)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    naive = datetime.fromisoformat(local)
    if offset is not None:
        return (naive - timedelta(minutes=offset)).replace(tzinfo=UTC).timestamp()
    return naive.replace(tzinfo=zone).timestamp()


def _base_quality(quality: float | None, sharpness: float | None, exposure: float | None) -> float:
    """Indexing's quality score; where it is missing, a blend of sharpness and exposure; else neutral."""
    if quality is not None:
        return float(quality)
    parts = []
    if sharpness is not None:
        parts.append(min(1.0, math.log1p(max(sharpness, 0.0)) / math.log1p(1000.0)))
    if exposure is not None:
        parts.append(float(exposure))
    return sum(parts) / len(parts) if parts else 0.5


def load_library(db: Database, *, home_tz: str = "UTC", excluded_folders: list[str] | None = None) -> Library:
    """Read every usable item (not screenshots, messenger images or excluded folders) into arrays."""
    zone = ZoneInfo(home_tz)
    excluded = store.excluded_item_ids(db, excluded_folders or [])
    sizes = store.face_sizes(db)
    cols: dict[str, list] = defaultdict(list)
    for (item_id, kind, local, offset, utc, lat, lon, place_id, quality, sharpness, exposure, phash,
         face_count, width, height) in store.selection_rows(db):
        if item_id in excluded:
            continue
        try:
            seconds = _utc_seconds(local, offset, utc, zone)
            local_dt = datetime.fromisoformat(local[:19])
        except ValueError:
            continue
        cols["ids"].append(item_id)
        cols["t"].append(seconds)
        cols["day"].append(local_dt.toordinal())
        cols["outing_day"].append((local_dt - timedelta(hours=NIGHT_OWL_HOURS)).toordinal())
        has_gps = lat is not None and lon is not None and not (lat == 0 and lon == 0)
        cols["lat"].append(lat if has_gps else math.nan)
        cols["lon"].append(lon if has_gps else math.nan)
        cols["place"].append(place_id if place_id is not None else -1)
        cols["quality"].append(_base_quality(quality, sharpness, exposure))
        cols["faces"].append(face_count or 0)
        short = min(width or 0, height or 0)
        cols["face_size"].append(min(1.0, sizes.get(item_id, 0) / short) if short else 0.0)
        try:
            cols["phash"].append(int(phash, 16) & 0xFFFFFFFFFFFFFFFF if phash else 0)
        except ValueError:
            cols["phash"].append(0)
        cols["video"].append(kind == "video")
    order = np.argsort(np.asarray(cols["t"], dtype=np.float64), kind="stable")

    def arr(name: str, dtype: Any) -> np.ndarray:
        values = cols.pop(name, None)  # free each list as soon as its array exists
        return np.asarray(values, dtype=dtype)[order] if values else np.zeros(0, dtype=dtype)

    lib = Library(
        ids=arr("ids", np.int64), t=arr("t", np.float64), day=arr("day", np.int32),
        outing_day=arr("outing_day", np.int32), lat=arr("lat", np.float64), lon=arr("lon", np.float64),
        place=arr("place", np.int64), quality=arr("quality", np.float32), faces=arr("faces", np.int16),
        face_size=arr("face_size", np.float32), phash=arr("phash", np.uint64), video=arr("video", bool),
    )
    lib.places = store.places(db)
    lib.people = store.people(db)
    row_of = lib.row_of()
    by_person: dict[int, list[int]] = defaultdict(list)
    row_people: dict[int, list[int]] = defaultdict(list)
    for item_id, person_id in store.face_links(db):
        row = row_of.get(item_id)
        if row is not None:
            by_person[person_id].append(row)
            row_people[row].append(person_id)
    lib.person_rows = {pid: np.unique(np.asarray(rows, dtype=np.int64)) for pid, rows in by_person.items()}
    lib.row_people = {row: tuple(sorted(pids)) for row, pids in row_people.items()}
    return lib


def ordinal_to_date(ordinal: int) -> date:
    return date.fromordinal(int(ordinal))


def haversine_km(lat1: np.ndarray | float, lon1: np.ndarray | float,
                 lat2: np.ndarray | float, lon2: np.ndarray | float) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def moments(lib: Library, rows: np.ndarray, burst_seconds: float) -> int:
    """How many distinct moments rows hold: frames within burst_seconds of the previous one count once."""
    if len(rows) == 0:
        return 0
    times = lib.t[rows]
    return int(1 + np.count_nonzero(np.diff(times) > burst_seconds))


def sessions(times: np.ndarray, gap_seconds: float) -> np.ndarray:
    """Session number per row (times ascending): a new session starts after a gap longer than gap_seconds."""
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    breaks = np.concatenate(([0], (np.diff(times) > gap_seconds).astype(np.int64)))
    return np.cumsum(breaks)
