"""The process contract: systemd notifications, SIGTERM within 10 s, SIGHUP reload, --once, errors."""

from __future__ import annotations

import signal
import time
import tomllib

import tomli_w

from homeroll.daemon import config as config_mod
from tests.conftest import run_cli
from tests.service.helpers import ServiceProcess, jpeg_bytes, wait_for, write_file


def test_ready_status_watchdog_then_sigterm_mid_ingest_exits_within_10_s(service_config, tmp_path):
    cfg, lib, db = service_config("inotify")
    with ServiceProcess(cfg.path, tmp_path, log_level="info", extra_env={"WATCHDOG_USEC": "2000000"}) as svc:
        svc.wait_ready()
        svc.wait_note("WATCHDOG=1", timeout=10)
        svc.wait_note("STATUS=", timeout=20)
        for i in range(150):
            write_file(lib / "burst" / f"IMG_{i:04d}.jpg", jpeg_bytes(i))
        wait_for(lambda: db.count("SELECT COUNT(*) FROM items") >= 5, 30, what="ingest under way")
        sent = time.monotonic()
        svc.signal(signal.SIGTERM)
        code = svc.proc.wait(timeout=15)
        took = time.monotonic() - sent
        assert code == 0, svc.log()[-2000:]
        assert took < 10, f"SIGTERM took {took:.1f} s"
        svc.wait_note("STOPPING=1", timeout=2)
        assert "Traceback" not in svc.log()
    assert db.query("PRAGMA quick_check") == [("ok",)]
    assert db.query("SELECT value FROM kv WHERE key = 'service.state'") == [("stopped",)]
    # The rest arrives on the next start; every file exactly once.
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        wait_for(lambda: db.count("SELECT COUNT(*) FROM items") == 150, 90, what="all 150 after restart")
        assert db.count("SELECT COUNT(*) FROM paths") == 150
        assert svc.stop() == 0


def test_sighup_reloads_the_config_and_watches_a_new_root(service_config, tmp_path):
    cfg, lib, db = service_config("inotify")
    second = tmp_path / "second-library"
    second.mkdir()
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        cfg.libraries.append(second)
        cfg.sections["watch"]["stable_seconds"] = 0.5
        config_mod.save(cfg)
        before = len(svc.notes())
        svc.signal(signal.SIGHUP)
        reloading = svc.wait_note("RELOADING=1", timeout=10, after=before)
        svc.wait_note("READY=1", timeout=10, after=reloading)
        write_file(second / "new.jpg", jpeg_bytes(1))
        wait_for(lambda: db.query("SELECT root, relpath FROM paths") == [(str(second), "new.jpg")], 20,
                 what="a file in the new root indexed")
        assert "SIGHUP" in svc.log()
        # A broken config on reload is logged and the running one kept.
        cfg.path.write_text("libraries = 3\n")
        svc.signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in svc.log(), 10, what="the reload error logged")
        write_file(lib / "still-watching.jpg", jpeg_bytes(2))
        wait_for(lambda: db.count("SELECT COUNT(*) FROM paths WHERE relpath = 'still-watching.jpg'"), 20,
                 what="the old config still working")
        assert svc.stop() == 0


def test_run_once_indexes_and_exits(service_config):
    cfg, lib, db = service_config("inotify")
    for i in range(3):
        write_file(lib / f"{i}.jpg", jpeg_bytes(100 + i))
    proc = run_cli(cfg.path, "run", "--once", timeout=120)
    assert proc.returncode == 0
    assert db.count("SELECT COUNT(*) FROM items") == 3
    assert "faces: disabled" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bad_config_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text("libraries = []\ndata_dir = 'x'\nexport_dir = 'y'\n")
    proc = run_cli(bad, "run", check=False, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("homeroll: ")


def test_a_mistyped_watch_mode_is_one_line_before_the_service_starts(service_config, tmp_path):
    cfg, _, _ = service_config("auto")
    plain = tomllib.loads(cfg.path.read_text())
    plain.setdefault("watch", {})["mode"] = "poll"
    cfg.path.write_text(tomli_w.dumps(plain))
    proc = run_cli(cfg.path, "run", check=False, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"homeroll: {cfg.path}: [watch] mode = 'poll' must be 'auto', 'inotify' or 'polling'"], proc.stderr
