"""Memories before faces: a real `homeroll run` on a new library selects at once, works through the
faces backlog without waiting for the cron, and selects again when the backlog is done.

The crons of selection and faces are put a year away, so anything that runs here runs because the first
scan asked for it (service/firstrun.py). The roll is the demo's, at a small size, with real corpus faces at
its party: trips and the holiday need no faces, the second selection has people to add.
"""

from __future__ import annotations

from datetime import date

from homeroll.demo.roll import generate_camera_roll
from tests.conftest import cli_json
from tests.service.helpers import DB, ServiceProcess, wait_for

TODAY = date(2026, 6, 1)
FACES = ["obama/obama.jpg", "biden/biden.jpg", "obama/obama2.jpg", "biden/biden2.jpg"]
FAR = "0 4 1 1 *"  # once a year: never during a test


def _kv(db: DB, key: str) -> str | None:
    rows = db.query("SELECT value FROM kv WHERE key = ?", (key,))
    return rows[0][0] if rows else None


def _snapshot(db: DB) -> tuple[int, int, int]:
    """(memories, photos still waiting for faces, photos scanned), read in one query: one moment of the DB."""
    return db.query("""SELECT (SELECT COUNT(*) FROM memories),
                              (SELECT COUNT(*) FROM items WHERE kind IN ('photo', 'screenshot') AND faces_scanned = 0),
                              (SELECT COUNT(*) FROM items WHERE kind IN ('photo', 'screenshot') AND faces_scanned = 1)
                       """)[0]


def test_a_new_library_gets_memories_before_its_faces_are_done_and_people_after(make_config, corpus, tmp_path):
    train = corpus / "face_recognition" / "examples" / "knn_examples" / "train"
    lib = tmp_path / "library"
    generate_camera_roll(lib, today=TODAY, size=(160, 120), face_photos=[train / rel for rel in FACES])
    cfg = make_config(libraries=[lib], watch={"mode": "polling", "stable_seconds": 1.0, "poll_interval": 0.5},
                      faces={"batch_size": 40, "workers": 1, "cron": FAR}, memories={"cron": FAR},
                      export={"auto": False})
    db = DB(cfg.db_path)
    with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
        svc.wait_ready(60)
        first = wait_for(lambda: (snap := _snapshot(db))[0] > 0 and snap, 180, interval=0.05,
                         what="the first memories")
        memories, waiting, scanned = first
        assert waiting > 0, f"memories appeared only after every photo was scanned for faces: {first}"
        print(f"first memories: {memories}, with {waiting} photos waiting for faces and {scanned} scanned")
        before = {row[0]: row[1] for row in db.query("SELECT stable_key, id FROM memories")}
        kinds = {row[0] for row in db.query("SELECT kind FROM memories")}
        assert "trip" in kinds, kinds
        first_select = _kv(db, "job.select.last_run")
        assert first_select is not None

        # While the backlog lasts, `status` tells how far it is: the whole library, not one budget.
        backlog = cli_json(cfg.path, "status", "--json")["faces_backlog"]
        assert backlog["total"] == waiting + scanned and 0 <= backlog["done"] <= backlog["total"], backlog

        # No cron fires in this test: the budgets follow each other, and the last one queues selection again.
        wait_for(lambda: _kv(db, "service.first_faces_backlog") not in (None, "pending"), 300,
                 what="the end of the first faces backlog")
        wait_for(lambda: _kv(db, "job.select.last_run") != first_select, 120, what="the second selection")
        assert _snapshot(db)[1] == 0
        assert db.count("SELECT COUNT(*) FROM faces") > 0
        assert (_kv(db, "job.faces.last_summary") or "").startswith("items_scanned"), "no faces run ended"
        after = {row[0]: row[1] for row in db.query("SELECT stable_key, id FROM memories")}
        kept = {key for key in before if key in after and after[key] == before[key]}
        assert kept == set(before), f"suggestions lost their identity in the refresh: {set(before) - kept}"
        log = svc.log()
        assert log.count("first scan of this library") == 1, log[-3000:]
        assert "backlog is done; memory selection again" in log, log[-3000:]

        backlog = cli_json(cfg.path, "status", "--json")["faces_backlog"]
        assert backlog["done"] == backlog["total"] == waiting + scanned, backlog
        assert backlog["rate"] and backlog["rate"] > 0, backlog
    second_select = _kv(db, "job.select.last_run")
    reconciled = _kv(db, "service.last_reconcile_at")

    # A restart is no new library: nothing is selected out of turn again.
    with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
        svc.wait_ready(60)
        wait_for(lambda: _kv(db, "service.last_reconcile_at") != reconciled, 60, what="the restart's reconcile")
        wait_for(lambda: _kv(db, "job.select.progress") is None, 30, what="no selection running")
        assert "first scan of this library" not in svc.log()
    assert _kv(db, "job.select.last_run") == second_select
