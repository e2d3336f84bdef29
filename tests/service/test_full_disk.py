"""A full or read-only disk, on a real small tmpfs: the service stays up degraded and resumes by itself,
a read-only data dir is one line, and a full export folder keeps nothing half-written.

Real `homeroll` processes and a real file system that runs out of blocks: a mocked ENOSPC would not show
SQLite's own reaction (the WAL cannot grow) nor what a worker process makes of a failed thumbnail.
"""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import date
from pathlib import Path

import pytest

from homeroll.daemon.service import degraded, diskfull
from homeroll.demo.roll import generate_camera_roll
from tests.conftest import cli_json, run_cli
from tests.service.helpers import (
    ServiceProcess,
    fill,
    free_bytes,
    jpeg_bytes,
    mounted_tmpfs,
    remount,
    wait_for,
    write_file,
)

TODAY = date(2026, 6, 1)


def _kv(db, key: str) -> str | None:
    rows = db.query("SELECT value FROM kv WHERE key = ?", (key,))
    return rows[0][0] if rows else None


def test_a_full_data_dir_degrades_the_service_and_it_resumes_when_space_is_freed(service_config, tmp_path):
    cfg, lib, db = service_config("inotify")
    data = cfg.data_dir
    with mounted_tmpfs(data, "3m"), ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
        svc.wait_ready()
        for i in range(5):
            write_file(lib / "before" / f"IMG_{i}.jpg", jpeg_bytes(i, size=64))
        wait_for(lambda: db.count("SELECT COUNT(*) FROM items") == 5, 30, what="the first five indexed")
        wait_for(lambda: (data / "service.heartbeat").exists() and (data / "service.reserve").exists(), 20,
                 what="the heartbeat and the reserve")

        filler = fill(data)
        assert free_bytes(data) == 0
        drop = [f"during/IMG_{i:02d}.jpg" for i in range(20)]
        for i, rel in enumerate(drop):
            write_file(lib / rel, jpeg_bytes(100 + i, size=64))
        wait_for(lambda: _kv(db, "service.state") == "degraded", 30, what="state degraded")
        reason = _kv(db, "service.degraded_reason")
        assert reason.startswith(f"data dir {data} is full: ") and "free of 3.0 MB" in reason, reason
        assert not (data / "service.reserve").exists()  # released, which is how the state got recorded
        wait_for(lambda: [n for n in svc.notes() if n.startswith(f"STATUS=degraded (data dir full): data dir {data}")],
                 10, what="the degraded state in STATUS=")
        assert cli_json(cfg.path, "status", "--json")["service"]["state"] == "degraded"
        assert db.count("SELECT COUNT(*) FROM items") == 5  # what was indexed stays
        assert db.count("SELECT COUNT(*) FROM skipped") == 0  # no photo blamed for the disk

        # Still up, still beating (a degraded service is not a dead one), and retrying with backoff.
        beat = (data / "service.heartbeat").stat().st_mtime
        wait_for(lambda: (data / "service.heartbeat").stat().st_mtime > beat, 20, what="a heartbeat while full")
        assert svc.proc.poll() is None
        time.sleep(6)  # past the first retry (5 s): it must find the disk still full and wait longer
        assert _kv(db, "service.state") == "degraded"
        assert "still full" in svc.log() or "next try" in svc.log()

        freed = time.monotonic()
        filler.unlink()
        wait_for(lambda: db.count("SELECT COUNT(*) FROM items") == 25 and _kv(db, "service.state") == "running",
                 60, what="indexing resumed after the space was freed")
        resumed = time.monotonic() - freed
        print(f"resumed and indexed the 20 held files {resumed:.1f} s after the space was freed")
        print("\n".join(ln for ln in svc.log().splitlines() if "degraded" in ln or "room" in ln or "full" in ln))
        assert resumed < 15
        assert _kv(db, "service.degraded_reason") == ""
        every = [f"before/IMG_{i}.jpg" for i in range(5)] + drop
        assert db.live_paths() == sorted(every)  # every file exactly one item
        assert db.count("SELECT COUNT(*) FROM paths") == 25
        assert db.count("SELECT COUNT(DISTINCT item_id) FROM paths") == 25
        assert db.count("SELECT COUNT(*) FROM skipped") == 0
        thumbs = [r[0] for r in db.query("SELECT thumb FROM items")]
        assert all(t and (data / t).is_file() for t in thumbs)
        leftovers = [p for p in (data / "thumbs").rglob("*") if p.is_file() and p.name.startswith(".")]
        assert not leftovers, leftovers
        wait_for(lambda: (data / "service.reserve").exists(), 5, what="the reserve back")
        assert cli_json(cfg.path, "status", "--json")["service"]["state"] == "running"
        assert db.query("PRAGMA quick_check") == [("ok",)]
        assert svc.stop() == 0
        assert "Traceback" not in svc.log()


def test_thumbnails_without_room_are_not_skip_reasons_on_the_watcher_path_nor_in_a_reconcile(service_config,
                                                                                          tmp_path):
    """The DB has room but the thumbnails do not (a mount of their own): a worker process turns the
    thumbnail's ENOSPC into the file's skip reason, and the service must not take it as the file's fault."""
    cfg, lib, db = service_config("inotify")
    thumbs = cfg.data_dir / "thumbs"
    with mounted_tmpfs(thumbs, "1m"):
        with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
            svc.wait_ready()
            write_file(lib / "IMG_first.jpg", jpeg_bytes(1, size=64))
            wait_for(lambda: db.count("SELECT COUNT(*) FROM items") == 1, 30, what="the first file")
            filler = fill(thumbs)
            for i in range(5):
                write_file(lib / "watched" / f"IMG_{i}.jpg", jpeg_bytes(10 + i, size=64))
            wait_for(lambda: _kv(db, "service.state") == "degraded", 30, what="state degraded")
            assert f"is full ({thumbs}): 0 B free of 1.0 MB" in _kv(db, "service.degraded_reason")
            assert db.count("SELECT COUNT(*) FROM skipped") == 0
            assert svc.stop() == 0  # SIGTERM works while degraded
        for i in range(5):  # arrive while the service is down: the start's reconcile finds them
            write_file(lib / "offline" / f"IMG_{i}.jpg", jpeg_bytes(20 + i, size=64))
            os.utime(lib / "offline" / f"IMG_{i}.jpg", (time.time() - 60, time.time() - 60))
        with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
            svc.wait_ready()
            wait_for(lambda: _kv(db, "service.state") == "degraded", 30, what="degraded again after the restart")
            assert db.count("SELECT COUNT(*) FROM items") == 1 and db.count("SELECT COUNT(*) FROM skipped") == 0
            freed = time.monotonic()
            filler.unlink()
            wait_for(lambda: db.count("SELECT COUNT(*) FROM items") == 11 and _kv(db, "service.state") == "running",
                     60, what="all eleven after the space was freed")
            print(f"resumed (reconcile replayed) {time.monotonic() - freed:.1f} s after the space was freed")
            assert db.count("SELECT COUNT(*) FROM paths") == 11 and db.count("SELECT COUNT(*) FROM skipped") == 0
            assert all((cfg.data_dir / t).is_file() for (t,) in db.query("SELECT thumb FROM items"))
            assert svc.stop() == 0
            assert "Traceback" not in svc.log()


def test_disk_full_is_recognised_from_sqlite_and_from_a_file_write(tmp_path):
    """The classification on real errors from a real full file system, not on hand-made exceptions."""
    with mounted_tmpfs(tmp_path / "small", "1m") as small:
        conn = sqlite3.connect(small / "x.db")
        conn.execute("CREATE TABLE t (b BLOB)")
        with pytest.raises(sqlite3.OperationalError) as sql_error:
            for _ in range(1000):
                conn.execute("INSERT INTO t VALUES (?)", [os.urandom(8192)])
                conn.commit()
        conn.close()
        assert diskfull.is_disk_full(sql_error.value), sql_error.value
        with pytest.raises(OSError) as os_error:
            fill(small)
            (small / "thumb.jpg").write_bytes(b"x" * 8192)
        assert diskfull.is_disk_full(os_error.value)
        assert diskfull.is_disk_full_reason(f"skipped:cannot read (OSError: {os_error.value})")
        assert diskfull.describe(small) == "0 B free of 1.0 MB"
    assert not diskfull.is_disk_full(sqlite3.OperationalError("no such table: t"))
    assert not diskfull.is_disk_full_reason("skipped:cannot read (UnidentifiedImageError: cannot identify)")


def test_backoff_doubles_to_five_minutes_and_freed_space_tries_at_once(tmp_path):
    now, free = [0.0], [0]
    gate = degraded.DataDirFull(tmp_path, clock=lambda: now[0], free=lambda _path: free[0])
    assert gate.make_reserve() and (tmp_path / "service.reserve").stat().st_size == degraded.RESERVE_BYTES
    delays = []
    for _ in range(9):
        gate.fail(OSError(28, "No space left on device"), files={"/lib": ["a.jpg"]})
        delays.append(gate.delay)
        assert not gate.due()
        now[0] += gate.delay
        assert gate.due()
    assert delays == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert not (tmp_path / "service.reserve").exists()
    assert gate.waiting() == 1  # held once, however often it failed
    gate.fail("again")
    assert not gate.due()
    free[0] = degraded.FREED_BYTES  # someone deleted something: no need to wait five minutes
    assert gate.due()
    assert gate.begin_try()
    files, _, seconds = gate.resume()
    assert files == {"/lib": {"a.jpg"}} and seconds > 0 and not gate.active
    # A failure soon after resuming continues the backoff; after a calm spell it starts again at 5 s.
    now[0] += 1
    gate.fail("soon")
    assert gate.delay == 300
    gate.resume()
    now[0] += degraded.CALM_SECONDS + 1
    gate.fail("later")
    assert gate.delay == degraded.FIRST_RETRY_SECONDS


@pytest.mark.parametrize("with_db", [False, True], ids=["fresh", "existing-db"])
def test_a_read_only_data_dir_is_one_line_and_exit_2(service_config, tmp_path, with_db):
    cfg, lib, db = service_config("inotify")
    write_file(lib / "a.jpg", jpeg_bytes(1))
    with mounted_tmpfs(cfg.data_dir, "3m") as data:
        if with_db:
            run_cli(cfg.path, "scan", "--json", timeout=120)
            assert db.count("SELECT COUNT(*) FROM items") == 1
        remount(data, "ro")
        try:
            proc = run_cli(cfg.path, "run", check=False, timeout=60)
        finally:
            remount(data, "rw")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith(f"homeroll: data dir {cfg.data_dir} is not writable ("), proc.stderr
    assert "Traceback" not in proc.stderr and len([ln for ln in lines if "homeroll:" in ln]) == 1, proc.stderr


def test_a_data_dir_too_full_to_open_the_db_is_one_line_and_exit_2(service_config):
    cfg, lib, db = service_config("inotify")
    write_file(lib / "a.jpg", jpeg_bytes(1))
    with mounted_tmpfs(cfg.data_dir, "3m") as data:
        run_cli(cfg.path, "scan", "--json", timeout=120)
        fill(data)  # the DB is closed: its -shm is gone, and there is no room to make it again
        proc = run_cli(cfg.path, "run", check=False, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f"homeroll: data dir {cfg.data_dir} is full: 0 B free of "
                                                    f"3.0 MB; free space there or move data_dir; what was "
                                                    f"indexed is kept"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_data_dir_with_room_only_to_open_the_db_starts_degraded_not_dead(service_config, tmp_path):
    """Room for the -shm but not for the first writes (the indexer's clock mark, the root rows): the
    service stays up degraded and keeps beating, and carries on by itself once space is freed."""
    cfg, lib, db = service_config("inotify")
    write_file(lib / "a.jpg", jpeg_bytes(1, size=64))
    with mounted_tmpfs(cfg.data_dir, "3m") as data:
        run_cli(cfg.path, "scan", "--json", timeout=120)
        conn = sqlite3.connect(cfg.db_path)  # an old mark, so the indexer's start must write a new one
        conn.execute("UPDATE kv SET value = '2026-11-02T00:00:00+00:00' WHERE key = 'clock.high_water'")
        conn.commit()
        conn.close()
        filler = fill(data)
        os.truncate(filler, filler.stat().st_size - 34 * 1024)  # the -shm fits, the WAL does not
        with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
            wait_for(lambda: "degraded" in svc.log(), 30, what="the service to say it is degraded")
            time.sleep(2)
            assert svc.proc.poll() is None, svc.log()[-2000:]
            filler.unlink()
            write_file(lib / "b.jpg", jpeg_bytes(2, size=64))
            try:
                wait_for(lambda: db.query("SELECT COUNT(*) FROM paths WHERE missing_since IS NULL")[0][0] == 2,
                         60, what="the new photo indexed after space was freed")
            except AssertionError:
                raise AssertionError(svc.log()[-4000:]) from None
            assert _kv(db, "service.state") == "running"


def _approved_memory(make_config, tmp_path, **export):
    roll = tmp_path / "roll"
    generate_camera_roll(roll, today=TODAY, size=(64, 48))
    cfg = make_config([roll], faces={"enabled": False}, export=export)
    cli_json(cfg.path, "scan", "--json", timeout=300)
    cli_json(cfg.path, "select", "--today", TODAY.isoformat())
    memory = cli_json(cfg.path, "memories", "--json")[0]
    run_cli(cfg.path, "memories", "approve", str(memory["id"]))
    return cfg, memory["id"]


def _status(cfg, memory_id: int) -> str:
    return cli_json(cfg.path, "memories", "show", str(memory_id), "--json")["status"]


@pytest.mark.parametrize("no_tmpfile", [False, True], ids=["o_tmpfile", "named-temp"])
def test_a_full_export_folder_leaves_nothing_and_a_later_export_succeeds(make_config, tmp_path, no_tmpfile):
    cfg, memory_id = _approved_memory(make_config, tmp_path)
    env = {"HOMEROLL_TEST_EXPORT_NO_TMPFILE": "1"} if no_tmpfile else {}
    folder: Path = cfg.export_dir
    with mounted_tmpfs(folder, "4m"):
        filler = fill(folder)
        proc = run_cli(cfg.path, "export", str(memory_id), check=False, env=env, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith(f"homeroll: cannot write to export folder {folder}")
        assert sorted(os.listdir(folder)) == [filler.name]  # no partial collage, no temp file
        assert _status(cfg, memory_id) == "approved"
        filler.unlink()
        done = run_cli(cfg.path, "export", str(memory_id), env=env, timeout=120)
        names = sorted(os.listdir(folder))
        assert len(names) == 2 and any(n.endswith(".jpg") for n in names), names
        assert not [n for n in names if n.startswith(".")]
        assert _status(cfg, memory_id) == "exported", done.stderr


def test_the_export_job_on_a_full_folder_keeps_the_memory_approved_for_the_next_run(make_config, tmp_path):
    cfg, memory_id = _approved_memory(make_config, tmp_path, auto=True)
    folder: Path = cfg.export_dir
    with mounted_tmpfs(folder, "4m"):
        filler = fill(folder)
        proc = run_cli(cfg.path, "run", "--once", check=False, timeout=300)
        assert "export job stopped, will retry" in proc.stderr, proc.stderr[-2000:]
        assert sorted(os.listdir(folder)) == [filler.name]
        assert _status(cfg, memory_id) == "approved"
        filler.unlink()
        run_cli(cfg.path, "run", "--once", timeout=300)
        assert _status(cfg, memory_id) == "exported"
        assert len([n for n in os.listdir(folder) if n.endswith(".jpg")]) == 1


def test_no_space_while_the_data_dir_has_room_is_the_files_skip_reason(tmp_path, memdb):
    """An ENOSPC from the files' side (their own file system) must not stop indexing for everyone."""
    import errno

    exc = OSError(errno.ENOSPC, "No space left on device")
    roomy = degraded.DataDirFull(tmp_path, free=lambda path: 10 * degraded.ROOM_BYTES)
    assert degraded.skip_if_not_the_data_dir(roomy, memdb, exc, {"/lib": ["a.jpg"]}) is True
    reason = memdb.execute("SELECT reason FROM skipped WHERE relpath = 'a.jpg'").fetchone()[0]
    assert reason.startswith("no space left writing it")
    full = degraded.DataDirFull(tmp_path, free=lambda path: 1024)
    assert degraded.skip_if_not_the_data_dir(full, memdb, exc, {"/lib": ["b.jpg"]}) is False
    assert memdb.execute("SELECT COUNT(*) FROM skipped WHERE relpath = 'b.jpg'").fetchone()[0] == 0
