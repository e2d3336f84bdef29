"""Excluded periods and places: which photos they keep out of every new memory, and how that reads.

"Skip the months Grandpa was in hospital", "nothing from the ex's street": the household says it once and
selection leaves those photos out before any rule runs (memories.household), so no trip, gathering,
"through the years" or year in review can pick, count or title them. Approved and exported memories are
never re-curated, so an exclusion changes only suggestions and what comes later.

What matches:
- a period, by the photo's local day (``Library.day``, the day where it was taken). A photo dated only to a
  month or a year is left out only when that whole month or year is inside the period: a scan from "1998"
  is not known to be from the fortnight excluded, and leaving out every scan of a year for it would hide
  what the household did not rule out;
- a circle, by distance from its centre. A photo without GPS is never in a circle: nothing says where it is;
- a named place, by the photo's stored place: its city, region or country, ignoring case and accents, so
  "Porto", "porto" and "Portugal" each work (a region named like its city, as Lisbon, takes the region too).

The same matching counts, for ``memories show`` and the listing, how many photos each exclusion leaves out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.memories.hidden import selection_text
from homeroll.daemon.memories.library import PRECISION_MONTH, PRECISION_YEAR, Library, haversine_km
from homeroll.daemon.store import exclusions as store_exclusions
from homeroll.daemon.store import memories as store_memories

__all__ = ["DEFAULT_RADIUS_KM", "describe", "exclude", "left_out", "left_out_lines", "parse_period", "parse_point",
           "photo_counts", "rows_to_drop", "spec_from_text", "unexclude"]

#: A hospital, a house and its street: the circle `--near` draws without `--radius-km`.
DEFAULT_RADIUS_KM = 0.5

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_POINT = re.compile(r"\s*([-+]?\d+(?:\.\d*)?)\s*,\s*([-+]?\d+(?:\.\d*)?)\s*")


@dataclass
class _Photos:
    """The columns an exclusion is judged on; a Library has the same names, so either can be matched."""

    day: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    place: np.ndarray
    precision: np.ndarray


def _fold(text: str | None) -> str:
    """'Lübeck' and 'LUBECK' alike: a name typed on a keyboard without the accent still matches."""
    decomposed = unicodedata.normalize("NFKD", (text or "").strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _period_rows(photos: _Photos | Library, start: str, end: str) -> np.ndarray:
    lo, hi = date.fromisoformat(start).toordinal(), date.fromisoformat(end).toordinal()
    last = photos.day.astype(np.int64)
    for row in np.flatnonzero(photos.precision >= PRECISION_MONTH).tolist():
        # the day an imprecise date is stored on is the first of its month or year: it could be any up to the last
        first = date.fromordinal(int(photos.day[row]))
        if photos.precision[row] >= PRECISION_YEAR:
            last[row] = date(first.year, 12, 31).toordinal()
        else:
            following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
            last[row] = following.toordinal() - 1
    return (photos.day >= lo) & (last <= hi)


def _named_rows(photos: _Photos | Library, name: str, places: dict[int, dict[str, Any]]) -> np.ndarray:
    wanted = _fold(name)
    ids = [pid for pid, p in places.items() if wanted in {_fold(p.get(k)) for k in ("city", "region", "country")}]
    return np.isin(photos.place, ids) if ids else np.zeros(len(photos.day), dtype=bool)


def _circle_rows(photos: _Photos | Library, lat: float, lon: float, radius_km: float) -> np.ndarray:
    inside = np.zeros(len(photos.day), dtype=bool)
    located = np.flatnonzero(~np.isnan(photos.lat))
    if len(located):
        inside[located] = haversine_km(lat, lon, photos.lat[located], photos.lon[located]) <= radius_km
    return inside


def _matches(photos: _Photos | Library, exclusion: dict[str, Any], places: dict[int, dict[str, Any]]) -> np.ndarray:
    if exclusion["kind"] == "period":
        return _period_rows(photos, exclusion["start"], exclusion["end"])
    if exclusion.get("place_name"):
        return _named_rows(photos, exclusion["place_name"], places)
    return _circle_rows(photos, exclusion["lat"], exclusion["lon"], exclusion["radius_km"])


def rows_to_drop(lib: Library, exclusions: list[dict[str, Any]]) -> np.ndarray:
    """Library rows any of the exclusions (store.exclusions rows) leaves out."""
    drop = np.zeros(len(lib), dtype=bool)
    for exclusion in exclusions:
        drop |= _matches(lib, exclusion, lib.places)
    return drop


# -- reading the photos for a count ----------------------------------------------------------------------------


def _photos(db: Database, start: date | None = None, end: date | None = None) -> tuple[np.ndarray, _Photos]:
    rows = store_exclusions.photos(db, start, end)
    if not rows:
        empty = np.zeros(0)
        return empty.astype(np.int64), _Photos(empty.astype(np.int32), empty, empty, empty.astype(np.int64),
                                               empty.astype(np.int8))
    ids, day, lat, lon, place, precision = zip(*rows, strict=True)
    return np.array(ids, dtype=np.int64), _Photos(
        np.array(day, dtype=np.int32), np.array(lat, dtype=np.float64), np.array(lon, dtype=np.float64),
        np.array(place, dtype=np.int64), np.array(precision, dtype=np.int8))


def photo_counts(db: Database, exclusions: list[dict[str, Any]]) -> dict[int, int]:
    """exclusion id -> how many photos of the whole library it leaves out (one read for all of them; only
    the dates they cover when all are periods, so adding one period reads its days, not the library)."""
    if not exclusions:
        return {}
    if all(e["kind"] == "period" for e in exclusions):
        start = date.fromisoformat(min(e["start"] for e in exclusions))
        _, photos = _photos(db, start, date.fromisoformat(max(e["end"] for e in exclusions)))
    else:
        _, photos = _photos(db)
    places = store_memories.places(db)
    return {e["id"]: int(np.count_nonzero(_matches(photos, e, places))) for e in exclusions}


def left_out(db: Database, memory: dict[str, Any]) -> list[dict[str, Any]]:
    """What each exclusion left out of a memory's dates (store.memories.get_memory's dict), for `memories show`.

    ``photos`` counts the usable photos of its dates that the exclusion matches; ``in_memory`` how many of its
    picks it matches, more than 0 only for a memory decided before the exclusion (selection keeps those as they
    were). Exclusions that match none of its dates' photos are not listed.
    """
    exclusions = store_exclusions.list_exclusions(db)
    if not exclusions:
        return []
    ids, photos = _photos(db, date.fromisoformat(memory["start"][:10]), date.fromisoformat(memory["end"][:10]))
    picks = np.isin(ids, [m["item_id"] for m in memory.get("media", [])])
    places = store_memories.places(db)
    out = []
    for e in exclusions:
        hit = _matches(photos, e, places)
        if hit.any():
            out.append({"exclusion_id": e["id"], "kind": e["kind"], "what": describe(e), "reason": e["reason"],
                        "photos": int(np.count_nonzero(hit)), "in_memory": int(np.count_nonzero(hit & picks)),
                        "created_at": e["created_at"], "created_by": e["created_by"]})
    return out


def left_out_lines(entries: list[dict[str, Any]]) -> list[str]:
    """'Left out because: …' per entry of ``left_out``; a memory decided before says what it kept instead."""
    lines = []
    for entry in entries:
        why = f"{entry['what']} (exclusion {entry['exclusion_id']}"
        why += f": {entry['reason']})" if entry["reason"] else ")"
        photos = f"{entry['photos']} photo{'s' if entry['photos'] != 1 else ''} of its dates"
        if entry["in_memory"]:
            lines.append(f"Kept although excluded: {why}: {entry['in_memory']} of its picks, decided before the "
                         f"exclusion (`homeroll memories remove` takes a photo out)")
        else:
            lines.append(f"Left out because: {why}: {photos}")
    return lines


def describe(exclusion: dict[str, Any]) -> str:
    """How an exclusion reads: 'dates 2023-02-01..2023-03-15', 'place Porto', 'within 0.5 km of 38.72,-9.14'."""
    if exclusion["kind"] == "period":
        start, end = exclusion["start"], exclusion["end"]
        return f"date {start}" if start == end else f"dates {start}..{end}"
    if exclusion.get("place_name"):
        return f"place {exclusion['place_name']}"
    return f"within {exclusion['radius_km']:g} km of {exclusion['lat']:g},{exclusion['lon']:g}"


# -- the household's say, then a re-selection --------------------------------------------------------------------


def parse_period(text: str) -> tuple[date, date]:
    """'2023-02-01..2023-03-15' or one day '2023-02-01' -> (start, end). The order is checked on storing."""
    parts = [p.strip() for p in text.strip().split("..")]
    if len(parts) > 2 or not all(_DAY.fullmatch(p) for p in parts):
        raise UserError(f"a period is YYYY-MM-DD..YYYY-MM-DD or one day YYYY-MM-DD, not {text!r}")
    try:
        days = [date.fromisoformat(p) for p in parts]
    except ValueError as exc:
        raise UserError(f"{text!r} is not a real date: {exc}") from None
    return days[0], days[-1]


def parse_point(text: str) -> tuple[float, float]:
    """'38.72,-9.14' -> (38.72, -9.14); the range is checked on storing."""
    found = _POINT.fullmatch(text or "")
    if not found:
        raise UserError(f"a point is LAT,LON in degrees (e.g. 38.72,-9.14), not {text!r}")
    return float(found[1]), float(found[2])


def spec_from_text(text: str) -> dict[str, str]:
    """What one line typed in the TUI names: a period (it starts like a date), a point, or else a place name."""
    text = (text or "").strip()
    if not text:
        raise UserError("say what to exclude: a period YYYY-MM-DD..YYYY-MM-DD, a place name, or LAT,LON")
    if re.match(r"\d{4}-", text):
        return {"period": text}
    if _POINT.fullmatch(text):
        return {"near": text}
    return {"place": text}


def _store(db: Database, period: str | None, place: str | None, near: str | None, radius_km: float | None,
           reason: str | None) -> int:
    given = [name for name, value in (("a period", period), ("--place", place), ("--near", near)) if value]
    if not given:
        raise UserError("say what to exclude: a period YYYY-MM-DD..YYYY-MM-DD, --place NAME or --near LAT,LON")
    if len(given) > 1:
        raise UserError(f"exclude one thing at a time: {' and '.join(given)} were both given")
    if radius_km is not None and not near:
        raise UserError("--radius-km goes with --near LAT,LON")
    if period:
        start, end = parse_period(period)
        return store_exclusions.add_period(db, start, end, reason)
    if place:
        return store_exclusions.add_place(db, place_name=place, reason=reason)
    lat, lon = parse_point(near or "")
    radius = DEFAULT_RADIUS_KM if radius_km is None else radius_km
    return store_exclusions.add_place(db, lat=lat, lon=lon, radius_km=radius, reason=reason)


def _select(db: Database, cfg: Config, today: date | None) -> dict[str, Any]:
    from homeroll.daemon.memories.select import run_selection  # select -> household -> this module

    return run_selection(cfg, db, today=today)


def exclude(db: Database, cfg: Config, *, period: str | None = None, place: str | None = None,
            near: str | None = None, radius_km: float | None = None, reason: str | None = None,
            today: date | None = None) -> dict[str, Any]:
    """Store one exclusion (a period, a place name or a point; as typed), then re-select at once.

    Returns {exclusion, photos (how many of the library's photos it leaves out), selection, text (one line)}.
    The DB comes first, so the TUI runs it as ``backend.call(exclude, cfg, ...)``.
    """
    exclusion_id = _store(db, period, place, near, radius_km, reason)
    exclusion = store_exclusions.get_exclusion(db, exclusion_id)
    photos = photo_counts(db, [exclusion])[exclusion_id]
    summary = _select(db, cfg, today)
    text = f"excluded {describe(exclusion)} (exclusion {exclusion_id}): {photos} photos left out of new memories"
    if not photos and exclusion.get("place_name"):
        text += " (no photo's place is called that yet)"
    return {"exclusion": exclusion, "photos": photos, "selection": summary,
            "text": f"{text}; selection: {selection_text(summary)}"}


def unexclude(db: Database, cfg: Config, exclusion_id: int, today: date | None = None) -> dict[str, Any]:
    """Remove an exclusion, then re-select: its photos may be proposed again.

    Returns {exclusion (as it was), selection, text}."""
    exclusion = store_exclusions.remove(db, exclusion_id)
    summary = _select(db, cfg, today)
    text = f"removed exclusion {exclusion_id} ({describe(exclusion)}); selection: {selection_text(summary)}"
    return {"exclusion": exclusion, "selection": summary, "text": text}
