"""Who decided: each household decision about a memory keeps its Unix user and time (schema step m003).

On a real DB file: the decisions and their actor at an injected clock, the record in the same transaction
as the change (a refused change leaves no row, and a failed record undoes the change), the selection's
own updates unrecorded, `memories show` as a real process, actor() under sudo's variable in a real
subprocess, and a DB at m002 upgraded with its memories kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from sqlite_utils import Database

from homeroll.daemon import store
from homeroll.daemon.errors import UserError
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store.schema import migrations
from homeroll.tui.widgets.memory_summary import decision_line
from tests.conftest import cli_json, run_cli
from tests.memories.conftest import TODAY, roll_db, selection_config
from tests.tui.conftest import settle
from tests.tui.library import MEMORIES, NOW, add_memory, build

STAMP = "2026-12-02T10:14:00+00:00"  # 11:14 in Europe/Berlin, the config's home_tz


def unix_user() -> str:
    """The name of the user running the tests, from id(1): not the code under test."""
    return subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def household(make_config, monkeypatch):
    """A real DB file with a suggested memory (Lisbon) and an exported one (Christmas), at a pinned clock."""
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setattr(store_items, "now_iso", lambda: STAMP)
    cfg = make_config()
    db = store.connect(cfg.db_path)
    lisbon, lisbon_items = add_memory(db, cfg, MEMORIES[0], 1)
    christmas, _ = add_memory(db, cfg, MEMORIES[3], 100)
    yield cfg, db, lisbon, lisbon_items, christmas
    db.close()


def rows(db: Database) -> list[tuple]:
    return db.execute('SELECT memory_id, at, "by", action, detail FROM memory_decisions ORDER BY id').fetchall()


def test_each_decision_records_the_user_and_the_clock_in_order(household, monkeypatch):
    _, db, lisbon, items, _ = household
    me = unix_user()
    store_memories.approve(db, lisbon)
    store_memories.rename(db, lisbon, "  Our Lisbon  ")
    store_memories.set_cover(db, lisbon, items[2])
    store_memories.remove_item(db, lisbon, items[0])
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setattr(store_items, "now_iso", lambda: "2026-12-03T08:00:00+00:00")
    store_memories.reject(db, lisbon)
    store_memories.mark_exported(db, lisbon)
    assert rows(db) == [
        (lisbon, STAMP, me, "approved", None),
        (lisbon, STAMP, me, "renamed", "Our Lisbon"),
        (lisbon, STAMP, me, "cover", str(items[2])),
        (lisbon, STAMP, me, "removed_item", str(items[0])),
        (lisbon, "2026-12-03T08:00:00+00:00", f"alice (as {me})", "rejected", None),
        (lisbon, "2026-12-03T08:00:00+00:00", f"alice (as {me})", "exported", None),
    ]
    memory = store_memories.get_memory(db, lisbon)
    assert memory["decided_by"] == f"alice (as {me})"  # the reject, not the export after it
    assert [d["action"] for d in memory["decisions"]] == ["approved", "renamed", "cover", "removed_item",
                                                          "rejected", "exported"]
    assert memory["decisions"][1] == {"at": STAMP, "by": me, "action": "renamed", "detail": "Our Lisbon"}


def test_the_same_decision_twice_in_a_row_is_recorded_once_and_a_change_of_mind_each_time(household):
    _, db, lisbon, items, _ = household
    for _ in range(2):
        store_memories.approve(db, lisbon)
        store_memories.rename(db, lisbon, "Lisbon again")
    store_memories.approve(db, lisbon)
    store_memories.approve(db, lisbon)
    store_memories.reject(db, lisbon)
    store_memories.approve(db, lisbon)
    store_memories.mark_exported(db, lisbon)
    store_memories.mark_exported(db, lisbon)  # a re-export is a new export
    store_memories.remove_item(db, lisbon, items[0])
    store_memories.remove_item(db, lisbon, items[0])
    assert [r[3:] for r in rows(db)] == [("approved", None), ("renamed", "Lisbon again"), ("rejected", None),
                                         ("approved", None), ("exported", None), ("exported", None),
                                         ("removed_item", str(items[0]))]


def test_a_refused_change_leaves_no_record(household):
    _, db, lisbon, items, christmas = household
    store_memories.approve(db, christmas)  # an exported memory stays exported: no decision was made
    assert store_memories.get_memory(db, christmas)["status"] == "exported"
    for refused in (lambda: store_memories.rename(db, lisbon, "   "),
                    lambda: store_memories.rename(db, 999_999, "Elsewhere"),
                    lambda: store_memories.reject(db, 999_999),
                    lambda: store_memories.set_cover(db, lisbon, 999_999),
                    lambda: store_memories.remove_item(db, lisbon, 999_999)):
        with pytest.raises(UserError):
            refused()
    assert not store_memories.finish_export(db, 999_999, lambda: None)
    assert rows(db) == []
    assert store_memories.get_memory(db, christmas)["decided_by"] is None


def test_the_record_and_the_change_commit_or_roll_back_together(household):
    cfg, db, lisbon, _, _ = household
    # a record that fails takes its change with it
    db.conn.execute("CREATE TEMP TRIGGER no_log BEFORE INSERT ON memory_decisions "
                    "BEGIN SELECT RAISE(ABORT, 'log full'); END")
    with pytest.raises(sqlite3.IntegrityError, match="log full"):
        store_memories.approve(db, lisbon)
    with pytest.raises(sqlite3.IntegrityError, match="log full"):
        store_memories.rename(db, lisbon, "Never")
    memory = store_memories.get_memory(db, lisbon)
    assert (memory["status"], memory["user_title"]) == ("suggested", None)
    db.conn.execute("DROP TRIGGER temp.no_log")
    # a change rolled back by its caller takes its record with it; a second connection sees neither meanwhile
    other = store.connect(cfg.db_path)
    with pytest.raises(RuntimeError), db.atomic():
        store_memories.approve(db, lisbon)
        assert rows(db) != [] and rows(other) == []
        raise RuntimeError("the caller gives up")
    assert rows(db) == [] and rows(other) == []
    assert store_memories.get_memory(other, lisbon)["status"] == "suggested"
    store_memories.approve(db, lisbon)
    assert [r[3] for r in rows(other)] == ["approved"]
    other.close()


def test_the_selections_own_updates_are_not_decisions(tmp_path):
    db, _ = roll_db(1)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    trip = store_memories.list_memories(db, kind="trip")[0]
    store_memories.approve(db, trip["id"])
    summary = run_selection(cfg, db, today=TODAY)  # updates, members, offers: none of it the household's
    assert summary["updated"] + summary["unchanged"] > 0
    assert [(r[0], r[3]) for r in rows(db)] == [(trip["id"], "approved")]
    db.close()


def test_memories_show_prints_the_decisions_and_json_carries_them(household):
    cfg, db, lisbon, items, _ = household
    me = unix_user()
    store_memories.approve(db, lisbon)
    store_memories.rename(db, lisbon, "Grandma's Lisbon")
    store_memories.set_cover(db, lisbon, items[1])
    path = store_items.item_paths(db, [items[1]])[items[1]]
    # a decision from another process, through sudo's variable (the uid stays ours)
    run_cli(cfg.path, "memories", "remove", str(lisbon), path, env={"SUDO_USER": "bob"})
    out = run_cli(cfg.path, "memories", "show", str(lisbon)).stdout
    block = out.split("  Decisions:\n", 1)[1].splitlines()
    assert block[:3] == [f"    2026-12-02 11:14 approved by {me}",
                         f"    2026-12-02 11:14 renamed to \"Grandma's Lisbon\" by {me}",
                         f"    2026-12-02 11:14 made {path} the cover by {me}"]
    assert block[3].endswith(f" removed {path} by bob (as {me})"), block[3]
    shown = cli_json(cfg.path, "memories", "show", str(lisbon), "--json")
    assert shown["decided_by"] == me
    assert [(d["action"], d["by"], d["detail"]) for d in shown["decisions"]] == [
        ("approved", me, None), ("renamed", me, "Grandma's Lisbon"), ("cover", me, str(items[1])),
        ("removed_item", f"bob (as {me})", str(items[1]))]
    assert set(shown["decisions"][0]) == {"at", "by", "action", "detail"}
    # a memory nobody has decided about yet: no block, null decider
    untouched = cli_json(cfg.path, "memories", "show", str(add_memory(db, cfg, MEMORIES[1], 200)[0]), "--json")
    assert (untouched["decided_by"], untouched["decisions"]) == (None, [])


def test_actor_names_the_sudo_user_and_the_account_it_runs_as():
    me = unix_user()
    code = "from homeroll.daemon.store.decisions import actor; print(actor())"
    env = {k: v for k, v in os.environ.items() if k != "SUDO_USER"}

    def actor_with(**extra: str) -> str:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**env, **extra}).stdout.strip()

    assert actor_with() == me
    assert actor_with(SUDO_USER="alice") == f"alice (as {me})"
    assert actor_with(SUDO_USER=me) == me  # sudo to oneself is still just oneself
    assert actor_with(SUDO_USER="") == me


def test_the_tui_summary_names_the_latest_decision():
    decisions = [{"at": "2026-12-01T09:00:00+00:00", "by": "alice", "action": "approved", "detail": None},
                 {"at": "2026-12-02T23:30:00+00:00", "by": "bob", "action": "cover", "detail": "7"}]
    assert decision_line(decisions[:1]) == "approved by alice, Dec 1, 2026"
    from zoneinfo import ZoneInfo
    assert decision_line(decisions, ZoneInfo("Europe/Berlin")) == "chose the cover by bob, Dec 3, 2026"
    assert decision_line([]) == ""


def test_the_memory_detail_screen_shows_who_decided_last(make_config, monkeypatch):
    from homeroll.tui.app import HomerollApp
    from homeroll.tui.screens.memory_detail import MemoryDetailScreen
    from homeroll.tui.widgets.memory_summary import MemorySummary

    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setattr(store_items, "now_iso", lambda: STAMP)
    cfg = make_config(home_tz="Europe/Berlin")
    lisbon = build(cfg)["memories"]["trip:lisbon"]
    db = store.connect(cfg.db_path)
    store_memories.approve(db, lisbon)
    db.close()

    async def summary() -> str:
        app = HomerollApp(cfg, clock=lambda: NOW, image_renderer="halfcell", refresh_interval=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            app.push_screen(MemoryDetailScreen(lisbon))
            await settle(pilot)
            return str(app.screen.query_one(MemorySummary).render())

    assert f"\napproved by alice (as {unix_user()}), Dec 2, 2026\n" in asyncio.run(summary())


def test_a_db_at_m002_upgrades_keeping_its_memories_with_no_decider(make_config, monkeypatch):
    monkeypatch.delenv("SUDO_USER", raising=False)
    cfg = make_config()
    cfg.db_path.parent.mkdir(parents=True, exist_ok=True)
    old = Database(sqlite3.connect(cfg.db_path, isolation_level=None))
    migrations.apply(old, stop_before="m003_decision_log")
    assert [m.name for m in migrations.applied(old)] == ["m001_initial", "m002_sidecars_and_precision"]
    stamp = "2025-05-01T00:00:00+00:00"
    old["memories"].insert_all([
        {"stable_key": f"trip:{n}", "kind": "trip", "title": f"Trip {n}", "start": "2024-07-03",
         "end": "2024-07-05", "status": status, "created_at": stamp, "updated_at": stamp,
         "decided_at": stamp if status != "suggested" else None}
        for n, status in enumerate(("approved", "rejected", "suggested"))])
    old.close()
    db = store.connect(cfg.db_path)
    assert "m003_decision_log" in [m.name for m in migrations.applied(db)]
    assert (cfg.data_dir / "homeroll.db.bak-2").is_file()  # the copy taken before the step
    kept = store_memories.list_memories(db)
    assert sorted((m["title"], m["status"]) for m in kept) == [
        ("Trip 0", "approved"), ("Trip 1", "rejected"), ("Trip 2", "suggested")]
    for memory in kept:
        detail = store_memories.get_memory(db, memory["id"])
        assert (detail["decided_by"], detail["decisions"]) == (None, [])  # made before anyone was recorded
    suggested = next(m["id"] for m in kept if m["status"] == "suggested")
    store_memories.approve(db, suggested)
    assert store_memories.get_memory(db, suggested)["decided_by"] == unix_user()
    db.close()
    shown = json.loads(run_cli(cfg.path, "memories", "show", str(suggested), "--json").stdout)
    assert shown["decided_by"] == unix_user()
