"""The family's own occasions: the store, the memories they become on a generated roll, and the CLI.

Selection runs on real SQLite copies of the generated roll (tests/memories/camera_roll.py); the CLI
tests run `homeroll occasions …` as real processes against a DB file.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.errors import UserError
from homeroll.daemon.memories import family_occasions
from homeroll.daemon.memories.family_occasions import first_title, occasion_title
from homeroll.daemon.memories.library import load_library
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.memories.titles import day_span, ordinal
from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store import occasions as store_occasions
from tests.conftest import cli_json, run_cli
from tests.memories.camera_roll import generate
from tests.memories.conftest import TODAY, roll_db, selection_config


def _d(value: str) -> date:
    return date.fromisoformat(value[:10])


def _on(db, kind: str, day: date) -> list[dict]:
    return [m for m in store_memories.list_memories(db, kind=kind) if _d(m["start"]) <= day <= _d(m["end"])]


# -- the store ---------------------------------------------------------------------------------------
def test_add_list_remove_with_who_and_when(memdb):
    memdb["people"].insert({"name": "Lea", "created_at": "2025-01-01T00:00:00+00:00"})
    first = store_occasions.add_occasion(memdb, "Lea's graduation", "2025-06-28", people=["lea"])
    second = store_occasions.add_occasion(memdb, "Our wedding anniversary", date(2014, 6, 21), yearly=True, days=2)
    rows = store_occasions.list_occasions(memdb)
    assert [r["id"] for r in rows] == [first, second]
    assert rows[0]["people"] == ["Lea"]  # spelt as `homeroll people` spells it
    assert rows[1]["yearly"] is True and rows[1]["days"] == 2 and rows[1]["uid"] is None
    assert rows[0]["created_by"] and rows[0]["created_at"] and rows[0]["source"] == "cli"
    assert store_occasions.remove_occasion(memdb, first)["title"] == "Lea's graduation"
    assert [r["id"] for r in store_occasions.list_occasions(memdb)] == [second]
    with pytest.raises(UserError, match="no occasion with id"):
        store_occasions.remove_occasion(memdb, first)


@pytest.mark.parametrize("args, message", [
    (("Ben's party", "2025-06-28", 1, ["Ben"]), "no person named 'Ben' \\(see `homeroll people`\\)"),
    (("Party", "28.06.2025", 1, []), "is not a date"),
    (("  ", "2025-06-28", 1, []), "needs a title"),
    (("Party", "2025-06-28", 40, []), "1 to 31 days"),
])
def test_bad_input_is_one_line(memdb, args, message):
    title, day, days, people = args
    with pytest.raises(UserError, match=message):
        store_occasions.add_occasion(memdb, title, day, days=days, people=people)
    assert store_occasions.list_occasions(memdb) == []


def test_the_same_occasion_twice_is_refused(memdb):
    store_occasions.add_occasion(memdb, "Moving day", "2024-03-01")
    with pytest.raises(UserError, match="already 'Moving day' on 2024-03-01"):
        store_occasions.add_occasion(memdb, "Moving day", "2024-03-01")


def test_upsert_by_uid_updates_never_duplicates(memdb):
    a, outcome = store_occasions.upsert_occasion(memdb, "u-1", "Graduation", "2025-06-28", source="ics:a.ics")
    assert outcome == "added"
    assert store_occasions.upsert_occasion(memdb, "u-1", "Graduation", "2025-06-28", source="ics:a.ics") == (a, "unchanged")
    assert store_occasions.upsert_occasion(memdb, "u-1", "Lea's graduation", "2025-06-28",
                                           source="ics:b.ics") == (a, "updated")
    [row] = store_occasions.list_occasions(memdb)
    assert row["title"] == "Lea's graduation" and row["source"] == "ics:b.ics" and row["updated_at"]


def test_an_import_adopts_the_same_occasion_typed_in_by_hand(memdb):
    typed = store_occasions.add_occasion(memdb, "Moving day", "2024-03-01")
    assert store_occasions.upsert_occasion(memdb, "m-1", "Moving day", "2024-03-01", source="ics:a.ics") == (
        typed, "unchanged")
    [row] = store_occasions.list_occasions(memdb)
    assert row["uid"] == "m-1"


# -- titles ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("title, years, expected", [
    ("Our wedding anniversary", 10, "Our 10th wedding anniversary"),
    ("Wedding anniversary", 1, "1st wedding anniversary"),
    ("Lea & Ben's anniversary", 22, "Lea & Ben's 22nd anniversary"),
    ("The Smiths' Anniversary", 3, "The Smiths' 3rd Anniversary"),
    ("Anniversary", 12, "12th anniversary"),
    ("Moving day", 5, "Moving day, 5th anniversary"),
])
def test_yearly_titles_count_the_years(title, years, expected):
    assert occasion_title(title, years) == expected


@pytest.mark.parametrize("title, expected", [
    ("Our wedding anniversary", "Our wedding"), ("Wedding anniversary", "Wedding"),
    ("Lea & Ben's anniversary", "Lea & Ben's anniversary"), ("Anniversary", "Anniversary"),
    ("Moving day", "Moving day"),
])
def test_the_first_date_is_the_day_itself(title, expected):
    assert first_title(title) == expected


# -- the memories they become ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def party_roll(tmp_path_factory):
    """A roll, selected once without occasions: the baseline that has a gathering on a party day."""
    db, truth = roll_db(1)
    cfg = selection_config(tmp_path_factory.mktemp("occasions"))
    run_selection(cfg, db, today=TODAY)
    return db, truth, cfg


def test_an_occasion_becomes_its_memory_and_beats_the_gathering(party_roll):
    db, truth, cfg = party_roll
    day = truth.gatherings[0]
    assert _on(db, "gathering", day), "the baseline has a gathering on the party day"
    result = family_occasions.add_and_select(db, cfg, "Anna's graduation", day, people=["Anna"], today=TODAY)
    [memory] = _on(db, "occasion", day)
    assert memory["title"] == f"Anna's graduation, {day_span(day, day)}"
    assert not _on(db, "gathering", day), "the gathering yielded to the occasion"
    assert result["selection"]["dropped"] >= 1
    assert f"is memory {memory['id']} (suggested)" in result["text"]
    # the reason counts the photos of the occasion's day and Anna's share, from the DB's own faces
    full = store_memories.get_memory(db, memory["id"])
    members = {r[0] for r in db.execute("SELECT item_id FROM memory_items WHERE memory_id = ?", [memory["id"]])}
    anna = {r[0] for r in db.execute("SELECT item_id FROM faces WHERE person_id = ?", [truth.people["Anna"]])}
    assert memory["reason"] == (f"Anna's graduation, {day_span(day, day)}: {len(members)} photos, "
                                f"Anna in {len(members & anna)}")
    assert full["stable_key"] == f"occasion:{result['occasion']['id']}:{day.year}"
    assert "Anna" in memory["people"]
    # removed: its suggestion goes and the gathering comes back
    family_occasions.remove_and_select(db, cfg, result["occasion"]["id"], today=TODAY)
    assert not _on(db, "occasion", day) and _on(db, "gathering", day)


def test_a_yearly_occasion_is_one_memory_a_year_counting_the_years(party_roll):
    db, truth, cfg = party_roll
    day = truth.gatherings[0]
    first = day.replace(year=day.year - 10)
    result = family_occasions.add_and_select(db, cfg, "Our wedding anniversary", first, yearly=True,
                                             people=["Ben", "Anna"], today=TODAY)
    try:
        [memory] = _on(db, "occasion", day)
        assert memory["title"] == "Our 10th wedding anniversary"
        assert memory["reason"].startswith(
            f"Our wedding anniversary, {day_span(day, day)}, 10 years since {day_span(first, first)}: ")
        key = store_memories.get_memory(db, memory["id"])["stable_key"]
        assert key == f"occasion:{result['occasion']['id']}:{day.year}"
        # every year with photos on the day is its own anniversary, counted from the first date
        for m in store_memories.list_memories(db, kind="occasion"):
            start = _d(m["start"])
            assert (start.month, start.day) == (first.month, first.day)
            assert m["title"] == f"Our {ordinal(start.year - first.year)} wedding anniversary"
    finally:
        family_occasions.remove_and_select(db, cfg, result["occasion"]["id"], today=TODAY)


def test_too_few_photos_make_no_memory_and_the_line_says_so(party_roll):
    db, truth, cfg = party_roll
    lib = load_library(db, home_tz=cfg.home_tz)
    used = set(np.unique(lib.outing_day).tolist())
    empty = next(truth.first_day + timedelta(days=k) for k in range(400)
                 if (truth.first_day + timedelta(days=k)).toordinal() not in used)
    result = family_occasions.add_and_select(db, cfg, "First day of school", empty, today=TODAY)
    try:
        assert "no memory of 'First day of school' yet: fewer than 3 photos" in result["text"]
        assert not store_memories.list_memories(db, kind="occasion")
    finally:
        family_occasions.remove_and_select(db, cfg, result["occasion"]["id"], today=TODAY)


def test_an_approved_occasion_memory_stays_when_the_occasion_goes(party_roll):
    db, truth, cfg = party_roll
    day = truth.gatherings[1]
    result = family_occasions.add_and_select(db, cfg, "Moving day", day, today=TODAY)
    [memory] = _on(db, "occasion", day)
    store_memories.approve(db, memory["id"])
    family_occasions.remove_and_select(db, cfg, result["occasion"]["id"], today=TODAY)
    assert store_memories.get_memory(db, memory["id"])["status"] == "approved"


# -- the CLI -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_roll(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("occasions-cli")
    library = tmp / "library"
    library.mkdir()
    cfg = config_mod.build(tmp / "config.toml", [library], tmp / "data", tmp / "export", "Europe/Berlin",
                           {"export": {"outputs": ["collage"]}})
    config_mod.save(cfg)
    db = store.connect(cfg.db_path)
    truth = generate(db, 4, root=str(library), years=2)
    db.close()
    run_cli(cfg.path, "select")
    return cfg, truth


def test_cli_add_list_remove(cli_roll):
    cfg, truth = cli_roll
    day = truth.gatherings[-1]
    proc = run_cli(cfg.path, "occasions", "add", "Clara's graduation", day.isoformat(), "--people", "clara,Anna",
                   "--days", "1")
    [line] = proc.stdout.strip().splitlines()
    assert line.startswith("added occasion ") and "selection: " in line and "(suggested)" in line
    listing = cli_json(cfg.path, "occasions", "list", "--json")
    [row] = [o for o in listing if o["title"] == "Clara's graduation"]
    assert row["people"] == ["Clara", "Anna"] and row["date"] == day.isoformat() and row["source"] == "cli"
    [made] = row["memories"]
    assert made["title"] == f"Clara's graduation, {day_span(day, day)}"
    assert cli_json(cfg.path, "occasions", "--json") == listing
    assert "Clara's graduation" in run_cli(cfg.path, "occasions").stdout
    removed = cli_json(cfg.path, "occasions", "remove", str(row["id"]), "--json")
    assert removed["occasion"]["id"] == row["id"] and removed["selection"]["dropped"] >= 1
    assert all(o["id"] != row["id"] for o in cli_json(cfg.path, "occasions", "list", "--json"))


def test_cli_yearly_json(cli_roll):
    cfg, truth = cli_roll
    day = truth.gatherings[0]
    out = cli_json(cfg.path, "occasions", "add", "Our wedding anniversary", day.replace(year=2011).isoformat(),
                   "--yearly", "--people", "Ben", "--json")
    try:
        assert out["occasion"]["yearly"] is True
        titles = {m["title"] for m in cli_json(cfg.path, "memories", "--kind", "occasion", "--json")}
        assert f"Our {ordinal(day.year - 2011)} wedding anniversary" in titles
    finally:
        run_cli(cfg.path, "occasions", "remove", str(out["occasion"]["id"]))


@pytest.mark.parametrize("args, message", [
    (("add", "Lea's graduation", "2025-06-28", "--people", "Lea"), "homeroll: no person named 'Lea' (see `homeroll people`)"),
    (("add", "Party", "2025-13-01"), "is not a date"),
    (("remove", "9999"), "no occasion with id 9999"),
])
def test_cli_bad_input_exits_2_with_one_line(cli_roll, args, message):
    cfg, _ = cli_roll
    before = cli_json(cfg.path, "occasions", "--json")
    proc = run_cli(cfg.path, "occasions", *args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len([line for line in proc.stderr.splitlines() if line.startswith("homeroll:")]) == 1
    assert json.loads(run_cli(cfg.path, "occasions", "--json").stdout) == before
