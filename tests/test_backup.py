"""Backups are done when a restore of one has been tested: real `homeroll` processes, a real service writing
while the copy is taken, and the household's decisions going there and back.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.errors import UserError
from homeroll.daemon.store import backup as store_backup
from homeroll.daemon.store import fsutil
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store.db import Database
from homeroll.daemon.store.schema import migrations
from tests.conftest import HOMEROLL, cli_json, run_cli
from tests.service.helpers import DB, Editor, ServiceProcess, jpeg_bytes, seed_memories, wait_for, write_file

QUIET = {"faces": {"enabled": False}, "memories": {"cron": "0 4 1 1 *"}, "export": {"auto": False}}


def _open(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def _integrity(path: Path) -> list[tuple]:
    conn = _open(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()


def _one_error_line(proc) -> str:
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("homeroll:")]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return lines[0]


#: Another process with the DB open and idle (the TUI between two screens): prints "open", exits on EOF.
_HOLDER = ("import sqlite3, sys\n"
           "conn = sqlite3.connect(sys.argv[1])\n"
           "conn.execute('SELECT COUNT(*) FROM memories').fetchall()\n"
           "print('open', flush=True)\n"
           "sys.stdin.read()\n"
           "conn.close()\n")


def _dead_pid() -> int:
    pid = 4_000_000
    while fsutil.pid_alive(pid):
        pid += 1
    return pid


def test_a_backup_while_the_service_writes_is_consistent_and_has_what_was_committed_before(make_config, tmp_path):
    cfg = make_config(watch={"mode": "inotify", "stable_seconds": 0.5, "root_check_seconds": 1.0}, **QUIET)
    lib, reader = cfg.libraries[0], DB(cfg.db_path)
    stop = threading.Event()

    def drop() -> None:  # the phone keeps syncing while the backup runs
        n = 1000
        while not stop.is_set():
            write_file(lib / "during" / f"IMG_{n}.jpg", jpeg_bytes(n))
            n += 1
            time.sleep(0.03)

    with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
        svc.wait_ready()
        for i in range(30):
            write_file(lib / "before" / f"IMG_{i}.jpg", jpeg_bytes(i))
        wait_for(lambda: reader.count("SELECT COUNT(*) FROM items") == 30, 60, what="the first 30 indexed")
        seed_memories(cfg.db_path, 3)
        dropper = threading.Thread(target=drop)
        with Editor(cfg.db_path, tmp_path / "edits.jsonl", pause=0.02) as editor:
            editor.wait_ready()
            dropper.start()
            try:
                wait_for(lambda: reader.count("SELECT COUNT(*) FROM items") > 32, 30, what="the drop being indexed")
                items_before = reader.count("SELECT COUNT(*) FROM items")
                started = time.monotonic()
                result = cli_json(cfg.path, "backup", "--json")
                ended = time.monotonic()
                items_after = reader.count("SELECT COUNT(*) FROM items")
            finally:
                stop.set()
                dropper.join()
            during = editor.samples(started, ended)
        refused = run_cli(cfg.path, "db", "restore", result["path"], "--yes", check=False)
        assert svc.stop() == 0

    copy = Path(result["path"])
    print(f"backup of {result['bytes']:,} bytes in {result['seconds']} s; {len(during)} edits and "
          f"{items_after - items_before} files indexed meanwhile")
    assert copy.parent == cfg.data_dir / "backups" and store_backup._NAME.match(copy.name)
    assert result["integrity"] == "ok" and result["bytes"] == copy.stat().st_size
    assert _integrity(copy) == [("ok",)]
    assert copy.read_bytes()[18:20] == b"\x01\x01"  # one self-contained file, not WAL: nothing to forget
    conn = _open(copy)
    try:
        assert conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] >= items_before
        assert conn.execute("SELECT COUNT(*) FROM memories").fetchone()[0] == 3
    finally:
        conn.close()
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]  # no temp, no -wal, no -journal
    # the service and the editor kept writing while the copy was taken, and nobody waited for it
    assert during and not [s for s in during if s["error"]], during
    assert max(s["s"] for s in during) < 1.0
    line = _one_error_line(refused)
    assert line.startswith(f"homeroll: the service (pid {svc.proc.pid}) is running: stop it first"), line


def test_the_nightly_rotation_keeps_the_newest_and_touches_nothing_else(make_config):
    cfg = make_config(backup={"keep": 2})
    db = store.connect(cfg.db_path)
    folder = cfg.data_dir / "backups"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("the household's own file")
    (folder / "homeroll-manual.db").write_bytes(b"not ours by name")
    stale = folder / f"{fsutil.TEMP_PREFIX}{_dead_pid()}-abcdef{fsutil.TEMP_SUFFIX}"
    stale.write_bytes(b"half a backup from a killed run")
    Path(f"{stale}-journal").write_bytes(b"its journal")
    first = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)
    calls: list[tuple[int, int]] = []
    results = []
    for day in range(4):
        with db.atomic():
            store_items.kv_set(db, "test.day", str(day))
        results.append(store_backup.run_backup_job(cfg, db, now=first + timedelta(days=day),
                                                   progress=lambda done, total: calls.append((done, total))))
    assert sorted(p.name for p in folder.iterdir()) == [
        "homeroll-20261203T033000Z.db", "homeroll-20261204T033000Z.db", "homeroll-manual.db", "notes.txt"]
    assert [r["removed"] for r in results] == [[], [], [str(folder / "homeroll-20261201T033000Z.db")],
                                               [str(folder / "homeroll-20261202T033000Z.db")]]
    assert results[-1]["summary"].startswith("backup homeroll-20261204T033000Z.db (") and "2 kept, 1 removed" in \
        results[-1]["summary"]
    conn = _open(folder / "homeroll-20261204T033000Z.db")
    assert conn.execute("SELECT value FROM kv WHERE key = 'test.day'").fetchone() == ("3",)
    conn.close()
    pages = calls[0][1]
    assert calls[:2] == [(0, pages), (pages, pages)] and len(calls) == 8

    # Two in one second get distinct names, in order; keep = 0 takes and deletes nothing.
    again = store_backup.run_backup_job(cfg, db, now=first + timedelta(days=3))
    assert Path(again["path"]).name == "homeroll-20261204T033000Z-1.db"
    assert [p.name for p in store_backup.list_backups(folder)] == [
        "homeroll-20261204T033000Z.db", "homeroll-20261204T033000Z-1.db"]
    cfg.sections["backup"]["keep"] = 0
    before = sorted(p.name for p in folder.iterdir())
    assert "off" in store_backup.run_backup_job(cfg, db, now=first + timedelta(days=9))["summary"]
    assert sorted(p.name for p in folder.iterdir()) == before
    db.close()


@pytest.mark.parametrize("backup, message", [({"keep": -1}, "keep = -1 must be"), ({"keep": "7"}, "keep = '7'"),
                                             ({"cron": "every night"}, "is not a crontab line")])
def test_a_bad_backup_setting_is_one_line_at_load(make_config, backup, message):
    with pytest.raises(UserError, match=message):
        make_config(backup=backup)


def test_the_round_trip_brings_the_first_decisions_back(make_config):
    cfg = make_config(**QUIET)
    first, second = seed_memories(cfg.db_path, 2)
    run_cli(cfg.path, "memories", "approve", str(first))
    run_cli(cfg.path, "memories", "rename", str(second), "Summer at the lake")
    backup = cli_json(cfg.path, "backup", "--json")["path"]

    # The later decisions stay in the -wal while another process has the DB open (the TUI): a restore
    # then would send that process's later writes to the file set aside, so it is refused, changing nothing.
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(cfg.db_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        run_cli(cfg.path, "memories", "reject", str(first))
        run_cli(cfg.path, "memories", "rename", str(second), "Wrong title")
        wal = Path(f"{cfg.db_path}-wal")
        assert wal.exists() and wal.stat().st_size > 0
        digest = hashlib.sha256(cfg.db_path.read_bytes()).hexdigest()
        line = _one_error_line(run_cli(cfg.path, "db", "restore", backup, "--yes", check=False))
        assert line == ("homeroll: the database is open in another process (the service, a scan or the TUI): "
                        "close it, then restore; nothing was changed"), line
        assert hashlib.sha256(cfg.db_path.read_bytes()).hexdigest() == digest and wal.stat().st_size > 0
        assert not [p for p in cfg.data_dir.iterdir() if ".before-restore-" in p.name]
    finally:
        holder.communicate("", timeout=30)  # closes its connection and exits
    proc = run_cli(cfg.path, "db", "restore", backup, "--yes")

    line = proc.stdout.strip()
    assert len(line.splitlines()) == 1
    assert line.startswith(f"restored {backup} to {cfg.db_path}; the previous database is kept as "), line
    aside = Path(line.rsplit(" ", 1)[1])
    assert aside.name.startswith("homeroll.db.before-restore-")
    assert cli_json(cfg.path, "memories", "show", str(first), "--json")["status"] == "approved"
    assert cli_json(cfg.path, "memories", "show", str(second), "--json")["title"] == "Summer at the lake"
    assert cli_json(cfg.path, "db", "check", "--json") == {
        "path": str(cfg.db_path), "integrity": "ok", "foreign_keys": [], "ok": True}
    # the household's DB as it was is kept, with the later decisions
    conn = _open(aside)
    assert conn.execute("SELECT status FROM memories WHERE id = ?", [first]).fetchone() == ("rejected",)
    assert conn.execute("SELECT user_title FROM memories WHERE id = ?", [second]).fetchone() == ("Wrong title",)
    conn.close()
    assert not [p for p in cfg.data_dir.iterdir() if p.name.startswith(fsutil.TEMP_PREFIX)]


def test_an_older_backup_is_migrated_after_the_restore(make_config, tmp_path):
    cfg = make_config(**QUIET)
    seed_memories(cfg.db_path, 1)
    old = tmp_path / "old.db"
    db = Database(sqlite3.connect(old, isolation_level=None))
    steps = [m.name for m in migrations.pending(db)]
    migrations.apply(db, stop_before=steps[-1])
    db.close()
    proc = run_cli(cfg.path, "db", "restore", str(old), "--yes")
    assert "(migrated 1 schema steps)" in proc.stdout, proc.stdout
    backup = cfg.data_dir / f"homeroll.db.bak-{len(steps) - 1}"  # named for the steps the old DB had
    assert backup.is_file()  # the migration's own copy, same routine
    assert _integrity(backup) == [("ok",)]
    assert cli_json(cfg.path, "db", "check", "--json")["ok"] is True
    assert cli_json(cfg.path, "memories", "--json") == []  # the backup's (empty) decisions, not the seeded one


def test_restore_refuses_a_file_that_is_not_a_homeroll_backup_and_changes_nothing(make_config, tmp_path):
    cfg = make_config(**QUIET)
    seed_memories(cfg.db_path, 1)
    digest = hashlib.sha256(cfg.db_path.read_bytes()).hexdigest()
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(bytes(range(256)) * 40)
    header_only = tmp_path / "header-only.db"
    header_only.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (text)")
    conn.commit()
    conn.close()
    cases = {garbage: "is not a SQLite database", header_only: "cannot be read as a SQLite database",
             other: "has no homeroll schema", tmp_path / "absent.db": "no such file"}
    for path, reason in cases.items():
        line = _one_error_line(run_cli(cfg.path, "db", "restore", str(path), "--yes", check=False))
        assert line.startswith(f"homeroll: {path}") and reason in line and "nothing was changed" in line, line
    assert hashlib.sha256(cfg.db_path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in cfg.data_dir.iterdir() if p.name.startswith("homeroll.db")) == ["homeroll.db"]
    assert not [p for p in cfg.data_dir.iterdir() if p.name.startswith(fsutil.TEMP_PREFIX)]
    assert len(cli_json(cfg.path, "memories", "--json")) == 1


def test_restore_asks_first_and_no_means_nothing_changes(make_config):
    cfg = make_config(**QUIET)
    seed_memories(cfg.db_path, 1)
    backup = cli_json(cfg.path, "backup", "--json")["path"]
    proc = subprocess.run([*HOMEROLL, "--config", str(cfg.path), "db", "restore", backup], input="",
                          capture_output=True, text=True, timeout=60)  # no answer is no
    assert proc.returncode == 2 and "passed its checks. Replace" in proc.stderr, proc.stderr
    assert proc.stdout == ""
    assert sorted(p.name for p in cfg.data_dir.iterdir() if p.name.startswith("homeroll.db.before")) == []


def test_backup_refuses_a_folder_inside_a_library(make_config):
    cfg = make_config(**QUIET)
    seed_memories(cfg.db_path, 1)
    line = _one_error_line(run_cli(cfg.path, "backup", "--to", str(cfg.libraries[0] / "bk"), check=False))
    assert "is inside library" in line and not (cfg.libraries[0] / "bk").exists()


def test_a_config_without_backup_keys_gets_the_defaults(make_config):
    cfg = make_config()
    assert config_mod.load(cfg.path)["backup"] == {"keep": 7, "cron": "0 3 * * *"}


def test_restore_refuses_while_a_service_beats_even_when_the_db_is_too_damaged_to_say(make_config):
    """The pid then comes from the heartbeat file; this test's own process stands in for a live service."""
    cfg = make_config(**QUIET)
    seed_memories(cfg.db_path, 1)
    backup = cli_json(cfg.path, "backup", "--json")["path"]
    with open(cfg.db_path, "r+b") as db:
        db.write(b"\x00" * 100)  # the header: nothing in the DB can be read
    heartbeat = cfg.data_dir / "service.heartbeat"
    heartbeat.write_text(f"{os.getpid()}\n")
    line = _one_error_line(run_cli(cfg.path, "db", "restore", backup, "--yes", check=False))
    assert line.startswith(f"homeroll: the service (pid {os.getpid()}) is running: stop it first"), line
    # an hour-old heartbeat with its pid alive is a hung service that may still write: refused, unless
    # --force says that pid is some other program now
    old = time.time() - 3600
    os.utime(heartbeat, (old, old))
    line = _one_error_line(run_cli(cfg.path, "db", "restore", backup, "--yes", check=False))
    assert line.startswith(f"homeroll: the service (pid {os.getpid()}) is not responding but its process is "
                           "alive: stop it first"), line
    assert "restore with --force; nothing was changed" in line, line
    assert not [p for p in cfg.data_dir.iterdir() if ".before-restore-" in p.name]
    run_cli(cfg.path, "db", "restore", backup, "--yes", "--force")
    assert len(cli_json(cfg.path, "memories", "--json")) == 1
    heartbeat.write_text(f"{_dead_pid()}\n")  # a service that is gone blocks nothing, without --force
    run_cli(cfg.path, "db", "restore", backup, "--yes")


def test_the_rotation_never_deletes_the_backup_just_taken_when_names_from_a_wrong_clock_sort_later(make_config):
    cfg = make_config(backup={"keep": 3})
    db = store.connect(cfg.db_path)
    folder = cfg.data_dir / "backups"
    wrong = datetime(2038, 1, 19, 3, 0, tzinfo=UTC)  # a Pi that booted with its clock far ahead
    for day in range(3):
        store_backup.take_backup(db, folder, now=wrong + timedelta(days=day))
    result = store_backup.run_backup_job(cfg, db, now=datetime(2026, 12, 5, 3, 0, tzinfo=UTC))
    db.close()
    assert Path(result["path"]).is_file(), result
    assert result["removed"] == [str(folder / "homeroll-20380119T030000Z.db")]  # the far-future ones go first
    assert [p.name for p in store_backup.list_backups(folder)] == [
        "homeroll-20261205T030000Z.db", "homeroll-20380120T030000Z.db", "homeroll-20380121T030000Z.db"]
    # and with keep = 1 the one just taken is what is kept, whatever sorts after it
    assert store_backup.rotate(folder, 1, taken=Path(result["path"]), now=datetime(2026, 12, 5, tzinfo=UTC))
    assert [p.name for p in store_backup.list_backups(folder)] == ["homeroll-20261205T030000Z.db"]


def test_a_restored_nightly_backup_shows_no_phantom_running_job_nor_a_running_service(make_config):
    from homeroll.daemon.service import jobs

    cfg = make_config(**QUIET)
    seed_memories(cfg.db_path, 1)
    db = store.connect(cfg.db_path)
    with db.atomic():  # what a running service has recorded when its nightly job copies the DB
        store_items.kv_set(db, "service.state", "running")
        store_items.kv_set(db, "service.pid", str(_dead_pid()))
    path = jobs.run_step("backup", cfg, db)["path"]
    with db.atomic():
        store_items.kv_set(db, "service.state", "stopped")
    db.close()
    copy = _open(Path(path))
    assert copy.execute("SELECT COUNT(*) FROM kv WHERE key = 'job.backup.progress'").fetchone() == (1,)
    copy.close()
    run_cli(cfg.path, "db", "restore", path, "--yes")
    status = cli_json(cfg.path, "status", "--json")
    assert status["service"]["state"] == "stopped", status["service"]
    backup_job = status["jobs"]["backup"]
    assert not backup_job["running"] and not backup_job["interrupted"], backup_job


_KILLED_WRITER = ("import os, signal, sqlite3, sys\n"
                  "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                  "conn.execute('PRAGMA wal_autocheckpoint = 0')\n"
                  "conn.execute('BEGIN')\n"
                  "for i in range(400):\n"
                  "    conn.execute('INSERT INTO kv VALUES (?, ?)', (f'test.blob.{i}', 'x' * 30000))\n"
                  "conn.execute('COMMIT')\n"
                  "os.kill(os.getpid(), signal.SIGKILL)\n")


def test_at_every_instant_of_a_restore_there_is_a_db_at_the_db_path(make_config):
    """A crash mid-restore must leave the old DB or the new one. A killed writer left a 12 MB WAL, so folding
    it into the DB set aside takes a while: a poller spinning on the DB path sees any moment without one."""
    cfg = make_config(**QUIET)
    seed_memories(cfg.db_path, 1)
    backup = cli_json(cfg.path, "backup", "--json")["path"]
    writer = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(cfg.db_path)], capture_output=True)
    assert writer.returncode == -9 and Path(f"{cfg.db_path}-wal").stat().st_size > 10_000_000, writer.stderr
    gaps: list[float] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            if not os.path.exists(cfg.db_path):
                gaps.append(time.monotonic())

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        proc = run_cli(cfg.path, "db", "restore", backup, "--yes")
    finally:
        done.set()
        poller.join()
    assert not gaps, f"no DB at {cfg.db_path} for {len(gaps)} polls"
    aside = Path(proc.stdout.strip().rsplit(" ", 1)[1])
    conn = _open(aside)  # the killed writer's committed rows are in the DB kept aside, as one file
    assert conn.execute("SELECT COUNT(*) FROM kv WHERE key LIKE 'test.blob.%'").fetchone() == (400,)
    conn.close()
    assert not Path(f"{aside}-wal").exists() and not Path(f"{cfg.db_path}-journal").exists()
    assert len(cli_json(cfg.path, "memories", "--json")) == 1
