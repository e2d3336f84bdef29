"""When the DB or its disk is the problem, every command says so in one line that names the cause and the way
out: a damaged DB (pages and, separately, the header overwritten in a copy of a real one), a read-only and a
full data dir (real small tmpfs mounts), a lock held past the busy timeout, a DB that cannot be opened.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.errors import UserError
from homeroll.daemon.service import diskfull, jobs
from homeroll.daemon.store import service as store_service
from tests.conftest import cli_json, run_cli
from tests.service.helpers import fill, jpeg_bytes, mounted_tmpfs, remount, seed_memories, write_file

QUIET = {"faces": {"enabled": False}, "memories": {"cron": "0 4 1 1 *"}, "export": {"auto": False}}
PAGE = 4096


@pytest.fixture(scope="module")
def real_db(tmp_path_factory):
    """A DB made by a real scan of 200 photos, and the library it indexed: copied into each test's data dir."""
    base = tmp_path_factory.mktemp("real")
    lib = base / "library"
    for i in range(200):
        write_file(lib / f"d{i % 5}" / f"IMG_{i}.jpg", jpeg_bytes(i, size=32))
    cfg = config_mod.build(base / "config.toml", [lib], base / "data", base / "export", "UTC",
                           {"faces": {"enabled": False}})
    config_mod.save(cfg)
    run_cli(cfg.path, "scan", "--json", timeout=300)
    return cfg.db_path, lib


def _config(make_config, real_db, data_dir: Path | None = None) -> config_mod.Config:
    db_path, lib = real_db
    cfg = make_config([lib], **QUIET)
    if data_dir is not None:
        cfg = config_mod.build(cfg.path, [lib], data_dir, cfg.export_dir, "UTC", QUIET)
        config_mod.save(cfg)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(db_path, cfg.db_path)
    return cfg


def _one_line(proc) -> str:
    """The command failed with exit code 2 and exactly one `homeroll:` line (logs may precede it), no traceback."""
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("homeroll:")]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == lines[0]
    return lines[0]


def _damage(path: Path, where: str) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as db:
        if where == "header":
            db.write(os.urandom(100))
            return
        pages = size // PAGE
        if where == "pages":  # a band of whole pages in the middle (the schema's among them)
            for page in range(pages // 2, pages // 2 + 12):
                db.seek(page * PAGE)
                db.write(os.urandom(PAGE))
            return
        # "cells": the cells of the last rows the scan wrote, page headers intact, so the DB opens and
        # only reading those rows (or `homeroll run`'s quick_check) finds it
        for page in range(pages * 3 // 4, pages * 3 // 4 + 8):
            db.seek(page * PAGE + 100)
            db.write(os.urandom(3000))


@pytest.mark.parametrize("where", ["pages", "cells", "header"])
def test_a_damaged_db_is_one_line_for_every_command_and_db_check_reports_it(make_config, real_db, where):
    cfg = _config(make_config, real_db)
    backup = cli_json(cfg.path, "backup", "--json")["path"]
    _damage(cfg.db_path, where)
    expected = f"homeroll: the database {cfg.db_path} is damaged ("
    # a command finds the damage where it reads it: with the schema hit (pages, header) every one does
    commands = [["status"], ["scan"], ["run"]] + ([["memories", "--json"]] if where != "cells" else [])
    for command in commands:
        line = _one_line(run_cli(cfg.path, *command, check=False, timeout=120))
        assert line.startswith(expected), (command, line)
        assert "run `homeroll db check`, then `homeroll db restore <backup>`" in line, line
        assert line.endswith(f"(the newest is {backup})"), line

    check = run_cli(cfg.path, "db", "check", "--json", check=False)
    report = cli_json(cfg.path, "db", "check", "--json", check=False)
    assert check.returncode == 2 and report["ok"] is False and report["path"] == str(cfg.db_path)
    assert report["integrity"] != "ok" and report["integrity"], report
    assert _one_line(check).startswith(expected)
    line = _one_line(run_cli(cfg.path, "db", "check", check=False))
    assert "`homeroll db restore <backup>`" in line and "db check" not in line.split(":", 1)[1], line

    # and the way back: the backup from before the damage
    restored = run_cli(cfg.path, "db", "restore", backup, "--yes")
    assert "the previous database is kept as" in restored.stdout
    assert cli_json(cfg.path, "db", "check", "--json")["ok"] is True
    assert cli_json(cfg.path, "status", "--json")["items"] == 200


def test_a_read_only_data_dir_is_one_line(make_config, real_db, tmp_path):
    data = tmp_path / "ro-data"
    with mounted_tmpfs(data, "8m"):
        cfg = _config(make_config, real_db, data_dir=data)
        seed_memories(cfg.db_path, 1)
        remount(data, "ro")
        try:
            procs = {name: run_cli(cfg.path, *args, check=False, timeout=120) for name, args in
                     {"scan": ["scan"], "status": ["status"], "approve": ["memories", "approve", "1"],
                      "backup": ["backup"]}.items()}
        finally:
            remount(data, "rw")
    for name, proc in procs.items():
        line = _one_line(proc)
        assert line.startswith(f"homeroll: data dir {data} is not writable ("), (name, line)


def test_a_full_data_dir_names_the_dir_and_the_space_left_and_keeps_what_was_indexed(make_config, real_db,
                                                                                      tmp_path):
    data = tmp_path / "full-data"
    with mounted_tmpfs(data, "3m"):
        cfg = _config(make_config, real_db, data_dir=data)
        before = cli_json(cfg.path, "status", "--json")["items"]
        lib = cfg.libraries[0]
        added = [lib / "new" / f"IMG_{i}.jpg" for i in range(40)]
        for i, path in enumerate(added):
            write_file(path, jpeg_bytes(5000 + i, size=256))
        try:
            fill(data)
            line = _one_line(run_cli(cfg.path, "scan", check=False, timeout=300))
        finally:
            os.unlink(data / "filler.bin")
            shutil.rmtree(lib / "new")
        (memory_id,) = seed_memories(cfg.db_path, 1)
        try:
            fill(data)
            approve = _one_line(run_cli(cfg.path, "memories", "approve", str(memory_id), check=False))
        finally:
            os.unlink(data / "filler.bin")
        assert line.startswith(f"homeroll: data dir {data} is full: "), line
        assert " free of 3.0 MB; free space there or move data_dir; what was indexed is kept" in line, line
        # an approval indexes nothing: it is not told that what was indexed is kept
        assert approve.startswith(f"homeroll: data dir {data} is full: "), approve
        assert approve.endswith("; free space there or move data_dir"), approve
        assert cli_json(cfg.path, "status", "--json")["items"] >= before
        assert cli_json(cfg.path, "db", "check", "--json")["ok"] is True


def test_a_lock_held_past_the_busy_timeout_is_one_line(make_config, real_db):
    cfg = _config(make_config, real_db)
    (memory_id,) = seed_memories(cfg.db_path, 1)
    holder = sqlite3.connect(cfg.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer that never lets go
    try:
        proc = run_cli(cfg.path, "memories", "approve", str(memory_id), check=False, timeout=120)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    line = _one_line(proc)
    assert line.startswith(f"homeroll: the database {cfg.db_path} is locked: "), line
    assert "busy timeout (10 s)" in line and "`homeroll run`" in line, line


def test_a_db_that_cannot_be_opened_is_one_line(make_config, real_db):
    cfg = make_config([real_db[1]], **QUIET)
    cfg.db_path.mkdir(parents=True)  # a folder where the DB file should be
    line = _one_line(run_cli(cfg.path, "status", check=False))
    assert line.startswith(f"homeroll: cannot open the database {cfg.db_path} (unable to open database file)"), line


def _backup_record(cfg) -> dict[str, str]:
    db = store.connect(cfg.db_path)
    try:
        return store_service.job_records(db)["backup"]
    finally:
        db.close()


def test_a_nightly_backup_that_does_not_fit_is_the_backup_jobs_error_not_a_full_data_dir(make_config, real_db):
    """The worker degrades only for what diskfull.is_disk_full says; a backup without room is the backup
    job's last error, and the copy's own full disk (met after the check passed) is the same error."""
    cfg = _config(make_config, real_db)
    folder = cfg.data_dir / "backups"
    db = store.connect(cfg.db_path)
    try:
        with mounted_tmpfs(folder, "1m"):
            with pytest.raises(UserError) as refused:
                jobs.run_step("backup", cfg, db)
            assert os.listdir(folder) == []
        line = str(refused.value)
        assert line.startswith(f"no backup taken: {folder} has ") and " free, the copy needs about " in line, line
        assert "set [backup] keep lower" in line and "--to" in line, line
        assert not diskfull.is_disk_full(refused.value) and not diskfull.is_disk_full_reason(line)
        record = _backup_record(cfg)
        assert json.loads(record["last_error"])["error"] == line and "progress" not in record, record

        filled: list[str] = []

        def fill_once(done: int, total: int) -> None:  # the disk fills up after the check, during the copy
            if not filled:
                filled.append(fill(folder).name)

        with mounted_tmpfs(folder, "8m"):
            with pytest.raises(UserError) as full:
                jobs.run_step("backup", cfg, db, progress=fill_once)
            assert os.listdir(folder) == filled  # the temp copy and its journal are gone
            os.unlink(folder / filled[0])
            assert jobs.run_step("backup", cfg, db)["integrity"] == "ok"
    finally:
        db.close()
    assert str(full.value).startswith(f"no backup taken: {folder} has "), full.value
    assert full.value.__context__ is not None and diskfull.is_disk_full(full.value.__context__)
    assert not diskfull.is_disk_full(full.value)  # raised from None: the chain stops there
    assert "last_error" not in _backup_record(cfg)


def test_backup_to_a_full_folder_names_that_folder_not_the_data_dir(make_config, real_db, tmp_path):
    cfg = _config(make_config, real_db)
    target = tmp_path / "usb"
    with mounted_tmpfs(target, "1m"):
        fill(target)
        line = _one_line(run_cli(cfg.path, "backup", "--to", str(target), check=False))
        assert sorted(os.listdir(target)) == ["filler.bin"]
    assert line.startswith(f"homeroll: no backup taken: {target} has "), line
    assert "data dir" not in line and "indexed" not in line, line


def test_a_db_from_a_newer_homeroll_is_refused_in_one_line_and_left_as_it_is(make_config):
    """A downgrade must not run old code on a newer schema: every command says so and changes nothing."""
    cfg = make_config()
    run_cli(cfg.path, "scan")
    conn = sqlite3.connect(cfg.db_path)
    conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                 "VALUES ('homeroll', 'm099_from_the_future', '2027-01-01')")
    conn.commit()
    conn.close()
    before = cfg.db_path.read_bytes()
    for args in (["status"], ["scan"], ["run", "--once"]):
        proc = run_cli(cfg.path, *args, check=False)
        assert proc.returncode == 2, proc.stderr
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith(f"homeroll: the database {cfg.db_path} comes from a newer homeroll (schema steps "
                               "m099_from_the_future are unknown to this version)"), line
        assert "restore the backup taken before the upgrade (homeroll db restore" in line
    assert not list(cfg.db_path.parent.glob("homeroll.db.bak-*"))
    assert cfg.db_path.read_bytes() == before
