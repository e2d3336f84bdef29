"""Choosing the place name for a position: offline GeoNames by default, an online provider only by opt-in.

With ``[geocoder] provider = "offline"`` (the default) no socket is ever opened. "nominatim" or
"photon" use geopy against ``url`` (e.g. a self-hosted instance), at most one request per
``min_delay_seconds``, cached in SQLite so each place is asked once; any failure falls back to offline.

Both name a place the way a person would say it: a big city's district by its city. Offline that is the
city-area rule in ``places``; online the provider already knows which city an address is in, so its
``city`` key wins over the district keys (a Nominatim address in Wilmersdorf has suburb "Wilmersdorf",
city_district "Charlottenburg-Wilmersdorf" and city "Berlin"), and a town's own ``town`` or ``village``
is kept (Sintra). They can still differ in spelling (OSM's "Lisboa", GeoNames' "Lisbon") and where OSM
makes a district a city of its own (Tokyo's wards).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.ingest.places import offline_geocoder
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import places as store_places

log = logging.getLogger(__name__)
_last_request = 0.0
# Nominatim's address keys and Photon's properties, in the order a person would name the place by
_SETTLEMENT_KEYS = ("city", "town", "village", "municipality", "hamlet")
# only when no settlement is named (open country, or a provider that gives nothing better)
_DISTRICT_KEYS = ("suburb", "city_district", "borough", "district", "quarter", "neighbourhood", "locality")
# Photon's ``name`` is the feature found, often a street or a shop: a place name only for these types
_PHOTON_SETTLEMENTS = {"city", "town", "village", "hamlet"}


def lookup_place(cfg: Config, db: Database, lat: float, lon: float) -> dict[str, Any]:
    """The place of a position as ``[geocoder]`` names it: the one way for ingest's place_id and memories' titles.

    The offline index is built once per process and setting (``places.offline_geocoder``), cached in the
    data dir, so a title names a position exactly as the item's place_id does.
    """
    settings = cfg["geocoder"]
    provider = settings["provider"]
    if provider != "offline":
        place = _online(settings, db, lat, lon)
        if place:
            return place
    place = offline_geocoder(float(settings["prefer_populous_km"]), cfg.data_dir / "cache").lookup(lat, lon)
    return {**place, "source": "geonames"}


def _online(settings: dict[str, Any], db: Database, lat: float, lon: float) -> dict[str, Any] | None:
    global _last_request
    provider = settings["provider"]
    key = f"{provider}:{lat:.3f}:{lon:.3f}"
    cached = store_places.cached_place(db, key)
    if cached is not None:
        return {**cached, "source": provider}
    try:
        from geopy.geocoders import Nominatim, Photon

        url = settings["url"]
        if not url:
            log.warning("geocoder %s has no url configured; using offline names", provider)
            return None
        scheme, _, domain = url.partition("://")
        cls = Nominatim if provider == "nominatim" else Photon
        geocoder = cls(user_agent=settings["user_agent"], domain=domain.rstrip("/"), scheme=scheme or "https")
        wait = float(settings["min_delay_seconds"]) - (time.monotonic() - _last_request)
        if wait > 0:
            time.sleep(wait)
        _last_request = time.monotonic()
        location = geocoder.reverse((lat, lon), exactly_one=True, timeout=10)
    except Exception as exc:  # noqa: BLE001 - an unreachable provider must not stop indexing
        log.warning("online geocoder failed (%s); using offline names", exc)
        return None
    if location is None:
        return None
    address = location.raw.get("address") or location.raw.get("properties") or {}
    place = {
        "city": city_of(address),
        "region": address.get("state"),
        "country": address.get("country"),
        "country_code": (address.get("country_code") or address.get("countrycode") or "").upper() or None,
        "source": provider,
    }
    pid = store_items.place_id(db, place["city"], place["region"], place["country"], place["country_code"], provider)
    store_places.cache_place(db, key, pid)
    return place


def city_of(address: dict[str, Any]) -> str | None:
    """The place name in a Nominatim address or Photon properties: the city, not its suburb."""
    for key in _SETTLEMENT_KEYS:
        if address.get(key):
            return address[key]
    if address.get("name") and address.get("type") in _PHOTON_SETTLEMENTS:
        return address["name"]
    for key in _DISTRICT_KEYS:
        if address.get(key):
            return address[key]
    return None
