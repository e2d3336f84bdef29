"""The one write path: every write transaction is BEGIN IMMEDIATE (that none is held while the indexer
waits on a slow file is tests/service/test_stalled_file.py's).

A deferred BEGIN that reads, then writes, fails at once ("database is locked") when another process
committed in between; with BEGIN IMMEDIATE the second writer waits for the lock at the start instead.
These tests trace every statement a real scan, selection and the household's edits run, and race two
real connections.
"""

from __future__ import annotations

import threading
import time
from datetime import date

from homeroll.daemon import store
from homeroll.daemon.ingest.pipeline import Indexer
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import memories as store_memories
from homeroll.demo.roll import generate_camera_roll

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class Trace:
    """Statements a connection runs, and the writes it ran outside a BEGIN IMMEDIATE transaction."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.in_immediate = False
        self.unguarded: list[str] = []

    def __call__(self, sql: str) -> None:
        head = sql.lstrip().upper()
        self.statements.append(head[:60])
        if head.startswith("BEGIN"):
            assert head.startswith("BEGIN IMMEDIATE"), f"a deferred transaction: {sql!r}"
            self.in_immediate = True
        elif head.startswith(("COMMIT", "ROLLBACK", "END")) and not head.startswith("ROLLBACK TO"):
            self.in_immediate = False
        elif head.startswith(WRITES) and not self.in_immediate:
            self.unguarded.append(sql[:120])


def test_every_write_of_a_scan_a_selection_and_the_edits_is_begin_immediate(tmp_path, make_config):
    today = date(2026, 11, 20)
    generate_camera_roll(tmp_path / "library", seed=3, today=today, size=(160, 120))
    cfg = make_config()
    db = store.connect(cfg.db_path)
    trace = Trace()
    db.conn.set_trace_callback(trace)
    with Indexer(cfg, db, thumbnails=False, workers=2) as indexer:
        assert indexer.scan().new_items > 100
    run_selection(cfg, db, today=today)
    memory = store_memories.list_memories(db)[0]
    store_memories.approve(db, memory["id"])
    store_memories.rename(db, memory["id"], "Our summer")
    members = store_memories.get_memory(db, memory["id"])["media"]
    store_memories.set_cover(db, memory["id"], members[-1]["item_id"])
    store_memories.remove_item(db, memory["id"], members[0]["item_id"])
    db.conn.set_trace_callback(None)
    assert trace.unguarded == [], "\n".join(trace.unguarded)
    assert sum(s.startswith("BEGIN IMMEDIATE") for s in trace.statements) > 5
    assert not trace.in_immediate, "a transaction was left open"
    db.close()


def test_a_read_then_write_transaction_never_loses_to_a_concurrent_writer(tmp_path):
    """With a deferred BEGIN the first writer's UPDATE fails at once after the second one committed."""
    path = tmp_path / "homeroll.db"
    first, second = store.connect(path), store.connect(path)
    first["kv"].insert({"key": "n", "value": "0"}, pk="key", replace=True)
    read_done, errors = threading.Event(), []

    def other_writer() -> None:
        read_done.wait(5)
        try:
            with second.atomic():
                second["kv"].update("n", {"value": "other"})
        except Exception as exc:  # noqa: BLE001 - the failure is what the test reports
            errors.append(exc)

    thread = threading.Thread(target=other_writer)
    thread.start()
    with first.atomic():
        value = first.execute("SELECT value FROM kv WHERE key = 'n'").fetchone()[0]
        read_done.set()
        time.sleep(0.3)  # the other writer now waits for the lock instead of committing under our read
        first["kv"].update("n", {"value": str(int(value) + 1)})
    thread.join(10)
    assert errors == []
    assert second.execute("SELECT value FROM kv WHERE key = 'n'").fetchone()[0] == "other"
    first.close()
    second.close()
