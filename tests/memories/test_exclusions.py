"""Excluded periods and places (issue 14, part 2): real selection runs on generated rolls, the CLI as real
processes.

An excluded period or place is in no new memory and no suggestion after re-selection, while an approved
memory keeps its picks; a circle and a named place leave out the same photos; `memories show` says what was
left out and why; bad input is one line and exit 2; and the exclusions survive a backup and a restore.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.errors import UserError
from homeroll.daemon.memories import exclusions
from homeroll.daemon.memories.library import PRECISION_MONTH, PRECISION_YEAR, Library, load_library
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import exclusions as store_exclusions
from homeroll.daemon.store import memories as store_memories
from tests.conftest import cli_json, run_cli
from tests.memories.camera_roll import generate
from tests.memories.conftest import TODAY, roll_db, selection_config
from tests.memories.roll_plan import CITIES


def _memories(db) -> dict[str, dict]:
    """stable key -> memory with its picks and members (item ids)."""
    out = {}
    picks = store_memories.picked_items(db)
    for m in store_memories.list_memories(db):
        rows = db.execute("SELECT item_id FROM memory_items WHERE memory_id = ? AND removed_by_user = 0",
                          [m["id"]]).fetchall()
        out[m["stable_key"]] = {**m, "pick_ids": picks.get(m["id"], []), "member_ids": {r[0] for r in rows}}
    return out


def _items_on(db, start: date, end: date, usable: bool = False) -> set[int]:
    """Items taken on these local dates (``usable``: only those selection may use: no screenshot, no messenger)."""
    only = " AND kind != 'screenshot' AND is_messenger = 0" if usable else ""
    return {r[0] for r in db.execute(f"SELECT id FROM items WHERE substr(taken_at_local, 1, 10) BETWEEN ? AND ?{only}",
                                     [start.isoformat(), end.isoformat()])}


def _trip(memories: dict[str, dict], start: date, end: date) -> dict:
    return next(m for m in memories.values() if m["kind"] == "trip" and m["start"] <= start.isoformat()
                and m["end"] >= end.isoformat())


def test_an_excluded_period_is_in_no_new_memory_and_an_approved_one_keeps_its_picks(tmp_path):
    db, truth = roll_db(1)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    kept_trip, cut_trip = [t for t in truth.trips if (t.end - t.start).days >= 4][:2]
    before = _memories(db)
    approved = _trip(before, kept_trip.start, kept_trip.end)
    store_memories.approve(db, approved["id"])
    suggestion = _trip(before, cut_trip.start, cut_trip.end)
    # two days in the middle of each trip: "skip the days Grandpa was in hospital"
    periods = [(t.start + timedelta(days=1), t.start + timedelta(days=2)) for t in (kept_trip, cut_trip)]
    excluded = set().union(*(_items_on(db, a, b) for a, b in periods))
    assert before[suggestion["stable_key"]]["member_ids"] & excluded

    results = [exclusions.exclude(db, cfg, period=f"{a}..{b}", reason="hospital", today=TODAY) for a, b in periods]
    assert results[1]["text"].startswith(f"excluded dates {periods[1][0]}..{periods[1][1]} (exclusion 2): ")
    assert "photos left out of new memories; selection: " in results[1]["text"]
    assert results[1]["photos"] == len(_items_on(db, *periods[1], usable=True))
    assert results[1]["selection"]["updated"] >= 1

    after = _memories(db)
    for key, m in after.items():
        if m["status"] == "suggested":
            assert not m["member_ids"] & excluded, key
    cut = after[suggestion["stable_key"]]  # the same memory, re-selected without those days
    assert cut["status"] == "suggested" and cut["member_ids"] and cut["member_ids"] < suggestion["member_ids"]
    assert (cut["start"], cut["end"]) == (suggestion["start"], suggestion["end"])
    kept = after[approved["stable_key"]]
    assert (kept["status"], kept["pick_ids"]) == ("approved", before[approved["stable_key"]]["pick_ids"])
    assert set(kept["pick_ids"]) & excluded  # it was approved before: selection leaves it as it was

    # `memories show` says why; the approved one says what it kept
    [entry] = exclusions.left_out(db, store_memories.get_memory(db, cut["id"]))
    assert (entry["exclusion_id"], entry["reason"], entry["in_memory"]) == (2, "hospital", 0)
    assert entry["photos"] == len(suggestion["member_ids"] - cut["member_ids"])
    assert exclusions.left_out_lines([entry]) == [
        f"Left out because: dates {periods[1][0]}..{periods[1][1]} (exclusion 2: hospital): "
        f"{entry['photos']} photos of its dates"]
    [kept_entry] = exclusions.left_out(db, store_memories.get_memory(db, kept["id"]))
    assert kept_entry["in_memory"] > 0
    assert exclusions.left_out_lines([kept_entry])[0].startswith("Kept although excluded: dates ")

    # removed, the days come back to the suggestion
    back = exclusions.unexclude(db, cfg, 2, today=TODAY)
    assert back["text"].startswith(f"removed exclusion 2 (dates {periods[1][0]}..{periods[1][1]}); selection: ")
    assert _memories(db)[suggestion["stable_key"]]["member_ids"] == suggestion["member_ids"]
    assert [e["id"] for e in store_exclusions.list_exclusions(db)] == [1]


def _lisbon_trip(truth):
    return next(t for t in truth.trips if "Sintra" in t.words)


@pytest.mark.parametrize("seed", [1, 2])
def test_a_circle_and_a_named_place_leave_out_the_same_photos(tmp_path, seed):
    """Sintra by name (any case) and a 10 km circle around it: every photo the roll took there has GPS and
    the Sintra place, and Lisbon is 20 km away, so both leave out the same photos and make the same memories."""
    outcomes = []
    lat, lon = CITIES["sintra"][:2]
    for spec in ({"place": "sINTRA"}, {"near": f"{lat},{lon}", "radius_km": 10.0}):
        db, truth = roll_db(seed)
        cfg = selection_config(tmp_path / next(iter(spec)))
        run_selection(cfg, db, today=TODAY)
        sintra = {r[0] for r in db.execute("SELECT i.id FROM items i JOIN places p ON p.id = i.place_id "
                                           "WHERE p.city = 'Sintra'")}
        trip = _lisbon_trip(truth)
        assert _trip(_memories(db), trip.start, trip.end)["member_ids"] & sintra
        result = exclusions.exclude(db, cfg, today=TODAY, **spec)
        assert result["photos"] == len(sintra)
        after = _memories(db)
        assert not set().union(*(m["member_ids"] for m in after.values())) & sintra
        lisbon = _trip(after, trip.start, trip.start)  # the trip is still there, with its Lisbon days
        assert "Sintra" not in lisbon["title"] and "Lisbon" in lisbon["title"]
        outcomes.append({k: (m["title"], m["member_ids"]) for k, m in after.items()})
    assert outcomes[0] == outcomes[1]


def test_a_named_place_falls_back_to_the_stored_place_and_a_circle_needs_gps():
    db, _ = roll_db(1)
    sintra = [r[0] for r in db.execute("SELECT i.id FROM items i JOIN places p ON p.id = i.place_id "
                                       "WHERE p.city = 'Sintra' ORDER BY i.id")]
    no_gps = sintra[:5]  # as a phone that knew the town from the network, not the satellites
    db.execute(f"UPDATE items SET lat = NULL, lon = NULL WHERE id IN ({','.join(map(str, no_gps))})")
    lib = load_library(db, home_tz="Europe/Berlin")
    lat, lon = CITIES["sintra"][:2]
    by_name = set(lib.ids[exclusions.rows_to_drop(lib, [{"kind": "place", "place_name": " sintra "}])].tolist())
    circle = {"kind": "place", "place_name": None, "lat": lat, "lon": lon, "radius_km": 10.0}
    by_circle = set(lib.ids[exclusions.rows_to_drop(lib, [circle])].tolist())
    assert by_name == set(sintra) and by_circle == set(sintra) - set(no_gps)
    # a region or a country names every place in it; a name no place has leaves out nothing
    lisbon_region = set(lib.ids[exclusions.rows_to_drop(lib, [{"kind": "place", "place_name": "LISBON"}])].tolist())
    assert set(sintra) < lisbon_region
    portugal = exclusions.rows_to_drop(lib, [{"kind": "place", "place_name": "Portugal"}])
    assert set(lib.ids[portugal].tolist()) == lisbon_region
    assert not exclusions.rows_to_drop(lib, [{"kind": "place", "place_name": "Porto"}]).any()


def test_a_period_takes_a_photo_dated_only_to_a_month_or_year_when_all_of_it_is_inside():
    n = 6
    day = np.array([date(2023, 2, 1), date(2023, 3, 15), date(2023, 3, 16), date(2023, 2, 1), date(2023, 1, 1),
                    date(2023, 3, 1)])
    day = np.array([d.toordinal() for d in day], dtype=np.int32)
    lib = Library(
        ids=np.arange(1, n + 1, dtype=np.int64), t=np.arange(n, dtype=np.float64), day=day, outing_day=day.copy(),
        lat=np.full(n, np.nan), lon=np.full(n, np.nan), place=np.full(n, -1, dtype=np.int64),
        quality=np.full(n, 0.5, dtype=np.float32), faces=np.zeros(n, dtype=np.int16),
        face_size=np.zeros(n, dtype=np.float32), phash=np.zeros(n, dtype=np.uint64), video=np.zeros(n, dtype=bool),
        precision=np.array([0, 0, 0, PRECISION_MONTH, PRECISION_YEAR, PRECISION_MONTH], dtype=np.int8),
    )
    period = {"kind": "period", "start": "2023-02-01", "end": "2023-03-15"}
    # both ends included; February (all of it inside) goes, March (half outside) and the year 2023 stay
    assert exclusions.rows_to_drop(lib, [period]).tolist() == [True, True, False, True, False, False]
    year = {"kind": "period", "start": "2023-01-01", "end": "2023-12-31"}
    assert exclusions.rows_to_drop(lib, [year]).all()


def test_the_store_refuses_what_makes_no_exclusion(memdb):
    first = store_exclusions.add_period(memdb, date(2023, 2, 1), date(2023, 3, 15), "hospital")
    row = store_exclusions.get_exclusion(memdb, first)
    assert (row["kind"], row["start"], row["end"], row["reason"]) == ("period", "2023-02-01", "2023-03-15", "hospital")
    assert row["created_by"] and row["created_at"].endswith("+00:00")
    cases = [
        (lambda: store_exclusions.add_period(memdb, date(2023, 3, 15), date(2023, 2, 1)),
         "the period ends before it starts: 2023-03-15..2023-02-01"),
        (lambda: store_exclusions.add_period(memdb, date(2023, 2, 1), date(2023, 3, 15)),
         "2023-02-01..2023-03-15 is already excluded (exclusion 1, see `homeroll memories exclusions`)"),
        (lambda: store_exclusions.add_place(memdb, lat=95, lon=0, radius_km=1), "latitude 95 is out of range"),
        (lambda: store_exclusions.add_place(memdb, lat=0, lon=200, radius_km=1), "longitude 200 is out of range"),
        (lambda: store_exclusions.add_place(memdb, lat=1, lon=2, radius_km=0), "the radius must be more than 0 km"),
        (lambda: store_exclusions.add_place(memdb, lat=1, lon=2), "a place is either a name or a point"),
        (lambda: store_exclusions.add_place(memdb, place_name="  "), "a place is either a name or a point"),
        (lambda: store_exclusions.remove(memdb, 99), "no exclusion with id 99"),
    ]
    for call, message in cases:
        with pytest.raises(UserError) as caught:
            call()
        assert str(caught.value).startswith(message), str(caught.value)
    porto = store_exclusions.add_place(memdb, place_name="Porto")
    with pytest.raises(UserError, match="'porto' is already excluded"):
        store_exclusions.add_place(memdb, place_name="porto")
    assert [e["id"] for e in store_exclusions.list_exclusions(memdb)] == [first, porto]


# -- the CLI as real processes ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("exclude-cli")
    library = tmp / "library"
    library.mkdir()
    cfg = config_mod.build(tmp / "config.toml", [library], tmp / "data", tmp / "export", "Europe/Berlin",
                           {"export": {"outputs": ["collage"], "auto": False}, "faces": {"enabled": False}})
    config_mod.save(cfg)
    db = store.connect(cfg.db_path)
    truth = generate(db, 4, root=str(library), years=2)
    db.close()
    cli_json(cfg.path, "select", "--today", "2022-12-27")
    return cfg, truth


def test_exclude_show_list_unexclude_and_the_exclusion_survives_backup_and_restore(cli_setup):
    cfg, truth = cli_setup
    trip = next(t for t in truth.trips if (t.end - t.start).days >= 4)
    day = trip.start + timedelta(days=2)
    trips = cli_json(cfg.path, "memories", "--kind", "trip", "--json")
    memory = next(m for m in trips if m["start"] == str(trip.start))
    proc = run_cli(cfg.path, "memories", "exclude", str(day), "--reason", "Grandpa in hospital",
                   "--today", "2022-12-27")
    [line] = proc.stdout.strip().splitlines()
    assert line.startswith(f"excluded date {day} (exclusion 1): ") and "; selection: " in line, line

    shown = run_cli(cfg.path, "memories", "show", str(memory["id"])).stdout
    assert f"  Left out because: date {day} (exclusion 1: Grandpa in hospital): " in shown, shown
    data = cli_json(cfg.path, "memories", "show", str(memory["id"]), "--json")
    [entry] = data["left_out"]
    assert (entry["exclusion_id"], entry["what"], entry["reason"], entry["in_memory"]) == (
        1, f"date {day}", "Grandpa in hospital", 0) and entry["photos"] > 0
    assert not [p for p in data["items"] if p["taken_at"].startswith(str(day))]

    near = cli_json(cfg.path, "memories", "exclude", "--near", "38.72,-9.14", "--radius-km", "0.5", "--json",
                    "--today", "2022-12-27")
    assert near["exclusion"]["radius_km"] == 0.5 and near["selection"] is not None
    listing = cli_json(cfg.path, "memories", "exclusions", "--json")
    assert [(e["id"], e["kind"], e["what"]) for e in listing] == [
        (1, "period", f"date {day}"), (2, "place", "within 0.5 km of 38.72,-9.14")]
    assert listing[0]["photos"] == entry["photos"] and listing[0]["created_by"]
    table = run_cli(cfg.path, "memories", "exclusions").stdout
    assert f"    1  date {day} (Grandpa in hospital): {entry['photos']} photos left out, by " in table

    backup = cli_json(cfg.path, "backup", "--json")["path"]
    gone = run_cli(cfg.path, "memories", "unexclude", "1", "--today", "2022-12-27").stdout.strip()
    assert gone.startswith(f"removed exclusion 1 (date {day}); selection: "), gone
    assert "Left out because" not in run_cli(cfg.path, "memories", "show", str(memory["id"])).stdout
    run_cli(cfg.path, "db", "restore", backup, "--yes")
    assert [e["id"] for e in cli_json(cfg.path, "memories", "exclusions", "--json")] == [1, 2]
    # and the restored exclusion is what the next selection obeys
    cli_json(cfg.path, "select", "--today", "2022-12-27")
    again = cli_json(cfg.path, "memories", "show", str(memory["id"]), "--json")
    assert again["left_out"][0]["exclusion_id"] == 1
    assert not [p for p in again["items"] if p["taken_at"].startswith(str(day))]


@pytest.mark.parametrize("args, message", [
    (["2023-03-15..2023-02-01"], "the period ends before it starts: 2023-03-15..2023-02-01"),
    (["2023-02-30"], "'2023-02-30' is not a real date"),
    (["Feb 2023"], "a period is YYYY-MM-DD..YYYY-MM-DD or one day YYYY-MM-DD, not 'Feb 2023'"),
    (["--near", "91,0"], "latitude 91 is out of range (-90 to 90)"),
    (["--near", "38.7,-9.1", "--radius-km", "0"], "the radius must be more than 0 km, not 0"),
    (["--near", "Lisbon"], "a point is LAT,LON in degrees (e.g. 38.72,-9.14), not 'Lisbon'"),
    (["2023-02-01", "--place", "Porto"], "exclude one thing at a time: a period and --place were both given"),
    (["--radius-km", "2", "--place", "Porto"], "--radius-km goes with --near LAT,LON"),
    ([], "say what to exclude: a period YYYY-MM-DD..YYYY-MM-DD, --place NAME or --near LAT,LON"),
])
def test_bad_input_is_one_line_and_exit_2_and_nothing_is_stored(cli_setup, args, message):
    cfg, _ = cli_setup
    before = cli_json(cfg.path, "memories", "exclusions", "--json")
    proc = run_cli(cfg.path, "memories", "exclude", *args, check=False)
    assert proc.returncode == 2 and proc.stdout == "", proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"homeroll: {message}"), proc.stderr
    assert cli_json(cfg.path, "memories", "exclusions", "--json") == before


def test_unexclude_an_unknown_id_is_one_line_and_exit_2(cli_setup):
    cfg, _ = cli_setup
    proc = run_cli(cfg.path, "memories", "unexclude", "999", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == "homeroll: no exclusion with id 999 (see `homeroll memories exclusions`)"
