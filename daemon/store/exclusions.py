"""Excluded periods and places: the household's "never from these dates, never from there", kept as rows.

An exclusion is a decision like an approval, so it carries who said it (``decisions.actor()``) and when
(the DB's clock, ``items.now_iso``), lives in the DB (backups keep it) and is read by every selection run
(memories.household). Which photos it leaves out is memories.exclusions' question; this module only stores
the rows and reads the few photo columns that question needs, for ``memories show`` and the listing.

Values are checked here, not in each front end, so the CLI and the TUI refuse the same things with the same
line: a period the wrong way round, a latitude off the globe, a radius of nothing, the same exclusion twice.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.errors import UserError
from homeroll.daemon.store import decisions as store_decisions
from homeroll.daemon.store import items as store_items

__all__ = ["add_period", "add_place", "get_exclusion", "list_exclusions", "remove", "photos"]

#: A reason is a note for the household, not a diary.
MAX_REASON = 200
#: Larger than any place one would rule out, small enough to catch a typo in km (40,000 is the whole globe).
MAX_RADIUS_KM = 1000.0

_COLUMNS = 'id, kind, start, "end", lat, lon, radius_km, place_name, reason, created_at, created_by'


def _reason(reason: str | None) -> str | None:
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise UserError(f"a reason is at most {MAX_REASON} characters")
    return text or None


def _insert(db: Database, fields: dict[str, Any], twin_sql: str, twin_args: list[Any], what: str) -> int:
    """One new row, unless the same exclusion is there: a script run twice must not list it twice."""
    row = {"start": None, "end": None, "lat": None, "lon": None, "radius_km": None, "place_name": None, **fields,
           "at": store_items.now_iso(), "by": store_decisions.actor()}
    with db.atomic():
        twin = db.execute(f"SELECT id FROM exclusions WHERE {twin_sql}", twin_args).fetchone()
        if twin is not None:
            raise UserError(f"{what} is already excluded (exclusion {twin[0]}, see `homeroll memories exclusions`)")
        return db.execute(
            'INSERT INTO exclusions (kind, start, "end", lat, lon, radius_km, place_name, reason, created_at, '
            "created_by) VALUES (:kind, :start, :end, :lat, :lon, :radius_km, :place_name, :reason, :at, :by)",
            row).lastrowid


def add_period(db: Database, start: date, end: date, reason: str | None = None) -> int:
    """Exclude the local dates ``start`` to ``end``, both included; returns the new exclusion's id."""
    if end < start:
        raise UserError(f"the period ends before it starts: {start.isoformat()}..{end.isoformat()}")
    fields = {"kind": "period", "start": start.isoformat(), "end": end.isoformat(), "reason": _reason(reason)}
    what = start.isoformat() if start == end else f"{fields['start']}..{fields['end']}"
    return _insert(db, fields, 'kind = \'period\' AND start = ? AND "end" = ?', [fields["start"], fields["end"]],
                   what)


def add_place(db: Database, *, lat: float | None = None, lon: float | None = None, radius_km: float | None = None,
              place_name: str | None = None, reason: str | None = None) -> int:
    """Exclude a circle (``lat``, ``lon``, ``radius_km``) or a named place (a stored place's city, region or
    country, any case); exactly one of the two. Returns the new exclusion's id."""
    name = (place_name or "").strip()
    if name and lat is None and lon is None:
        if len(name) > MAX_REASON:
            raise UserError(f"a place name is at most {MAX_REASON} characters")
        fields = {"kind": "place", "place_name": name, "reason": _reason(reason)}
        return _insert(db, fields, "kind = 'place' AND lower(place_name) = lower(?)", [name], repr(name))
    if name or lat is None or lon is None or radius_km is None:
        raise UserError("a place is either a name or a point with a radius, not both and not neither")
    _check_point(lat, lon, radius_km)
    fields = {"kind": "place", "lat": float(lat), "lon": float(lon), "radius_km": float(radius_km),
              "reason": _reason(reason)}
    return _insert(db, fields, "kind = 'place' AND lat = ? AND lon = ? AND radius_km = ?",
                   [fields["lat"], fields["lon"], fields["radius_km"]], f"{radius_km:g} km around {lat:g},{lon:g}")


def _check_point(lat: float, lon: float, radius_km: float) -> None:
    if not all(math.isfinite(v) for v in (lat, lon, radius_km)):
        raise UserError("a place's latitude, longitude and radius must be numbers")
    if not -90 <= lat <= 90:
        raise UserError(f"latitude {lat:g} is out of range (-90 to 90)")
    if not -180 <= lon <= 180:
        raise UserError(f"longitude {lon:g} is out of range (-180 to 180)")
    if radius_km <= 0:
        raise UserError(f"the radius must be more than 0 km, not {radius_km:g}")
    if radius_km > MAX_RADIUS_KM:
        raise UserError(f"the radius is at most {MAX_RADIUS_KM:g} km, not {radius_km:g} (a country: name it instead)")


def list_exclusions(db: Database) -> list[dict[str, Any]]:
    """Every exclusion, oldest first, as stored."""
    cols = [c.strip().strip('"') for c in _COLUMNS.split(",")]
    return [dict(zip(cols, row, strict=True)) for row in db.execute(f"SELECT {_COLUMNS} FROM exclusions ORDER BY id")]


def get_exclusion(db: Database, exclusion_id: int) -> dict[str, Any] | None:
    return next((e for e in list_exclusions(db) if e["id"] == exclusion_id), None)


def remove(db: Database, exclusion_id: int) -> dict[str, Any]:
    """Delete one exclusion and return it as it was; its photos come back at the next selection."""
    with db.atomic():
        exclusion = get_exclusion(db, exclusion_id)
        if exclusion is None:
            raise UserError(f"no exclusion with id {exclusion_id} (see `homeroll memories exclusions`)")
        db.execute("DELETE FROM exclusions WHERE id = ?", [exclusion_id])
    return exclusion


#: The photos selection may use (as store.memories.SELECTION_SQL), with the columns an exclusion is judged
#: on: item id, local day ordinal, lat, lon (NULL without GPS, (0, 0) included, as library.load_library
#: reads it), place id (-1) and the date's precision (0 time .. 3 year).
_PHOTOS_SQL = """
SELECT id, CAST(julianday(substr(taken_at_local, 1, 10)) - 1721424.5 AS INTEGER),
       CASE WHEN lat = 0 AND lon = 0 THEN NULL ELSE lat END, CASE WHEN lat = 0 AND lon = 0 THEN NULL ELSE lon END,
       COALESCE(place_id, -1),
       CASE taken_at_precision WHEN 'year' THEN 3 WHEN 'month' THEN 2 WHEN 'day' THEN 1 ELSE 0 END
FROM items
WHERE state = 'present' AND kind != 'screenshot' AND is_messenger = 0 AND taken_at_local IS NOT NULL
  AND julianday(taken_at_local) IS NOT NULL {span}
ORDER BY id
"""


def photos(db: Database, start: date | None = None, end: date | None = None) -> list[tuple]:
    """(item id, day ordinal, lat, lon, place id, precision) of the usable photos taken on the local dates
    ``start`` to ``end`` (both included; None: the whole library), for counting what an exclusion leaves out."""
    if start is None or end is None:
        return db.execute(_PHOTOS_SQL.format(span="")).fetchall()
    # taken_at_local is ISO text, so a date range is a string range (and "2023-02-01" < "2023-02-01T09:00")
    return db.execute(_PHOTOS_SQL.format(span="AND taken_at_local >= ? AND taken_at_local < ?"),
                      [start.isoformat(), (end + timedelta(days=1)).isoformat()]).fetchall()
