"""Place names a person would say, from the real shipped GeoNames extract (no mocks): a big city's
districts are the city (Wilmersdorf is Berlin), a town named on its own keeps its name (Sintra,
Versailles, Potsdam), and a nearest-neighbour lookup would get the districts wrong, so these can fail."""

from __future__ import annotations

import numpy as np
import pytest

from homeroll.daemon.ingest import places
from homeroll.daemon.ingest.geocode import city_of
from homeroll.daemon.ingest.places import offline_geocoder

# (what a person says, lat, lon)
BERLIN_DISTRICTS = {
    "Wilmersdorf": (52.4876, 13.3136),
    "Tegel": (52.5833, 13.2833),
    "Reinickendorf": (52.5667, 13.3333),
    "Neu-Hohenschönhausen": (52.5667, 13.5167),
    "Neukölln": (52.4811, 13.4353),
    "Spandau": (52.5356, 13.2000),
}
EXPECTED = [
    *[("Berlin", lat, lon) for lat, lon in BERLIN_DISTRICTS.values()],
    ("Lisbon", 38.7107, -9.1366),         # Baixa
    ("Sintra", 38.7980, -9.3880),         # 24 km from Lisbon, outside its 7 km area
    ("Paris", 48.8590, 2.3800),           # 11e arrondissement
    ("Versailles", 48.8049, 2.1204),      # 17.6 km from Paris, outside its 14.6 km area
    ("London", 51.5390, -0.1426),         # Camden Town
    ("Hamburg", 53.5500, 9.9333),         # Altona, a quarter-million district
    ("Potsdam", 52.3989, 13.0657),        # Brandenburg, not the State of Berlin
    ("Tokyo", 35.6938, 139.7034),         # Shinjuku
    ("Kyoto", 35.0116, 135.7681),
    ("Munich", 48.1650, 11.5860),         # Schwabing
    ("New York City", 40.6782, -73.9442),  # Brooklyn: a trip to New York is not "Brooklyn & New York City"
    ("Sakai", 34.5733, 135.4830),         # its own city next to Osaka: another county (Sakai-shi)
    ("Grindelwald", 46.6242, 8.0414),     # a village far from any big city
]


@pytest.fixture(scope="module")
def geocoder(tmp_path_factory):
    return offline_geocoder(8.0, tmp_path_factory.mktemp("geonames"))


@pytest.mark.parametrize(("city", "lat", "lon"), EXPECTED, ids=[f"{c}@{la},{lo}" for c, la, lo in EXPECTED])
def test_position_is_named_as_a_person_would(geocoder, city, lat, lon):
    assert geocoder.lookup(lat, lon)["city"] == city


def _nearest(geocoder, lat, lon):
    _, index = geocoder._tree.query(places._unit_vectors(np.array([lat]), np.array([lon]))[0])
    return places._unpack(geocoder._a["city"], geocoder._a["city_off"], int(index))


def test_a_plain_nearest_place_lookup_would_name_the_district(geocoder):
    # the control: these positions really are at a district's GeoNames entry, so the rule is what names them
    assert [_nearest(geocoder, lat, lon) for lat, lon in BERLIN_DISTRICTS.values()] == [
        "Wilmersdorf", "Tegel", "Reinickendorf", "Neu-Hohenschönhausen", "Neukölln", "Wilhelmstadt"]
    assert _nearest(geocoder, 53.5500, 9.9333) == "Altona"
    assert _nearest(geocoder, 40.6782, -73.9442) == "Bushwick"


def test_region_and_country_come_with_the_city(geocoder):
    assert geocoder.lookup(52.4876, 13.3136) == {"city": "Berlin", "region": "State of Berlin",
                                                 "country": "Germany", "country_code": "DE"}


def test_cache_of_an_older_format_is_not_read(tmp_path):
    arrays = places.load_arrays(None)
    old = {key: value for key, value in arrays.items() if key not in ("state_id", "county_id")}
    stale = tmp_path / places._cache_name().replace(f"-v{places._FORMAT}", "")
    np.savez(stale, **old)
    loaded = places.load_arrays(tmp_path)
    assert np.array_equal(loaded["county_id"], arrays["county_id"])
    assert (tmp_path / places._cache_name()).exists()
    assert not stale.exists()  # the old cache is removed, not left to fill a Pi's SD card


def test_online_addresses_name_the_city_not_the_district():
    berlin = {"road": "Hohenzollerndamm", "suburb": "Wilmersdorf", "city_district": "Charlottenburg-Wilmersdorf",
              "city": "Berlin", "state": "Berlin", "country": "Deutschland", "country_code": "de"}
    assert city_of(berlin) == "Berlin"
    assert city_of({"suburb": "Brooklyn", "city": "City of New York", "state": "New York"}) == "City of New York"
    assert city_of({"town": "Sintra", "county": "Lisboa"}) == "Sintra"
    # Photon: the feature's own name only when it is a settlement, never a street
    assert city_of({"name": "Kurfürstendamm", "type": "street", "district": "Wilmersdorf",
                    "city": "Berlin"}) == "Berlin"
    assert city_of({"name": "Kurfürstendamm", "type": "street", "district": "Wilmersdorf"}) == "Wilmersdorf"
    assert city_of({"name": "Colares", "type": "village"}) == "Colares"
    assert city_of({}) is None


def test_reading_the_extract_holds_one_place_at_a_time(tmp_path):
    """The first build on a new data dir reads 150k places from JSON. Parsed as one array that is 150k dicts
    at once: about 148 MiB more at the peak here, in the service's process on a 1-GB Pi. Read one place at a
    time into columns, with the country codes and states kept once each: about 100 MiB, most of it the
    23 MB text held twice while it is decoded."""
    import subprocess
    import sys

    code = ("import resource; from homeroll.daemon.ingest import places\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "arrays = places._source_arrays()\n"
            "print(len(arrays['lat']), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)")
    count, grew_mib = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                              check=True, cwd=tmp_path).stdout.split())
    assert count > 150_000
    assert grew_mib < 130, f"the build's peak grew by {grew_mib} MiB"
