"""The library as columns: one numpy array per field, rows sorted by time.

Selection runs over 100k items on a Pi, so it reads the DB once into compact arrays (about 60 bytes
per item) and every rule works on row indices into them. Nothing here decodes an image.

Not every date is a day: a scan in "1998 Summer holiday" is dated to the year only (stored as 1 January,
midday). Such rows stay in the library (people memories and period memories use them) but
``day_based()`` leaves them out, and that is the library the day rules see, so a print from "1998"
never becomes an on-this-day memory, a birthday or a trip on 1 January.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store import sidecars as store_sidecars

#: taken_at_precision as stored in ``Library.precision`` (store_memories.SELECTION_SQL).
PRECISION_TIME, PRECISION_DAY, PRECISION_MONTH, PRECISION_YEAR = 0, 1, 2, 3

#: A night belongs to the evening before it: photos before this hour count for the previous day
#: (applied in SQL, store_memories.SELECTION_SQL).
NIGHT_OWL_HOURS = 4


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
    named_count: np.ndarray | None = None                                   # int8 named people per row
    precision: np.ndarray | None = None    # int8 PRECISION_*; None = every date is precise to the second
    mtime_only: np.ndarray | None = None   # bool: the file's mtime was the only date it had
    #: row -> (root, relpath) of its files, for the rows dated only to a month or year (period memories)
    imprecise_paths: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    #: (root, folder) -> title of the folders that carry their own title (Takeout albums)
    albums: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.precision is None:
            self.precision = np.zeros(len(self.ids), dtype=np.int8)
        if self.mtime_only is None:
            self.mtime_only = np.zeros(len(self.ids), dtype=bool)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def imprecise(self) -> np.ndarray:
        """Rows dated only to a month or a year: never in a day-based memory."""
        return self.precision >= PRECISION_MONTH

    def day_based(self) -> tuple[Library, np.ndarray]:
        """(the library of rows dated at least to the day, their rows in this library).

        Without imprecise rows (most libraries) this is the library itself: no copy.
        """
        keep = np.flatnonzero(~self.imprecise)
        if len(keep) == len(self):
            return self, keep
        return self.subset(keep), keep

    def subset(self, rows: np.ndarray) -> Library:
        """The given rows (ascending) as a library of their own; people and places are shared."""
        new_row = np.full(len(self), -1, dtype=np.int64)
        new_row[rows] = np.arange(len(rows))
        sub = Library(
            ids=self.ids[rows], t=self.t[rows], day=self.day[rows], outing_day=self.outing_day[rows],
            lat=self.lat[rows], lon=self.lon[rows], place=self.place[rows], quality=self.quality[rows],
            faces=self.faces[rows], face_size=self.face_size[rows], phash=self.phash[rows],
            video=self.video[rows], places=self.places, people=self.people, precision=self.precision[rows],
            mtime_only=self.mtime_only[rows], albums=self.albums,
        )
        for pid, person_rows in self.person_rows.items():
            mapped = new_row[person_rows]
            mapped = mapped[mapped >= 0]
            if len(mapped):
                sub.person_rows[pid] = mapped
        sub.row_people = {int(new_row[r]): pids for r, pids in self.row_people.items() if new_row[r] >= 0}
        sub.imprecise_paths = {int(new_row[r]): p for r, p in self.imprecise_paths.items() if new_row[r] >= 0}
        if self.named_count is not None:
            sub.named_count = self.named_count[rows]
        return sub

    @property
    def has_gps(self) -> np.ndarray:
        return ~np.isnan(self.lat)

    def row_of(self) -> dict[int, int]:
        return {int(item_id): row for row, item_id in enumerate(self.ids)}

    def named(self, person_id: int) -> str | None:
        person = self.people.get(person_id)
        return person["name"] if person and person.get("name") else None


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


class _Columns(NamedTuple):
    """``store_memories.selection_rows`` turned into columns, named in the order of its SELECTION_SQL."""

    item_id: tuple[int, ...]
    is_video: tuple[int, ...]
    utc_seconds: tuple[float | None, ...]   # None: no UTC time and no offset
    day: tuple[int, ...]                    # ordinal of the local date
    outing_day: tuple[int, ...]             # the same, nights counted to the evening before
    lat: tuple[float | None, ...]
    lon: tuple[float | None, ...]
    place_id: tuple[int, ...]               # -1 = none
    quality: tuple[float | None, ...]
    sharpness: tuple[float | None, ...]
    exposure: tuple[float | None, ...]
    phash: tuple[str | None, ...]
    face_count: tuple[int, ...]
    width: tuple[int | None, ...]
    height: tuple[int | None, ...]
    taken_at_local: tuple[str, ...]
    precision: tuple[int, ...]              # PRECISION_*
    mtime_only: tuple[int, ...]


def _empty_library() -> Library:
    return Library(*(np.zeros(0, dtype=t) for t in (np.int64, np.float64, np.int32, np.int32, np.float64, np.float64,
                                                    np.int64, np.float32, np.int16, np.float32, np.uint64, bool)))


def _times(col: _Columns, rows: np.ndarray, zone: ZoneInfo) -> np.ndarray:
    """UTC seconds per row (all rows; filled in for the given ones that have no UTC time and no offset)."""
    t = np.array(col.utc_seconds, dtype=np.float64)
    for i in rows[np.isnan(t[rows])].tolist():  # the wall clock in the home zone
        t[i] = datetime.fromisoformat(col.taken_at_local[i][:19]).replace(tzinfo=zone).timestamp()
    return t


def _qualities(col: _Columns) -> np.ndarray:
    q = np.array(col.quality, dtype=np.float64)
    for i in np.flatnonzero(np.isnan(q)).tolist():
        q[i] = _base_quality(None, col.sharpness[i], col.exposure[i])
    return q


def _face_sizes(db: Database, col: _Columns) -> np.ndarray:
    """The largest face relative to the photo's short side, 0..1 (0 without faces or size)."""
    sizes = store_memories.face_sizes(db)
    short = np.minimum(np.array(col.width, dtype=np.float64), np.array(col.height, dtype=np.float64))
    face_px = np.array([sizes.get(i, 0) for i in col.item_id], dtype=np.float64) if sizes else np.zeros(len(short))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(np.where(short > 0, np.minimum(1.0, face_px / short), 0.0))


def load_library(db: Database, *, home_tz: str = "UTC", excluded_folders: list[str] | None = None) -> Library:
    """Read every usable item (not screenshots, messenger images or excluded folders) into arrays."""
    rows = store_memories.selection_rows(db)
    if not rows:
        return _empty_library()
    col = _Columns._make(zip(*rows, strict=True))
    del rows
    ids = np.array(col.item_id, dtype=np.int64)
    excluded = store_memories.excluded_item_ids(db, excluded_folders or [])
    kept = np.flatnonzero(~np.isin(ids, list(excluded))) if excluded else np.arange(len(ids))
    if len(kept) == 0:
        return _empty_library()
    t = _times(col, kept, ZoneInfo(home_tz))
    order = kept[np.argsort(t[kept], kind="stable")]
    lat = np.array(col.lat, dtype=np.float64)
    lon = np.array(col.lon, dtype=np.float64)
    no_gps = np.isnan(lat) | np.isnan(lon) | ((lat == 0) & (lon == 0))
    lat[no_gps] = np.nan
    lon[no_gps] = np.nan
    lib = Library(
        ids=ids[order], t=t[order], day=np.array(col.day, dtype=np.int32)[order],
        outing_day=np.array(col.outing_day, dtype=np.int32)[order], lat=lat[order], lon=lon[order],
        place=np.array(col.place_id, dtype=np.int64)[order], quality=_qualities(col).astype(np.float32)[order],
        faces=np.array(col.face_count, dtype=np.int16)[order],
        face_size=_face_sizes(db, col).astype(np.float32)[order],
        phash=np.array([_hash(h) for h in col.phash], dtype=np.uint64)[order],
        video=np.array(col.is_video, dtype=bool)[order], precision=np.array(col.precision, dtype=np.int8)[order],
        mtime_only=np.array(col.mtime_only, dtype=bool)[order],
    )
    lib.places = store_memories.places(db)
    lib.albums = store_sidecars.albums(db)
    imprecise = np.flatnonzero(lib.precision >= PRECISION_DAY)
    if len(imprecise):
        # only these rows need their folders (for period memories): scans are few, a phone roll has none.
        # Day-dated ones too: a scanned "2005-12-24 Christmas" folder is one moment to the day rules.
        found = store_memories.folder_paths(db, lib.ids[imprecise].tolist())
        lib.imprecise_paths = {int(r): found[int(lib.ids[r])] for r in imprecise if int(lib.ids[r]) in found}
    lib.people = store_memories.people(db)
    row_of = lib.row_of()
    by_person: dict[int, list[int]] = defaultdict(list)
    row_people: dict[int, list[int]] = defaultdict(list)
    for item_id, person_id in store_memories.face_links(db):
        row = row_of.get(item_id)
        if row is not None:
            by_person[person_id].append(row)
            row_people[row].append(person_id)
    lib.person_rows = {pid: np.unique(np.asarray(rows, dtype=np.int64)) for pid, rows in by_person.items()}
    lib.row_people = {row: tuple(sorted(pids)) for row, pids in row_people.items()}
    lib.named_count = np.zeros(len(lib), dtype=np.int8)
    for row, pids in lib.row_people.items():
        lib.named_count[row] = min(100, sum(1 for p in pids if lib.named(p)))
    return lib


def _hash(value: str | None) -> int:
    try:
        return int(value, 16) & 0xFFFFFFFFFFFFFFFF if value else 0
    except ValueError:
        return 0


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
