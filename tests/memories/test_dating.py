"""Dates that are not days, and names the household already gave: precision, periods and album titles.

Scans dated only by their folder ("1998 Summer holiday") must never look like a day; a file whose only
date is its mtime must not be "on this day"; a trip whose photos sit in "2019 Lisbon" is called
"Lisbon"; a Takeout album names its gathering. Every rule is checked against a control in which the
same photos differ only in what the rule looks at, so each test fails when its rule is gone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from homeroll.daemon.memories.albums import AlbumNamer
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store import sidecars as store_sidecars
from tests.memories.conftest import TODAY, roll_db, selection_config

SEED = 1
ROOT = "/library"
SCANS = "1998 Summer holiday"
DAY_KINDS = ("trip", "day_out", "gathering", "holiday", "birthday", "on_this_day")
BERLIN = (52.52, 13.405, "Berlin", "Berlin", "Germany", "DE")
LISBON = (38.7223, -9.1393, "Lisbon", "Lisbon", "Portugal", "PT")
SINTRA = (38.8029, -9.3817, "Sintra", "Lisbon", "Portugal", "PT")


class Photos:
    """Photos written the way the indexer stores them (items.save_item), with distinct content."""

    def __init__(self, db) -> None:
        self.db = db
        self.n = 0
        self.places: dict[str, int] = {}

    def add(self, rel: str, local: datetime, *, tz: str = "Europe/Berlin", precision: str = "time",
            source: str = "exif", at: tuple | None = None) -> int:
        self.n += 1
        aware = local.replace(tzinfo=ZoneInfo(tz))
        lat = lon = place = None
        if at is not None:
            lat, lon = at[0] + (self.n % 7) * 1e-3, at[1]
            if at[2] not in self.places:
                self.places[at[2]] = store_items.place_id(self.db, *at[2:])
            place = self.places[at[2]]
        record = {
            "hash": f"dating-{self.n}-{rel}", "kind": "photo", "taken_at_local": local.isoformat(),
            "utc_offset_min": int(aware.utcoffset().total_seconds() // 60), "tz_name": tz,
            "taken_at_utc": aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "taken_at_source": source, "taken_at_precision": precision,
            "lat": lat, "lon": lon, "place_id": place, "width": 4000, "height": 3000,
            "quality": round(0.4 + (self.n * 37 % 50) / 100, 2),
            "phash": f"{(self.n * 0x9E3779B97F4A7C15 + 11) & 0xFFFFFFFFFFFFFFFF:016x}",
        }
        item_id, _ = store_items.save_item(self.db, record, ROOT, rel, 1000, 1)
        return item_id


def _members(db, kinds=DAY_KINDS) -> set[int]:
    return {r[0] for m in store_memories.list_memories(db) if m["kind"] in kinds
            for r in db.execute("SELECT item_id FROM memory_items WHERE memory_id = ?", [m["id"]])}


def _member_ids(db, memory_id: int) -> set[int]:
    return {r[0] for r in db.execute("SELECT item_id FROM memory_items WHERE memory_id = ?", [memory_id])}


def _scans(db, precise: bool) -> tuple[list[int], int]:
    """24 prints of one summer, dated by their folder to 1998 (stored as 1 January, midday), five of them
    showing Grandpa, born 1 January. ``precise`` is the control: the same photos claiming that exact time."""
    photos = Photos(db)
    cur = db.execute("INSERT INTO people (name, birthday, created_at) VALUES ('Grandpa', '1930-01-01', ?)",
                     [store_items.now_iso()])
    grandpa = cur.lastrowid
    ids = []
    for k in range(24):
        ids.append(photos.add(f"Scans/{SCANS}/scan{k:03d}.jpg", datetime(1998, 1, 1, 12),
                              precision="time" if precise else "year",
                              source="exif" if precise else "folder-name+home_tz"))
    with db.atomic():
        for item_id in ids[:5]:
            # the faces job's output, as the people area stores it (test fixture only)
            db.execute("INSERT INTO faces (item_id, top, left, bottom, right, det_score, size_px, person_id, "
                       "assigned_by) VALUES (?, 0.2, 0.2, 0.6, 0.5, 0.99, 400, ?, 'user')",
                       [item_id, grandpa])
            db.execute("UPDATE items SET face_count = 1, faces_scanned = 1 WHERE id = ?", [item_id])
    return ids, grandpa


@pytest.mark.parametrize("today", [date(2024, 1, 2), TODAY])
def test_scans_dated_by_year_make_a_period_and_no_day_memory(tmp_path, today):
    db, _ = roll_db(SEED)
    scans, _ = _scans(db, precise=False)
    run_selection(selection_config(tmp_path), db, today=today)
    assert not _members(db) & set(scans)
    assert not [m for m in store_memories.list_memories(db, kind="birthday") if "Grandpa" in m["people"]]
    [period] = store_memories.list_memories(db, kind="period")
    assert period["title"] == "Summer holiday, 1998"
    assert period["reason"] == "period: 24 photos dated only to 1998 by their folder '1998 Summer holiday'"
    assert (period["start"], period["end"], period["status"]) == ("1998-01-01", "1998-12-31", "suggested")
    assert _member_ids(db, period["id"]) == set(scans)
    assert 6 <= period["picks"] <= 30


def test_control_the_same_scans_with_an_exact_time_become_day_memories(tmp_path):
    db, _ = roll_db(SEED)
    scans, _ = _scans(db, precise=True)
    run_selection(selection_config(tmp_path), db, today=date(2024, 1, 2))
    [birthday] = [m for m in store_memories.list_memories(db, kind="birthday") if "Grandpa" in m["people"]]
    assert birthday["title"] == "Grandpa's 68th birthday"
    [on_this_day] = store_memories.list_memories(db, kind="on_this_day")
    assert set(scans) <= _member_ids(db, on_this_day["id"])
    assert store_memories.list_memories(db, kind="period") == []


def test_a_period_follows_the_approval_rules(tmp_path):
    db, _ = roll_db(SEED)
    _scans(db, precise=False)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    [period] = store_memories.list_memories(db, kind="period")
    again = run_selection(cfg, db, today=TODAY)
    assert again["created"] == 0 and again["updated"] == 0 and again["dropped"] == 0
    store_memories.reject(db, period["id"])
    summary = run_selection(cfg, db, today=TODAY)
    assert summary["rejected_kept_out"] == 1 and summary["created"] == 0
    assert [m["status"] for m in store_memories.list_memories(db, kind="period")] == ["rejected"]


def _lisbon_2019(db, folder: str, imprecise: str) -> tuple[list[int], list[int]]:
    """A trip Aug 2-6, 2019 (Lisbon, then Sintra) with 27 of its 30 photos in ``folder`` and 3 in the
    camera folder; home on Jul 30 and Aug 8. Eight more photos in "2019-08 Portugal" are dated only
    to August (or, for the control, claim Aug 1 at midday: a day away just before the trip)."""
    photos = Photos(db)
    for day in (date(2019, 7, 30), date(2019, 8, 8)):
        for k in range(3):
            evening = datetime(day.year, day.month, day.day, 18, 10 * k)
            photos.add(f"DCIM/Camera/2019/home_{day:%m%d}_{k}.jpg", evening, at=BERLIN)
    trip = []
    for k in range(30):
        day = date(2019, 8, 2) + timedelta(days=k // 6)
        where = LISBON if day.day <= 4 else SINTRA
        local = datetime(day.year, day.month, day.day, 9) + timedelta(minutes=50 * (k % 6))
        rel = f"{folder}/IMG_{k:03d}.jpg" if k % 10 else f"DCIM/Camera/2019/IMG_{k:03d}.jpg"
        trip.append(photos.add(rel, local, tz="Europe/Lisbon", at=where))
    loose = [photos.add(f"2019-08 Portugal/print{k}.jpg", datetime(2019, 8, 1, 12), tz="Europe/Lisbon",
                        precision=imprecise, source="folder-name+gps_tz" if imprecise != "time" else "exif",
                        at=LISBON) for k in range(8)]
    return trip, loose


def _select_lisbon_2019(tmp_path, folder: str, imprecise: str) -> tuple:
    """(db, the 2019 trip, its photos, the loose prints) after one selection run over the roll and _lisbon_2019."""
    db, _ = roll_db(SEED)
    trip_ids, loose = _lisbon_2019(db, folder, imprecise)
    run_selection(selection_config(tmp_path), db, today=TODAY)
    [trip] = [m for m in store_memories.list_memories(db, kind="trip") if m["start"].startswith("2019")]
    return db, trip, trip_ids, loose


def test_a_trip_is_titled_after_its_dated_folder(tmp_path):
    db, trip, trip_ids, loose = _select_lisbon_2019(tmp_path, "2019 Lisbon", "month")
    assert trip["title"] == "Lisbon, Aug 2019"
    assert (trip["start"], trip["end"]) == ("2019-08-02", "2019-08-06")
    assert "; titled after the folder '2019 Lisbon' (" in trip["reason"]
    held, of = trip["reason"].rsplit("(", 1)[1].split(" picked")[0].split(" of ")
    assert int(held) * 2 > int(of) == trip["picks"]
    assert _member_ids(db, trip["id"]) == set(trip_ids)
    # the month-dated prints are a period of their own, never part of the trip
    assert not _members(db) & set(loose)
    [period] = store_memories.list_memories(db, kind="period")
    assert period["title"] == "Portugal, Aug 2019"
    assert (period["start"], period["end"]) == ("2019-08-01", "2019-08-31")
    assert "dated only to Aug 2019 by their folder '2019-08 Portugal'" in period["reason"]


def test_control_camera_folders_give_no_title_and_exact_times_join_the_trip(tmp_path):
    db, trip, trip_ids, loose = _select_lisbon_2019(tmp_path, "DCIM/Camera/2019", "time")
    assert trip["title"] == "Lisbon & Sintra, Aug 2019"
    assert "titled after" not in trip["reason"]
    assert trip["start"] == "2019-08-01"
    assert set(loose) | set(trip_ids) <= _member_ids(db, trip["id"])
    assert store_memories.list_memories(db, kind="period") == []


def test_the_users_title_wins_over_the_album(tmp_path):
    db, trip, _, _ = _select_lisbon_2019(tmp_path, "2019 Lisbon", "month")
    store_memories.rename(db, trip["id"], "Tia Rosa's wedding")
    run_selection(selection_config(tmp_path), db, today=TODAY)
    after = store_memories.get_memory(db, trip["id"])
    assert (after["title"], after["auto_title"]) == ("Tia Rosa's wedding", "Lisbon, Aug 2019")


def _garden_party(db, album: str | None) -> list[int]:
    """A party at home on Saturday 15 June 2019, exported from Google Photos into its album's folder."""
    photos = Photos(db)
    folder = "Takeout/Google Photos/Garden party"
    if album:
        store_sidecars.set_album(db, ROOT, folder, album, "takeout")
    for day in (date(2019, 6, 1), date(2019, 6, 29)):
        photos.add(f"DCIM/Camera/2019/home_{day:%m%d}.jpg", datetime(day.year, day.month, day.day, 18),
                   at=BERLIN)
    party = datetime(2019, 6, 15, 15)
    return [photos.add(f"{folder}/PXL_{k:03d}.jpg", party + timedelta(minutes=4 * k), at=BERLIN)
            for k in range(40)]


def test_a_gathering_is_titled_after_its_takeout_album(tmp_path):
    db, _ = roll_db(SEED)
    party = _garden_party(db, "Anna's garden party")
    run_selection(selection_config(tmp_path), db, today=TODAY)
    [gathering] = [m for m in store_memories.list_memories(db, kind="gathering") if m["start"] == "2019-06-15"]
    assert gathering["title"] == "Anna's garden party, Jun 15, 2019"
    n = gathering["picks"]
    why = f"; titled after the album 'Anna's garden party' ({n} of {n} picked photos)"
    assert gathering["reason"].endswith(why)
    assert _member_ids(db, gathering["id"]) == set(party)


def test_control_an_undated_folder_without_an_album_title_names_nothing(tmp_path):
    db, _ = roll_db(SEED)
    _garden_party(db, None)
    run_selection(selection_config(tmp_path), db, today=TODAY)
    [gathering] = [m for m in store_memories.list_memories(db, kind="gathering") if m["start"] == "2019-06-15"]
    assert gathering["title"] == "Get-together, Jun 15, 2019"
    assert "titled after" not in gathering["reason"]


@pytest.mark.parametrize("source", ["mtime", "exif"])
def test_a_file_dated_only_by_its_mtime_is_never_on_this_day(tmp_path, source):
    db, _ = roll_db(SEED)
    photos = Photos(db)
    copied = [photos.add(f"Backup/old phone/copy_{k}.jpg", datetime(2022, 12, 27, 10, 5 * k), source=source)
              for k in range(6)]
    run_selection(selection_config(tmp_path), db, today=TODAY)
    [on_this_day] = store_memories.list_memories(db, kind="on_this_day")
    members = _member_ids(db, on_this_day["id"])
    if source == "mtime":
        assert not members & set(copied)
    else:  # the control: the same files with a camera date are on this day
        assert set(copied) <= members


# -- the album namer on its own --------------------------------------------------------------------------

def test_only_dated_or_takeout_titled_folders_name_anything():
    namer = AlbumNamer({(ROOT, "Takeout/Google Photos/Photos from 2019"): "Photos from 2019",
                        (ROOT, "Takeout/Google Photos/Untitled(2)"): "Untitled(2)",
                        (ROOT, "Takeout/Google Photos/Porto 2019"): "Porto 2019",
                        (ROOT, "Albums/Wedding"): "Ben & Clara's wedding"})
    expected = {
        "DCIM/Camera": None, "DCIM/Camera/2019": None, "Camera": None, "Photos from 2019": None,
        "Takeout/Google Photos/Photos from 2019": None, "Takeout/Google Photos/Untitled(2)": None,
        "Takeout/Google Photos/Porto 2019": "Porto", "Albums/Wedding": "Ben & Clara's wedding",
        "2019 Lisbon": "Lisbon", "2019 Lisbon/Day 2": "Lisbon", "2001-07 Lake Garda": "Lake Garda",
        "Family": None,
    }
    titles = {folder: (a.title if (a := namer.folder_album(ROOT, folder)) else None) for folder in expected}
    assert titles == expected


def test_an_album_names_a_memory_only_with_a_majority_and_matching_dates():
    namer = AlbumNamer({})
    paths = {1: [(ROOT, "2019 Lisbon/a.jpg")], 2: [(ROOT, "2019 Lisbon/b.jpg")],
             3: [(ROOT, "DCIM/Camera/c.jpg"), (ROOT, "2019 Lisbon/c.jpg")], 4: [(ROOT, "DCIM/Camera/d.jpg")]}
    aug = (date(2019, 8, 2), date(2019, 8, 6))
    album, n = namer.hint(paths, [1, 2, 3, 4], *aug)
    assert (album.title, n) == ("Lisbon", 3)  # a copy inside the album counts for it
    assert namer.hint(paths, [1, 2, 4, 5], *aug) is None  # two of four is not more than half
    assert namer.hint(paths, [1, 2, 3], date(2021, 8, 2), date(2021, 8, 6)) is None  # the folder says 2019


def test_a_dated_folder_must_overlap_the_memory():
    namer = AlbumNamer({})
    paths = {k: [(ROOT, f"2019-08-03 Zoo/{k}.jpg")] for k in range(4)}
    assert namer.hint(paths, [0, 1, 2], date(2019, 8, 2), date(2019, 8, 6))[0].title == "Zoo"
    assert namer.hint(paths, [0, 1, 2], date(2019, 8, 4), date(2019, 8, 6)) is None


def test_a_day_dated_scan_folder_becomes_a_period_of_that_day(tmp_path):
    """Six prints in '2005-12-24 Christmas' all sit at 12:00 (one moment to the day rules), so the folder
    itself is the memory; the control spreads them over two days and makes none."""
    db, _ = roll_db(SEED)
    photos = Photos(db)
    ids = [photos.add(f"Scans/2005-12-24 Christmas/scan_{k}.jpg", datetime(2005, 12, 24, 12, 0),
                      precision="day", source="folder-name+home_tz") for k in range(6)]
    run_selection(selection_config(tmp_path), db, today=TODAY)
    [period] = [m for m in store_memories.list_memories(db, kind="period") if m["start"] == "2005-12-24"]
    assert period["title"] == "Christmas, Dec 24, 2005" and period["end"] == "2005-12-24"
    assert period["reason"] == "period: 6 photos dated to Dec 24, 2005 only by their folder '2005-12-24 Christmas'"
    assert _member_ids(db, period["id"]) == set(ids)

    db, _ = roll_db(SEED)
    photos = Photos(db)
    for k in range(6):
        photos.add(f"Scans/2005-12 Christmas/scan_{k}.jpg", datetime(2005, 12, 24 + k % 2, 12, 0),
                   precision="day", source="iptc+home_tz")
    run_selection(selection_config(tmp_path), db, today=TODAY)
    assert not [m for m in store_memories.list_memories(db, kind="period") if m["start"].startswith("2005-12")]
