"""Hiding a person (issue 14, part 1): real selection runs on generated rolls, and the CLI as real processes.

A hidden person is on no photo of any suggestion and is named by none (title, people, reason); "through
the years", pairs and birthdays with them go; an approved memory keeps its picks; their faces stay; unhide
brings them back; "days" mode leaves out whole days; and the state survives a backup and a restore.
"""

from __future__ import annotations

import numpy as np
import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.memories import hidden
from homeroll.daemon.memories.library import PRECISION_YEAR, Library, load_library
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import hiding as store_hiding
from homeroll.daemon.store import memories as store_memories
from tests.conftest import cli_json, run_cli
from tests.memories.camera_roll import generate
from tests.memories.conftest import TODAY, roll_db, selection_config


def _photos_of(db, person_id: int) -> set[int]:
    return {item for item, pid in store_memories.face_links(db) if pid == person_id}


def _memories(db) -> dict[str, dict]:
    """stable key -> memory with its picks and members (item ids)."""
    out = {}
    picks = store_memories.picked_items(db)
    for m in store_memories.list_memories(db):
        rows = db.execute("SELECT item_id FROM memory_items WHERE memory_id = ? AND removed_by_user = 0",
                          [m["id"]]).fetchall()
        out[m["stable_key"]] = {**m, "pick_ids": picks.get(m["id"], []), "member_ids": {r[0] for r in rows}}
    return out


def _names(m: dict, name: str) -> bool:
    return name in m["title"] or name in (m["reason"] or "") or name in m["people"]


def _faces(db, person_id: int) -> list[tuple]:
    return db.execute("SELECT id, item_id, top, left, bottom, right, encoding, crop, ignored FROM faces "
                      "WHERE person_id = ? ORDER BY id", [person_id]).fetchall()


def test_a_hidden_person_leaves_every_suggestion_and_approved_memories_keep_their_picks(tmp_path):
    db, truth = roll_db(1)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    anna = truth.people["Anna"]
    anna_photos = _photos_of(db, anna)
    before = _memories(db)
    keys = set(before)
    assert {f"person:{anna}", f"pair:{anna}:{truth.people['Ben']}"} <= keys
    assert any(k.startswith(f"birthday:{anna}:") for k in keys)
    # the household approved one party she is at: it stays as it was
    party_key = next(k for k, m in before.items() if m["kind"] == "gathering" and set(m["pick_ids"]) & anna_photos)
    store_memories.approve(db, before[party_key]["id"])
    faces_before = _faces(db, anna)

    result = hidden.set_hidden(db, cfg, anna, True, TODAY)
    assert result["changed"] and result["selection"]["dropped"] >= 3, result
    assert result["text"].startswith(f"Anna (person {anna}) is hidden from new memories; selection: ")

    after = _memories(db)
    suggestions = {k: m for k, m in after.items() if m["status"] == "suggested"}
    assert suggestions
    for key, m in suggestions.items():
        assert not m["member_ids"] & anna_photos, key
        assert not _names(m, "Anna"), (key, m["title"], m["reason"], m["people"])
    assert f"person:{anna}" not in after
    assert not [k for k in after if k.startswith(("pair:", "birthday:")) and str(anna) in k.split(":")[1:3]]
    assert "Ben & Clara" in {m["title"] for m in suggestions.values()}  # the others' pairs stay
    approved = after[party_key]
    assert approved["status"] == "approved" and approved["pick_ids"] == before[party_key]["pick_ids"]
    assert (approved["title"], approved["people"]) == (before[party_key]["title"], before[party_key]["people"])
    assert faces_before and _faces(db, anna) == faces_before
    hiding = store_hiding.state(db, anna)
    assert hiding["hidden"] and hiding["hidden_at"] and hiding["hidden_by"]

    # hiding twice changes nothing and runs no selection; the first hiding stands
    again = hidden.set_hidden(db, cfg, anna, True, TODAY)
    assert again == {"changed": False, "selection": None,
                     "text": f"Anna (person {anna}) is hidden from memories already: nothing changed"}
    assert store_hiding.state(db, anna) == hiding

    shown = hidden.set_hidden(db, cfg, anna, False, TODAY)
    assert shown["changed"] and shown["selection"]["created"] >= 3
    back = _memories(db)
    assert f"person:{anna}" in back and any(k.startswith(f"birthday:{anna}:") for k in back)
    assert any(set(m["pick_ids"]) & anna_photos for m in back.values() if m["status"] == "suggested")
    assert back[party_key]["pick_ids"] == before[party_key]["pick_ids"]
    assert store_hiding.state(db, anna) == {"hidden": False, "hidden_at": None, "hidden_by": None}


def _days_of(db, cfg, person_id: int) -> tuple[set[int], dict[int, int]]:
    """(the outing days the person is photographed on, item id -> outing day) of the selection's library."""
    lib = load_library(db, home_tz=cfg.home_tz)
    rows = lib.person_rows[person_id]
    days = set(lib.outing_day[rows[~lib.imprecise[rows]]].tolist())
    return days, dict(zip(lib.ids.tolist(), lib.outing_day.tolist(), strict=True))


@pytest.mark.parametrize("mode", ["photos", "days"])
def test_days_mode_leaves_out_every_photo_of_their_days_and_photos_mode_only_theirs(tmp_path, mode):
    db, truth = roll_db(2)
    cfg = selection_config(tmp_path, hide_mode=mode)
    ben = truth.people["Ben"]
    ben_days, day_of = _days_of(db, cfg, ben)
    store_hiding.hide(db, ben)
    run_selection(cfg, db, today=TODAY)
    members = set().union(*(m["member_ids"] for m in _memories(db).values()))
    assert members and not members & _photos_of(db, ben)
    on_ben_days = {i for i in members if day_of.get(i) in ben_days}
    if mode == "days":
        assert not on_ben_days
    else:  # the rest of his days still make memories: the two modes differ on this roll
        assert len(on_ben_days) > 50


def _tiny_library() -> Library:
    """Six photos: day 10 (Anna hidden on one, Ben on another), day 11 (Ben), and a scan dated to 10's year."""
    n = 6
    day = np.array([10, 10, 10, 11, 11, 10], dtype=np.int32)
    lib = Library(
        ids=np.arange(1, n + 1, dtype=np.int64), t=np.arange(n, dtype=np.float64), day=day, outing_day=day.copy(),
        lat=np.full(n, np.nan), lon=np.full(n, np.nan), place=np.full(n, -1, dtype=np.int64),
        quality=np.full(n, 0.5, dtype=np.float32), faces=np.array([1, 1, 0, 1, 0, 1], dtype=np.int16),
        face_size=np.zeros(n, dtype=np.float32), phash=np.zeros(n, dtype=np.uint64), video=np.zeros(n, dtype=bool),
        precision=np.array([0, 0, 0, 0, 0, PRECISION_YEAR], dtype=np.int8),
    )
    lib.people = {1: {"id": 1, "name": "Anna", "birthday": "05-14"}, 2: {"id": 2, "name": "Ben", "birthday": None}}
    lib.person_rows = {1: np.array([0, 5]), 2: np.array([0, 1, 3])}
    lib.row_people = {0: (1, 2), 1: (2,), 3: (2,), 5: (1,)}
    lib.named_count = np.array([2, 1, 0, 1, 0, 1], dtype=np.int8)
    return lib


def test_rows_to_drop_by_mode_and_a_library_that_no_longer_knows_them():
    lib = _tiny_library()
    assert np.flatnonzero(hidden.rows_to_drop(lib, {1}, "photos")).tolist() == [0, 5]
    # row 2 shares day 10 with Anna's photo; the scan (row 5) is hers, day 11 is not hers
    assert np.flatnonzero(hidden.rows_to_drop(lib, {1}, "days")).tolist() == [0, 1, 2, 5]
    assert np.flatnonzero(hidden.rows_to_drop(lib, {3}, "days")).tolist() == []  # nobody with that id
    # a scan dated only to the year has no real day: hiding its person takes no other photo of "1 January"
    lib.person_rows = {1: np.array([5])}
    assert np.flatnonzero(hidden.rows_to_drop(lib, {1}, "days")).tolist() == [5]

    lib = _tiny_library()
    out = hidden.without_people(lib, {1})
    assert set(out.people) == {2} and set(out.person_rows) == {2}
    assert out.row_people == {0: (2,), 1: (2,), 3: (2,)}
    assert out.named_count.tolist() == [1, 1, 0, 1, 0, 0]
    assert out.named(1) is None and out.named(2) == "Ben"
    # the library it came from is untouched (subset shares its people dict with others)
    assert set(lib.people) == {1, 2} and lib.row_people[0] == (1, 2) and lib.named_count.tolist()[0] == 2
    assert hidden.without_people(lib, set()) is lib


@pytest.fixture(scope="module")
def cli_setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hide-cli")
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


def _person(cfg, person_id: int) -> dict:
    return next(p for p in cli_json(cfg.path, "people", "--json") if p["id"] == person_id)


def test_hide_and_unhide_through_the_cli_and_the_state_survives_backup_and_restore(cli_setup):
    cfg, truth = cli_setup
    clara = truth.people["Clara"]
    assert _person(cfg, clara)["hidden"] is False and _person(cfg, clara)["hidden_at"] is None
    faces = cli_json(cfg.path, "faces", "--json", "--person", str(clara))
    assert faces

    proc = run_cli(cfg.path, "people", "hide", str(clara), "--today", "2022-12-27")
    line = proc.stdout.strip()
    assert line.startswith(f"Clara (person {clara}) is hidden from new memories; selection: ") and "dropped" in line
    assert len(line.splitlines()) == 1
    listing = cli_json(cfg.path, "memories", "--json")
    assert listing and not [m for m in listing if m["status"] == "suggested" and "Clara" in
                            (m["title"] + (m["reason"] or "") + " ".join(m["people"]))]
    person = _person(cfg, clara)
    assert person["hidden"] is True and person["hidden_at"] and person["hidden_by"]
    table = run_cli(cfg.path, "people").stdout
    assert f"hidden from memories since {person['hidden_at'][:10]} by {person['hidden_by']}" in table
    again = cli_json(cfg.path, "people", "hide", str(clara), "--json")
    assert again["selection"] is None and again["hidden_at"] == person["hidden_at"]
    assert cli_json(cfg.path, "faces", "--json", "--person", str(clara)) == faces  # hiding deletes no face

    backup = cli_json(cfg.path, "backup", "--json")["path"]
    shown = cli_json(cfg.path, "people", "unhide", str(clara), "--today", "2022-12-27", "--json")
    assert shown["hidden"] is False and shown["hidden_by"] is None and shown["selection"]["created"] >= 1
    assert any("Clara" in m["title"] for m in cli_json(cfg.path, "memories", "--json"))

    run_cli(cfg.path, "db", "restore", backup, "--yes")
    restored = _person(cfg, clara)
    assert (restored["hidden"], restored["hidden_at"], restored["hidden_by"]) == (
        True, person["hidden_at"], person["hidden_by"])
    # and the restored state is what the next selection obeys
    cli_json(cfg.path, "select", "--today", "2022-12-27")
    assert not [m for m in cli_json(cfg.path, "memories", "--status", "suggested", "--json")
                if "Clara" in m["title"] or "Clara" in m["people"]]


@pytest.mark.parametrize("command", ["hide", "unhide"])
def test_an_unknown_person_is_one_line_and_exit_2(cli_setup, command):
    cfg, _ = cli_setup
    proc = run_cli(cfg.path, "people", command, "99999", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == "homeroll: no person with id 99999 (see `homeroll people`)", proc.stderr


def test_what_selection_does_not_re_curate_loses_the_hidden_person_too(tmp_path):
    """An edited suggestion no rule proposes any more is kept, not re-curated; photos offered to an approved
    memory are not its picks: neither may keep showing a hidden person (store/leftout.py)."""
    db, truth = roll_db(1)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    anna, ben = truth.people["Anna"], truth.people["Ben"]
    anna_photos = _photos_of(db, anna)
    before = _memories(db)
    pair = before[f"pair:{anna}:{ben}"]
    store_memories.rename(db, pair["id"], "Our two")          # edited: kept when no rule proposes it
    party_key = next(k for k, m in before.items() if m["kind"] == "gathering" and set(m["pick_ids"]) & anna_photos)
    party = before[party_key]
    store_memories.approve(db, party["id"])
    offered = sorted(anna_photos - party["member_ids"])[:3]
    store_memories.offer_items(db, party["id"], offered)

    hidden.set_hidden(db, cfg, anna, True, TODAY)
    after = _memories(db)
    kept = next((m for m in after.values() if m["id"] == pair["id"]), None)
    assert kept is None or not kept["member_ids"] & anna_photos  # every pair photo shows her: it goes
    approved = after[party_key]
    assert approved["pick_ids"] == party["pick_ids"]               # its own picks stay the household's
    assert not set(offered) & approved["member_ids"]
    offered_rows = db.execute("SELECT COUNT(*) FROM memory_items WHERE memory_id = ? AND offered = 1",
                              [party["id"]]).fetchone()[0]
    assert offered_rows == 0
