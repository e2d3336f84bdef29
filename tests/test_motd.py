"""`homeroll motd`, the SSH login line, as the installed console script: what it prints, that it changes
nothing (not even in a data dir it may only read), that a login never breaks on it, and that it answers
without importing the CLI. Its speed is measured by bench/motd.py, not asserted here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from homeroll.daemon import __main__ as entry
from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store import motd as store_motd

SCRIPT = shutil.which("homeroll", path=str(Path(sys.executable).parent))

THREE = ("3 new memories are waiting (Anna's birthday, Mar 2025; A Sunday at the lake, Sep 2024; Lisbon &\n"
         "Sintra, Aug 2024): run `homeroll tui`\n")


def motd(*args: str, prefix: tuple[str, ...] = (), env: dict | None = None) -> subprocess.CompletedProcess:
    assert SCRIPT, "the console script is missing: pip install -e ."
    return subprocess.run([*prefix, SCRIPT, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def add_memories(cfg: config_mod.Config, rows: list[tuple[str, str, str]]) -> None:
    """(title, start, status) rows through the store's own write path, then the DB closed (no -wal left)."""
    db = store.connect(cfg.db_path)
    for n, (title, start, status) in enumerate(rows):
        memory_id = store_memories.insert_memory(db, f"test:{n}", {"kind": "trip", "title": title, "start": start,
                                                                   "end": start}, [], [])
        if status == "approved":
            store_memories.approve(db, memory_id)
        elif status == "rejected":
            store_memories.reject(db, memory_id)
    db.close()


@pytest.fixture
def household(make_config):
    """Three suggestions (one renamed by the household), one approved and one rejected."""
    cfg = make_config()
    add_memories(cfg, [("Lisbon & Sintra", "2024-08-10", "suggested"), ("Oma turns 80", "2025-03-02", "suggested"),
                       ("A Sunday at the lake", "2024-09-15", "suggested"), ("Paris", "2025-05-01", "approved"),
                       ("Rainy Tuesday", "2025-06-01", "rejected")])
    db = store.connect(cfg.db_path)
    store_memories.rename(db, 2, "Anna's birthday")
    db.close()
    return cfg


def snapshot(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_three_suggestions_make_the_line_and_decided_ones_do_not_count(household):
    done = motd("--config", str(household.path), "motd")
    assert (done.returncode, done.stdout, done.stderr) == (0, THREE, "")
    assert motd("motd", "--config", str(household.path)).stdout == THREE  # --config after works too


def test_the_full_cli_prints_the_same_and_json_for_scripts(household):
    slow = motd("--log-level", "info", "--config", str(household.path), "motd")  # not the fast path's argv
    assert (slow.returncode, slow.stdout) == (0, THREE)
    as_json = motd("--config", str(household.path), "motd", "--json")
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout) == {"waiting": 3, "memories": [
        {"id": 2, "title": "Anna's birthday", "start": "2025-03-02"},
        {"id": 3, "title": "A Sunday at the lake", "start": "2024-09-15"},
        {"id": 1, "title": "Lisbon & Sintra", "start": "2024-08-10"}]}
    via_module = subprocess.run([sys.executable, "-m", "homeroll.daemon", "--config", str(household.path), "motd"],
                                capture_output=True, text=True, timeout=60)
    assert (via_module.returncode, via_module.stdout) == (0, THREE)


def test_nothing_waiting_prints_nothing(make_config):
    cfg = make_config()
    add_memories(cfg, [("Paris", "2025-05-01", "approved"), ("Rainy Tuesday", "2025-06-01", "rejected")])
    done = motd("--config", str(cfg.path), "motd")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_db_and_its_folder_are_untouched(household):
    before = snapshot(household.data_dir)
    assert set(before) == {"homeroll.db"}  # closed cleanly: no -wal, so a plain read-only open would make one
    assert motd("--config", str(household.path), "motd").stdout == THREE
    assert snapshot(household.data_dir) == before


def test_a_writer_holding_the_lock_is_not_waited_for(household):
    writer = store.connect(household.db_path)  # the service: WAL open, and a write under way
    try:
        writer.conn.execute("BEGIN IMMEDIATE")
        store_memories.insert_memory(writer, "test:late", {"kind": "trip", "title": "Not yet", "start": "2026-01-01",
                                                           "end": "2026-01-01"}, [], [])
        names, db_mtime = set(snapshot(household.data_dir)), household.db_path.stat().st_mtime_ns
        done = motd("--config", str(household.path), "motd")
        assert (done.returncode, done.stdout) == (0, THREE)  # what was committed, at once
        assert set(snapshot(household.data_dir)) == names and household.db_path.stat().st_mtime_ns == db_mtime
    finally:
        writer.conn.execute("ROLLBACK")
        writer.close()


def _read_only_prefix(folder: Path) -> tuple[str, ...]:
    """Run the child where ``folder`` is read-only: a read-only bind mount in its own mount namespace when we
    are root (root ignores file modes), else the folder's modes."""
    if os.geteuid() != 0:
        return ()
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'
    prefix = ("unshare", "-m", "sh", "-c", script, "sh", str(folder))
    probe = subprocess.run([*prefix, "sh", "-c", f"! touch {folder}/.probe 2>/dev/null"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("running as root without `unshare -m` and mount: cannot make a folder read-only for a child")
    return prefix


@pytest.mark.parametrize("service_running", [False, True], ids=["closed", "service-open"])
def test_a_data_dir_this_login_may_only_read(household, service_running):
    data = household.data_dir
    writer = store.connect(household.db_path) if service_running else None
    modes = {p: p.stat().st_mode for p in [data, *data.iterdir()]}
    try:
        prefix = _read_only_prefix(data)
        if not prefix:
            for path in modes:
                path.chmod(0o555 if path == data else 0o444)
        names = set(snapshot(data))
        done = motd("--config", str(household.path), "motd", prefix=prefix)
        assert (done.returncode, done.stdout, done.stderr) == (0, THREE, "")
        assert set(snapshot(data)) == names
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
        if writer is not None:
            writer.close()


def test_no_config_or_no_db_never_breaks_a_login(make_config, tmp_path):
    missing = motd("--config", str(tmp_path / "nowhere.toml"), "motd")
    assert (missing.returncode, missing.stdout) == (0, "")
    assert missing.stderr.count("\n") == 1 and "no config at" in missing.stderr
    from_env = motd("motd", env={"HOMEROLL_CONFIG": str(tmp_path / "nowhere.toml")})
    assert (from_env.returncode, from_env.stdout) == (0, "") and "no config at" in from_env.stderr
    cfg = make_config()  # a config, but the service has not made the DB yet
    no_db = motd("--config", str(cfg.path), "motd")
    assert (no_db.returncode, no_db.stdout) == (0, "") and "no database at" in no_db.stderr
    assert not cfg.data_dir.exists()  # and it is not created
    cfg.data_dir.mkdir()
    (cfg.data_dir / "homeroll.db").write_bytes(b"not a database, but a file" * 100)
    damaged = motd("--config", str(cfg.path), "motd")
    assert (damaged.returncode, damaged.stdout) == (0, "") and damaged.stderr.count("\n") == 1
    assert motd("--config", str(cfg.path), "motd", "--json").returncode == 2  # scripts keep the CLI contract


def _imported(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-X", "importtime", SCRIPT, *args], capture_output=True, text=True,
                          timeout=60)
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}


def test_the_fast_path_imports_neither_the_cli_nor_sqlite_utils(household):
    heavy = {"click", "sqlite_utils", "platformdirs", "homeroll.daemon.cli", "homeroll.daemon.config",
             "homeroll.daemon.store"}
    fast = _imported("--config", str(household.path), "motd")
    assert "homeroll.daemon.__main__" in fast and "sqlite3" in fast
    assert fast & heavy == set()
    assert heavy <= _imported("--log-level", "info", "--config", str(household.path), "motd")  # the check can fail


@pytest.mark.parametrize("env", [
    {"HOMEROLL_CONFIG": "/srv/homeroll/config.toml"},
    {"HOMEROLL_CONFIG": ""},
    {"XDG_CONFIG_HOME": "/xdg"},
    {"XDG_CONFIG_HOME": "relative/xdg"},
    {"XDG_CONFIG_HOME": ""},
    {"HOME": "relative-home"},
    {"HOME": None},  # pam_motd runs update-motd.d under `env -i`
    {},
], ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()) or "defaults")
def test_the_restated_config_rules_match_the_real_ones(monkeypatch, tmp_path, env):
    for name in ("HOMEROLL_CONFIG", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    assert entry.config_path() == str(config_mod.default_config_path())
    assert entry.SYSTEM_CONFIG == str(config_mod.SYSTEM_CONFIG)


@pytest.mark.parametrize("data_dir", ["/srv/homeroll", "~/homeroll-data", "data", "./x/../data/"])
def test_the_db_path_matches_the_config_loader(make_config, monkeypatch, tmp_path, data_dir):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    path = make_config().path
    path.write_text(path.read_text().replace(str(tmp_path / "data"), data_dir))
    assert os.path.realpath(entry.db_path(str(path))) == os.path.realpath(config_mod.load(path).db_path)


@pytest.mark.parametrize("argv, fast", [
    (["motd"], (True, None)), (["--config", "c.toml", "motd"], (True, "c.toml")),
    (["motd", "--config", "c.toml"], (True, "c.toml")), (["--config=c.toml", "motd"], (True, "c.toml")),
    (["motd", "--json"], (False, None)), (["motd", "--help"], (False, None)), (["motd", "--config"], (False, None)),
    (["--log-level", "debug", "motd"], (False, None)), (["status"], (False, None)), ([], (False, None)),
])
def test_only_motd_alone_takes_the_fast_path(argv, fast):
    assert entry.motd_request(argv)[0] == fast[0]
    if fast[0]:
        assert entry.motd_request(argv)[1] == fast[1]


def _memories(count: int, title: str = "A long weekend in the mountains with the cousins") -> list[dict]:
    return [{"id": n, "title": f"{title} {n}", "start": f"20{24 - n // 12:02d}-{12 - n % 12:02d}-01"}
            for n in range(count)]


def test_many_or_long_titles_fit_two_lines_of_100_columns():
    lines = store_motd.login_lines(_memories(40))
    assert len(lines) == 2 and all(len(line) <= 100 for line in lines)
    text = " ".join(lines)
    assert text.startswith("40 new memories are waiting (A long weekend in the mountains with the cousins 0, Dec 2024;")
    assert re.search(r"; and \d+ more\): run `homeroll tui`$", text)
    long = store_motd.login_lines([{"id": 1, "title": "x" * 300, "start": "2024-08-10"}])
    assert " ".join(long) == "1 new memory is waiting (" + "x" * 59 + "…, Aug 2024): run `homeroll tui`"
    assert store_motd.login_lines([]) == []


def test_a_title_cannot_send_escape_sequences_to_every_login():
    line = store_motd.login_lines([{"id": 1, "title": "Ann\x1b[2J\x07a's\nday", "start": "2024-08-10"}])
    assert line == ["1 new memory is waiting (Ann [2J a's day, Aug 2024): run `homeroll tui`"]


def test_the_command_and_a_month_are_never_cut_in_two():
    for length in range(30, 61):  # the 100th column sweeps over ", Aug 2024): run `homeroll tui`"
        lines = store_motd.login_lines([{"id": 1, "title": "y" * length, "start": "2024-08-10"}])
        assert lines[-1].endswith("`homeroll tui`") and all("\xa0" not in line for line in lines)
        assert not any(line.endswith(" Aug") for line in lines)
