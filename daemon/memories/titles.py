"""Titles and explanations a person would write: "Lisbon & Sintra, Aug 2023", "Anna's 7th birthday".

Place names come from the places table (items.place_id, filled by the ingest geocoder). Rows that
have GPS but no place are looked up through the same geocoder and settings (``ingest.geocode.lookup_place``),
so a title never names a place differently from the items' own place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import numpy as np

from homeroll.daemon.memories.library import Library

#: (lat, lon) -> {city, region, country, country_code}: ingest's lookup_place bound to the config and DB.
PlaceAt = Callable[[float, float], dict[str, Any]]

#: A city is named in a title when it holds at least this share of the placed photos.
CITY_SHARE = 0.12
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LONG_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")


def month_span(start: date, end: date) -> str:
    """'Aug 2023', 'Jul–Aug 2023', 'Dec 2023–Jan 2024'."""
    if (start.year, start.month) == (end.year, end.month):
        return f"{_MONTHS[start.month - 1]} {start.year}"
    if start.year == end.year:
        return f"{_MONTHS[start.month - 1]}–{_MONTHS[end.month - 1]} {end.year}"
    return f"{_MONTHS[start.month - 1]} {start.year}–{_MONTHS[end.month - 1]} {end.year}"


def day_span(start: date, end: date, months: Sequence[str] = _MONTHS, dash: str = "–") -> str:
    """'Aug 3, 2023', 'Aug 3–9, 2023', 'Jul 30–Aug 4, 2023', 'Dec 30, 2023–Jan 2, 2024'.

    The one date-range wording of homeroll: explanations, collage captions (``LONG_MONTHS``) and the
    TUI (``dash="-"``, for consoles whose font has no en dash) all use it.
    """
    if end <= start:
        return f"{months[start.month - 1]} {start.day}, {start.year}"
    if start.year != end.year:
        return f"{day_span(start, start, months)}{dash}{day_span(end, end, months)}"
    if start.month == end.month:
        return f"{months[start.month - 1]} {start.day}{dash}{end.day}, {start.year}"
    return f"{months[start.month - 1]} {start.day}{dash}{months[end.month - 1]} {end.day}, {start.year}"


def iso_day(value: str | None) -> date | None:
    """The calendar day of an ISO date or datetime string ('2024-07-03T10:00:00+02:00' -> 2024-07-03)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def join_names(names: list[str], conjunction: str = "&") -> str:
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def number(n: float) -> str:
    return f"{n:,.0f}"


def plural(n: int, word: str) -> str:
    return f"{number(n)} {word}{'' if n == 1 else 's'}"


class PlaceNamer:
    """Names the places of a set of rows: their stored place first, else ``place_at`` (cached per ~5 km cell)."""

    def __init__(self, lib: Library, place_at: PlaceAt) -> None:
        self.lib = lib
        self._place_at = place_at
        self._cache: dict[tuple[int, int], dict[str, Any]] = {}

    def _lookup(self, lat: float, lon: float) -> dict[str, Any]:
        key = (round(lat * 20), round(lon * 20))  # ~5 km cells
        if key not in self._cache:
            self._cache[key] = self._place_at(lat, lon)
        return self._cache[key]

    def places_of(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """One place dict per row that has a place (its stored place_id, else the geocoder)."""
        lib = self.lib
        out: list[dict[str, Any]] = []
        unplaced: list[int] = []
        for row in rows:
            place_id = int(lib.place[row])
            if place_id >= 0 and place_id in lib.places:
                out.append(lib.places[place_id])
            elif not np.isnan(lib.lat[row]):
                unplaced.append(int(row))
        if unplaced and len(unplaced) > len(out):
            # sample: a title needs the big picture, not every photo
            step = max(1, len(unplaced) // 200)
            for row in unplaced[::step]:
                out.extend([self._lookup(float(lib.lat[row]), float(lib.lon[row]))] * step)
        return out

    def describe(self, rows: np.ndarray, home_cc: str | None) -> tuple[str | None, str | None, list[str]]:
        """(title part, place field, names for the explanation) — e.g. ("Lisbon & Sintra", "Lisbon, Sintra, Portugal", ["Lisbon", "Sintra"])."""
        found = self.places_of(rows)
        if not found:
            return None, None, []
        countries = Counter(p.get("country") or p.get("country_code") for p in found if p.get("country")
                            or p.get("country_code"))
        total = len(found)
        major_countries = [c for c, n in countries.most_common() if n >= CITY_SHARE * total]
        cities = Counter(p.get("city") or p.get("region") for p in found if p.get("city") or p.get("region"))
        major_cities = [c for c, n in cities.most_common() if n >= CITY_SHARE * total]
        abroad = any((p.get("country_code") or "") != (home_cc or "") for p in found) if home_cc else False
        if len(major_countries) >= 2:
            names = major_countries[:3]
            return join_names(names), ", ".join(names), names
        country = major_countries[0] if major_countries else (countries.most_common(1)[0][0] if countries else None)
        if not major_cities:
            major_cities = [c for c, _ in cities.most_common(1)]
        if len(major_cities) <= 2:
            title = join_names(major_cities) or country
            field = ", ".join([*major_cities, country] if country else major_cities)
            return title, field, major_cities or ([country] if country else [])
        if abroad and country:
            return country, ", ".join([*major_cities[:3], country]), major_cities[:3]
        regions = Counter(p.get("region") for p in found if p.get("region"))
        region = regions.most_common(1)[0][0] if regions else None
        if region and regions[region] >= 0.8 * total:
            return region, ", ".join([*major_cities[:3], region]), major_cities[:3]
        return join_names(major_cities[:3]), ", ".join(major_cities[:3]), major_cities[:3]
