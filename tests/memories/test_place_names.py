"""Memories name places with the ingest's geocoder and its [geocoder] settings, never a second one of their own.

Neuschwanstein lies in Schwangau; with the default ``prefer_populous_km`` (8 km) the bigger Füssen next door
wins, with 1 km the village itself does. So a title built from photos without a stored place agrees with
the items' own place_id only when memories look places up exactly as the ingest stored them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeroll.daemon import store
from homeroll.daemon.ingest.geocode import lookup_place
from homeroll.daemon.ingest.places import offline_geocoder
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories
from tests.memories.conftest import selection_config

BERLIN = (52.5200, 13.4050)
NEUSCHWANSTEIN = (47.5576, 10.7498)
GEOCODER = {"prefer_populous_km": 1.0}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    """One data dir for the module, so the place index and its .npz cache are built once."""
    return tmp_path_factory.mktemp("place-names")


def _add(db, cfg, n: int, local: datetime, at: tuple[float, float], placed: bool) -> None:
    """A photo as the indexer stores it; ``placed`` gives it the place_id the ingest would (lookup_place)."""
    lat, lon = at[0] + (n % 5) * 2e-4, at[1] + (n % 3) * 2e-4
    place_id = None
    if placed:
        place = lookup_place(cfg, db, lat, lon)
        place_id = store_items.place_id(db, place["city"], place["region"], place["country"], place["country_code"])
    aware = local.replace(tzinfo=ZoneInfo("Europe/Berlin"))
    record = {
        "hash": f"place-names-{n}", "kind": "photo", "taken_at_local": local.isoformat(),
        "utc_offset_min": int(aware.utcoffset().total_seconds() // 60), "tz_name": "Europe/Berlin",
        "taken_at_utc": aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "taken_at_source": "exif",
        "lat": lat, "lon": lon, "place_id": place_id, "width": 4000, "height": 3000,
        "quality": round(0.4 + (n * 37 % 50) / 100, 2),
        "phash": f"{(n * 0x9E3779B97F4A7C15 + 11) & 0xFFFFFFFFFFFFFFFF:016x}",
    }
    store_items.save_item(db, record, "/library", f"DCIM/IMG_{n:04d}.jpg", 1000, 1)


def _roll(cfg, *, trip_placed_every: int | None):
    """Half a year at home in Berlin (placed), then three days at Neuschwanstein, some photos without a place."""
    db = store.connect(None)
    n = 0
    for week in range(26):
        for k in range(3):
            n += 1
            _add(db, cfg, n, datetime(2023, 1, 2, 18) + timedelta(weeks=week, days=k), BERLIN, placed=True)
    for day in range(3):
        for k in range(10):
            n += 1
            placed = trip_placed_every is not None and k % trip_placed_every == 0
            _add(db, cfg, n, datetime(2023, 8, 10, 10) + timedelta(days=day, minutes=20 * k), NEUSCHWANSTEIN,
                 placed=placed)
    return db


def test_a_trip_title_names_the_place_its_items_are_stored_with(tmp):
    cfg = selection_config(tmp, geocoder=GEOCODER)
    db = _roll(cfg, trip_placed_every=3)
    run_selection(cfg, db, today=datetime(2023, 12, 26).date())
    [trip] = store_memories.list_memories(db, kind="trip")
    [stored] = {row[0] for row in db.execute(
        "SELECT p.city FROM items i JOIN places p ON p.id = i.place_id WHERE i.taken_at_local >= '2023-08'")}
    assert stored == "Schwangau"
    assert trip["title"] == f"{stored}, Aug 2023"
    assert list((cfg.data_dir / "cache").glob("geonames-*-v2.npz")), "the index is cached in the data dir"
    # the control: the default setting names this spot differently, so a second index would split the title
    assert offline_geocoder(8.0, cfg.data_dir / "cache").lookup(*NEUSCHWANSTEIN)["city"] == "Füssen"


def test_a_home_without_placed_photos_is_named_by_the_same_geocoder(tmp):
    cfg = selection_config(tmp, geocoder=GEOCODER, home_lat=NEUSCHWANSTEIN[0], home_lon=NEUSCHWANSTEIN[1])
    db = _roll(cfg, trip_placed_every=None)
    summary = run_selection(cfg, db, today=datetime(2023, 12, 26).date())
    [home] = summary["homes"]
    assert (home["place"], home["country_code"]) == ("Schwangau", "DE")
    assert home["place"] == lookup_place(cfg, db, *NEUSCHWANSTEIN)["city"]
