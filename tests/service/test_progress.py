"""Each job says how far it is and how its last run ended, in kv written by the real code: the rate and
ETA arithmetic on an injected clock, the throttled writes, a run killed part-way, and a faces engine that
cannot load, seen by `homeroll status` in real processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from homeroll.daemon import store
from homeroll.daemon.ingest.pipeline import Indexer
from homeroll.daemon.service import jobs
from homeroll.daemon.service.progress import (
    JobProgress,
    Stopped,
    backlog_line,
    describe,
    faces_backlog,
    job_line,
    summary_line,
)
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import service as store_service
from tests.conftest import REPO, cli_json, run_cli
from tests.service.helpers import jpeg_bytes, write_file


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _progress(db, name: str) -> dict | None:
    raw = store_items.kv_get(db, f"job.{name}.progress")
    return None if raw is None else json.loads(raw)


def test_rate_and_eta_come_from_the_clock_and_writes_are_at_most_one_a_second(memdb):
    clock = Clock()
    report = JobProgress(memdb, "faces", clock=clock, wall=lambda: "2025-06-01T12:00:00+00:00")
    report.start()
    assert _progress(memdb, "faces") == {"done": 0, "total": None, "rate": None, "eta_seconds": None,
                                         "started_at": "2025-06-01T12:00:00+00:00",
                                         "updated_at": "2025-06-01T12:00:00+00:00", "pid": os.getpid()}
    clock.now = 2.0
    report(10, 100)  # 10 in 2 s: 5/s, 90 left: 18 s
    assert (_progress(memdb, "faces")["rate"], _progress(memdb, "faces")["eta_seconds"]) == (5.0, 18.0)
    clock.now = 2.5
    report(20, 100)  # half a second after the last write: counted, not written
    assert _progress(memdb, "faces")["done"] == 10 and report.done == 20
    clock.now = 3.0
    report(30, 100)
    assert {k: _progress(memdb, "faces")[k] for k in ("done", "total", "rate", "eta_seconds")} == \
        {"done": 30, "total": 100, "rate": 10.0, "eta_seconds": 7.0}


def test_a_scan_over_two_roots_keeps_counting_and_the_end_is_recorded(memdb):
    clock = Clock()
    stamps = iter(["2025-06-01T12:00:00+00:00", "2025-06-01T12:00:00+00:00", "2025-06-01T12:00:10+00:00"])
    with JobProgress(memdb, "scan", clock=clock, wall=lambda: next(stamps, "2025-06-01T12:01:00+00:00")) as report:
        clock.now = 5.0
        report(50, 50)  # the first root
        clock.now = 8.0
        report(10, 20)  # the second root counts from 0 again
        assert (report.done, report.total) == (60, 70)
        report.result = {"summary": "60 indexed"}
    assert _progress(memdb, "scan") is None
    records = store_service.job_records(memdb)["scan"]
    assert records == {"last_run": "2025-06-01T12:01:00+00:00", "last_summary": "60 indexed", "last_rate": "7.5"}


def test_a_failure_is_the_last_error_in_one_line_until_a_run_succeeds(memdb):
    with pytest.raises(ValueError), JobProgress(memdb, "export", wall=lambda: "2025-06-01T12:00:00+00:00"):
        raise ValueError("the export folder\n  is gone")
    job = describe(store_service.job_records(memdb))["export"]
    assert job["last_error"] == {"at": "2025-06-01T12:00:00+00:00", "error": "the export folder is gone"}
    assert not job["running"] and job["done"] is None
    assert job_line("export", job) is None
    with JobProgress(memdb, "export") as report:  # a summary carrying an error is a failure too
        report.result = {"exported": [], "error": "export folder /mnt/x is not mounted"}
    assert describe(store_service.job_records(memdb))["export"]["last_error"]["error"] == \
        "export folder /mnt/x is not mounted"
    with JobProgress(memdb, "export") as report:
        report.result = {"exported": [{"id": 1}], "failed": [], "error": None, "pending": 1}
    job = describe(store_service.job_records(memdb))["export"]
    assert job["last_error"] is None and job["last_summary"] == "exported 1, failed 0, pending 1"


def test_a_stop_is_not_an_error(memdb):
    def stop(done, total):
        if done >= 3:
            raise Stopped()

    with pytest.raises(Stopped), JobProgress(memdb, "faces", also=stop) as report:
        for done in range(1, 10):
            report(done, 9)
    job = describe(store_service.job_records(memdb))["faces"]
    assert job["last_error"] is None and job["last_summary"] == "stopped part-way (3/9 done)"


def test_job_line_and_summary_line_wording():
    running = {"running": True, "interrupted": False, "done": 1200, "total": 5000, "rate": 35.0,
               "eta_seconds": 3800 / 35.0}
    assert job_line("scan", running) == "scan: 1,200/5,000 (24%), 35/s, about 2 min left"
    assert job_line("faces", {**running, "done": 19, "total": 20, "rate": 0.5, "eta_seconds": 2.0}) == \
        "faces: 19/20 (95%), 30.0/min, about 2 s left"
    assert job_line("scan", {**running, "done": 0, "total": None, "rate": None, "eta_seconds": None}) == \
        "scan: started"
    assert summary_line({"created": 2, "by_kind": {"trip": 2}, "homes": [1, 2], "today": "2025-06-01"}) == \
        "created 2, homes 2, today 2025-06-01"


def test_the_faces_backlog_counts_the_whole_library_and_keeps_its_rate_between_runs(memdb):
    store_items.set_root(memdb, "/lib", state="online")
    for i in range(10):
        store_items.save_item(memdb, {"hash": f"h{i}", "kind": "photo", "taken_at_utc": f"2025-01-0{i % 9 + 1}"},
                              "/lib", f"IMG_{i}.jpg", 100, 1)
    memdb.execute("UPDATE items SET faces_scanned = 1 WHERE id <= 4")
    scan = store_service.faces_scan_counts(memdb)
    assert scan == {"done": 4, "todo": 6}
    assert store_service.faces_scan_counts(memdb, ["/lib"]) == {"done": 0, "todo": 0}  # a root left out
    before = faces_backlog(scan, store_service.job_records(memdb))
    assert before == {"done": 4, "total": 10, "rate": None, "eta_seconds": None}  # no run counted yet
    assert backlog_line(before) == "4 of 10 photos scanned"

    clock = Clock()
    with JobProgress(memdb, "faces", clock=clock) as report:
        clock.now = 4.0
        report(2, 2)  # one budget: 2 photos in 4 s
    records = store_service.job_records(memdb)
    assert records["faces"]["last_rate"] == "0.5"
    between = faces_backlog(scan, records)  # no run going: the last run's rate, over what is left
    assert between == {"done": 4, "total": 10, "rate": 0.5, "eta_seconds": 12.0}
    assert backlog_line(between) == "4 of 10 photos scanned, 30.0/min, about 12 s left"
    big = faces_backlog({"done": 1240, "todo": 98_760}, records)
    assert backlog_line({**big, "rate": 0.4, "eta_seconds": 98_760 / 0.4}) == \
        "1,240 of 100,000 photos scanned, 24.0/min, about 2.9 days left"
    with pytest.raises(RuntimeError), JobProgress(memdb, "faces", clock=clock):
        raise RuntimeError("a failed run")
    assert store_service.job_records(memdb)["faces"]["last_rate"] == "0.5"  # a failure keeps the last rate


def test_run_step_scan_counts_real_files_and_calls_the_stop_check(make_config):
    cfg = make_config()
    for n in range(5):
        write_file(cfg.libraries[0] / f"IMG_{n}.jpg", jpeg_bytes(n))
    db = store.connect(cfg.db_path)
    seen: list[tuple[int, int, dict | None]] = []

    def check(done, total):  # what the service's stop check sees, and what was recorded so far
        seen.append((done, total, _progress(db, "scan")))

    with Indexer(cfg, db) as indexer:
        result = jobs.run_step("scan", cfg, db, indexer=indexer, progress=check)
    assert seen and seen[-1][:2] == (5, 5)
    assert seen[0][2]["done"] == 0 and seen[0][2]["pid"] == os.getpid()  # written at the start
    job = describe(store_service.job_records(db))["scan"]
    assert not job["running"] and job["last_summary"] == result["summary"] and job["last_error"] is None
    assert result["summary"].startswith("5 files: 5 new items"), result
    db.close()


def test_status_shows_a_running_job_and_a_killed_one_as_interrupted(make_config):
    """A real process records a scan part-way and is killed with SIGKILL: status shows where it stopped."""
    cfg = make_config()
    code = textwrap.dedent(f"""
        import os, signal
        from homeroll.daemon import store
        from homeroll.daemon.service.progress import JobProgress
        db = store.connect({str(cfg.db_path)!r})
        ticks = [0.0]
        report = JobProgress(db, "scan", clock=lambda: ticks[0])
        report.start()
        ticks[0] = 10.0
        report(350, 1000)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    scan = cli_json(cfg.path, "status", "--json")["jobs"]["scan"]
    assert {k: scan[k] for k in ("running", "interrupted", "done", "total", "rate", "eta_seconds")} == \
        {"running": False, "interrupted": True, "done": 350, "total": 1000, "rate": 35.0, "eta_seconds": 18.6}
    lines = run_cli(cfg.path, "status").stdout.splitlines()
    assert "scan: 350/1,000 (35%), interrupted (its process is gone)" in lines
    assert lines[-1].startswith("service: ")  # still the last line


def test_a_run_left_in_progress_is_settled_as_interrupted_at_service_start(make_config, memdb):
    """A killed run's pid may be dead, or (after a reboot) be the new service's own: either way the
    service settles it at start, and a run of another live process (`homeroll scan`) is left alone."""
    from homeroll.daemon.service.progress import settle_interrupted

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    for name, pid in (("scan", dead.pid), ("faces", os.getpid()), ("export", os.getppid())):
        store_service.set_job_progress(memdb, name, json.dumps({"done": 7, "total": 9, "pid": pid}))
    assert sorted(settle_interrupted(memdb)) == ["faces", "scan"]
    jobs = describe(store_service.job_records(memdb))
    assert jobs["scan"]["last_summary"] == "interrupted part-way (7/9 done): its process stopped"
    assert not jobs["faces"]["running"] and not jobs["faces"]["interrupted"]
    assert jobs["export"]["running"]  # our parent is alive: its run is real


def test_the_service_faces_budget_is_one_run_with_its_real_total(make_config, tmp_path):
    """Chunks of FACES_CHUNK are parts of one recorded run whose total is the budget, not the chunk."""
    cfg = make_config(faces={"batch_size": 30})
    for seed in range(45):
        (cfg.libraries[0] / f"p{seed}.jpg").write_bytes(jpeg_bytes(seed, size=64))
    db = store.connect(cfg.db_path)
    with Indexer(cfg, db, thumbnails=False) as indexer:
        indexer.scan()
    seen: list[tuple[int, int]] = []
    yielded = jobs.run_faces_budget(cfg, db, stop=lambda done, total: seen.append((done, total)),
                                        files_waiting=lambda: False)
    assert yielded is False
    assert seen[-1] == (30, 30) and all(total == 30 for _, total in seen[1:])
    faces = describe(store_service.job_records(db))["faces"]
    assert faces["last_summary"].startswith("items_scanned 30,") and not faces["running"]
    db.close()


def _blocking_site(tmp_path: Path, module: str) -> dict[str, str]:
    """PYTHONPATH with a sitecustomize that makes ``module`` unimportable, as where it is not installed."""
    site = tmp_path / f"no-{module}"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import sys

        class _Block:
            def find_spec(self, fullname, path=None, target=None):
                if fullname == {module!r} or fullname.startswith({module!r} + "."):
                    raise ModuleNotFoundError("No module named " + repr({module!r}), name={module!r})
                return None

        sys.meta_path.insert(0, _Block())
    """))
    return {"PYTHONPATH": os.pathsep.join([str(site), str(REPO.parent), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize(("module", "reason"), [
    ("dlib", "faces engine cannot load: No module named 'dlib'"),
    ("face_recognition_models", "faces engine cannot load: face model shape_predictor_5_face_landmarks.dat "
                                "not found: install the 'face-recognition-models' package"),
])
def test_a_faces_engine_that_cannot_load_is_the_faces_jobs_last_error(make_config, tmp_path, module, reason):
    cfg = make_config(export={"auto": False})
    write_file(cfg.libraries[0] / "IMG_1.jpg", jpeg_bytes(1))
    env = _blocking_site(tmp_path, module)
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                           env={**os.environ, **env}, timeout=60)
    assert probe.returncode != 0, "the sitecustomize did not block the import"
    once = run_cli(cfg.path, "run", "--once", check=False, env=env)
    assert once.returncode == 1, once.stderr  # the faces step failed; the others ran
    assert reason in once.stderr
    status = cli_json(cfg.path, "status", "--json")  # a normal environment reads what the failing one wrote
    faces = status["jobs"]["faces"]
    assert faces["last_error"]["error"].startswith(reason) and not faces["running"]
    assert faces["last_run"] == faces["last_error"]["at"]
    assert status["jobs"]["scan"]["last_error"] is None
    assert status["jobs"]["scan"]["last_summary"].startswith("1 files: 1 new items")
    assert status["jobs"]["select"]["last_summary"] and status["jobs"]["select"]["last_error"] is None
    plain = run_cli(cfg.path, "status").stdout
    assert re.search(rf"^faces: last run failed at \S+: {re.escape(reason)}", plain, re.MULTILINE), plain


def _kv_keys_written(paths) -> set[str]:
    """The keys code passes to kv_set: a literal, or a module-level constant of the same module."""
    import ast

    written: set[str] = set()
    for path in paths:
        tree = ast.parse(path.read_text())
        constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                     for t in node.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "kv_set":
                key = node.args[1] if len(node.args) > 1 else None
                if isinstance(key, ast.Constant):
                    written.add(key.value)
                elif isinstance(key, ast.Name) and key.id in constants:
                    written.add(constants[key.id])
    return written


def test_every_status_key_is_written_by_the_code(tmp_path):
    """The status shows only keys some module under daemon/ passes to kv_set (not only the test fixtures)."""
    written = _kv_keys_written(p for p in (REPO / "daemon").rglob("*.py") if p.name != "service.py"
                               or p.parent.name != "store")
    assert set(store_service.STATUS_KV_KEYS) - written == set()
    fake = tmp_path / "fake.py"
    fake.write_text('KEY = "a.b"\ndef f(db):\n    kv_set(db, KEY, 1)\n    store_items.kv_set(db, "c.d", 2)\n')
    assert _kv_keys_written([fake]) == {"a.b", "c.d"}  # the check can see both ways of naming a key
