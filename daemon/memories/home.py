"""Where home is, day by day: inferred from where most days are spent, so a house move is followed.

A *base* is a grid cell (about 20 km) that is the day's main location on enough days: at least
``home_min_photos`` photos, spread over at least ``home_min_span_days``, and the main location on at
least ``home_min_share`` of the photographed days in that span (Ente's rule). A three-week holiday
never qualifies (its span is too short). Each day's home is the base that was the main location most
often within +-60 days, so after a move the new base takes over within days. ``home_lat``/``home_lon``
in the config pin one home for all time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from homeroll.daemon.memories.library import Library, haversine_km, ordinal_to_date
from homeroll.daemon.memories.titles import PlaceAt

CELL_DEG = 0.2
#: Bases closer than this are one home (a home next to a grid-cell border).
MERGE_KM = 15.0
#: Moving home costs as much as this many days of evidence for the other base, so a commute, a
#: fortnight at the in-laws' or a month of renovation never looks like a move, and a real move does.
SWITCH_COST = 20.0


def _segment(observed: list[int], n_bases: int) -> np.ndarray:
    """Home index per day: the cheapest sequence of home periods (Viterbi over bases).

    Each day whose main location is another base costs 1; changing home costs SWITCH_COST.
    Days without evidence (trips, no GPS) cost nothing and simply continue the current home.
    """
    if not observed:
        return np.zeros(0, dtype=np.int64)
    cost = np.zeros(n_bases)
    back = np.zeros((len(observed), n_bases), dtype=np.int64)
    states = np.arange(n_bases)
    for i, obs in enumerate(observed):
        if i:
            best = int(np.argmin(cost))
            switch = cost[best] + SWITCH_COST
            stay = cost <= switch
            back[i] = np.where(stay, states, best)
            cost = np.where(stay, cost, switch)
        if obs >= 0:
            cost = cost + (states != obs)
    path = np.zeros(len(observed), dtype=np.int64)
    path[-1] = int(np.argmin(cost))
    for i in range(len(observed) - 1, 0, -1):
        path[i - 1] = back[i][path[i]]
    return path


@dataclass
class Home:
    lat: float
    lon: float
    first_day: int      # ordinal
    last_day: int
    days: int           # days this base was the main location
    country_code: str | None = None
    label: str | None = None


@dataclass
class Homes:
    homes: list[Home]
    days: np.ndarray       # sorted ordinals of every photographed day
    home_of_day: np.ndarray  # index into homes per entry of days, -1 = unknown

    def index_for(self, day_ordinals: np.ndarray) -> np.ndarray:
        if not self.homes or len(self.days) == 0:
            return np.full(len(day_ordinals), -1, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.days, day_ordinals), 0, len(self.days) - 1)
        return self.home_of_day[pos]

    def distance_km(self, lib: Library) -> np.ndarray:
        """Distance of every row from the home of its day; NaN without GPS or without a home."""
        dist = np.full(len(lib), np.nan)
        if not self.homes:
            return dist
        idx = self.index_for(lib.day)
        known = (idx >= 0) & lib.has_gps
        centers = np.array([[h.lat, h.lon] for h in self.homes])
        dist[known] = haversine_km(lib.lat[known], lib.lon[known], centers[idx[known], 0], centers[idx[known], 1])
        return dist

    def summary(self) -> list[dict[str, Any]]:
        return [
            {"lat": round(h.lat, 4), "lon": round(h.lon, 4), "from": ordinal_to_date(h.first_day).isoformat(),
             "to": ordinal_to_date(h.last_day).isoformat(), "days": h.days, "country_code": h.country_code,
             "place": h.label}
            for h in self.homes if h.days
        ]


def _place_for(lib: Library, rows: np.ndarray) -> tuple[str | None, str | None]:
    """(country code, name) of a home from its photos' stored places, the most frequent that has one."""
    counts = Counter(int(p) for p in lib.place[rows] if p >= 0)
    for place_id, _ in counts.most_common(3):
        place = lib.places.get(place_id)
        if place and (place.get("country_code") or place.get("city")):
            return place.get("country_code"), place.get("city") or place.get("region")
    return None, None


def _name_home(home: Home, lib: Library, rows: np.ndarray, place_at: PlaceAt, configured_cc: str | None) -> None:
    """The home's country and name: from its photos' stored places, else the geocoder at its centre."""
    home.country_code, home.label = _place_for(lib, rows)
    if home.country_code is None:
        found = place_at(home.lat, home.lon)
        home.country_code, home.label = found.get("country_code"), found.get("city")
    home.country_code = configured_cc or home.country_code


def infer_homes(lib: Library, settings: dict[str, Any], place_at: PlaceAt) -> Homes:
    """Every home with its days, from ``[memories]`` settings; ``place_at`` names a home without placed photos."""
    all_days = np.unique(lib.day)
    home_lat, home_lon = settings["home_lat"], settings["home_lon"]
    configured_cc = settings["home_country"] or None
    if home_lat is not None and home_lon is not None:
        first = int(all_days[0]) if len(all_days) else 0
        last = int(all_days[-1]) if len(all_days) else 0
        home = Home(float(home_lat), float(home_lon), first, last, len(all_days))
        near = lib.has_gps & (haversine_km(lib.lat, lib.lon, home.lat, home.lon) < 10) if len(lib) else []
        _name_home(home, lib, np.flatnonzero(near), place_at, configured_cc)
        return Homes([home], all_days, np.zeros(len(all_days), dtype=np.int64))

    gps = np.flatnonzero(lib.has_gps)
    if len(gps) == 0:
        return Homes([], all_days, np.full(len(all_days), -1, dtype=np.int64))
    cell_lat = np.floor(lib.lat[gps] / CELL_DEG).astype(np.int64)
    cell_lon = np.floor(lib.lon[gps] / CELL_DEG).astype(np.int64)
    cell_key = (cell_lat + 1000) * 10_000 + (cell_lon + 2000)
    cells, cell_idx = np.unique(cell_key, return_inverse=True)
    days = lib.day[gps]
    # the main cell of each day: the cell holding most of that day's GPS photos
    pair = days.astype(np.int64) * len(cells) + cell_idx
    pairs, pair_counts = np.unique(pair, return_counts=True)
    pair_day, pair_cell = pairs // len(cells), pairs % len(cells)
    order = np.lexsort((-pair_counts, pair_day))
    first_of_day = np.concatenate(([True], np.diff(pair_day[order]) != 0))
    main_day = pair_day[order][first_of_day]
    main_cell = pair_cell[order][first_of_day]
    photos_per_cell = np.bincount(cell_idx, minlength=len(cells))

    bases: list[int] = []
    min_photos = int(settings["home_min_photos"])
    min_span = int(settings["home_min_span_days"])
    min_share = float(settings["home_min_share"])
    for c in np.unique(main_cell):
        cell_days = main_day[main_cell == c]
        first, last = int(cell_days[0]), int(cell_days[-1])
        if photos_per_cell[c] < min_photos or last - first < min_span:
            continue
        photographed = np.count_nonzero((main_day >= first) & (main_day <= last))
        if len(cell_days) >= min_share * photographed:
            bases.append(int(c))
    if not bases:
        # a small library: the most frequent main cell is home
        bases = [int(Counter(main_cell.tolist()).most_common(1)[0][0])]

    # one home area split over two grid cells (a home near a cell border) is one base
    centers = {c: (float(np.median(lib.lat[gps[cell_idx == c]])), float(np.median(lib.lon[gps[cell_idx == c]])))
               for c in bases}
    days_of = {c: int(np.count_nonzero(main_cell == c)) for c in bases}
    merged_into: dict[int, int] = {}
    for c in sorted(bases, key=lambda c: -days_of[c]):
        target = next((k for k in merged_into.values() if k == merged_into.get(k) and float(haversine_km(
            centers[c][0], centers[c][1], centers[k][0], centers[k][1])) < MERGE_KM), c)
        merged_into[c] = target
    bases = sorted({merged_into[c] for c in bases}, key=lambda c: -days_of[c])
    base_index = {c: bases.index(merged_into[c]) for c in merged_into}
    observed = {int(d): base_index[int(c)] for d, c in zip(main_day, main_cell, strict=True) if int(c) in base_index}
    home_of_day = _segment([observed.get(int(d), -1) for d in all_days], len(bases))

    homes: list[Home] = []
    for i, c in enumerate(bases):
        rows = gps[np.isin(cell_idx, [k for k, v in merged_into.items() if v == c])]
        used = np.flatnonzero(home_of_day == i)
        first = int(all_days[used[0]]) if len(used) else int(lib.day[rows[0]])
        last = int(all_days[used[-1]]) if len(used) else int(lib.day[rows[-1]])
        home = Home(centers[c][0], centers[c][1], first, last, len(used))
        _name_home(home, lib, rows, place_at, configured_cc)
        homes.append(home)
    return Homes(homes, all_days, home_of_day)
