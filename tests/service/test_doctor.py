"""`homeroll doctor` catches each failure made on purpose, and says all is well on a healthy setup.

Every test runs the real command (a process) against real folders, a real running (or SIGKILLed) service,
a real tmpfs remounted read-only or filled, and, for access, a real second Unix user: root passes every
mode check, so an unreadable library can only be shown as someone else.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.store import clock as store_clock
from homeroll.daemon.store import items as store_items
from tests.conftest import in_ci, run_cli
from tests.service.helpers import ServiceProcess, fill, mounted_tmpfs, remount


def doctor(cfg_path: Path, *args: str) -> tuple[int, list[dict], str]:
    proc = run_cli(cfg_path, "doctor", "--json", *args, check=False, timeout=120)
    assert proc.returncode in (0, 1, 2), proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    assert data["worst"] == {0: "ok", 1: "warn", 2: "fail"}[proc.returncode]
    return proc.returncode, data["checks"], proc.stderr


def named(checks: list[dict], name: str) -> list[dict]:
    found = [c for c in checks if c["name"] == name]
    assert found, f"no {name} check in {[c['name'] for c in checks]}"
    return found


def write_unit(path: Path, cfg: config_mod.Config, *, user: str | None = None, extra: str = "",
               writable: list[Path] | None = None) -> Path:
    """A unit hardened like systemd/homeroll.service, with the paths of this test (no PrivateTmp: they are in /tmp)."""
    rw = " ".join(str(p) for p in (writable if writable is not None else [cfg.data_dir, cfg.export_dir]))
    lines = ["[Unit]", "Description=homeroll (test)", "", "[Service]", "Type=notify",
             "ExecStart=/usr/bin/true", *([f"User={user}"] if user else []),
             f"ReadOnlyPaths={' '.join(str(p) for p in cfg.libraries)}", f"ReadWritePaths={rw}",
             "ProtectSystem=strict", "ProtectHome=yes", "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX",
             "IPAddressDeny=any", extra, "", "[Install]", "WantedBy=multi-user.target", ""]
    path.write_text("\n".join(lines))
    return path


def test_a_bad_config_is_a_failure_with_its_line(tmp_path):
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text('libraries = ["/srv/photos"]\ndata_dir = "/var/lib/homeroll"\nexport_dir = "/srv/x"\n'
                        "[faces]\nenabled = maybe\n")
    code, checks, _ = doctor(cfg_path)
    assert code == 2
    assert checks[0]["name"] == "config" and checks[0]["status"] == "fail"
    assert "not valid TOML" in checks[0]["detail"] and checks[0]["fix"]
    plain = run_cli(cfg_path, "doctor", check=False)
    assert plain.returncode == 2 and plain.stdout.startswith("FAIL  config")


def test_healthy_setup_with_a_running_service(service_config, tmp_path):
    cfg, library, _ = service_config()
    (library / "2024" / "trip").mkdir(parents=True)
    cfg.export_dir.mkdir()
    unit = write_unit(tmp_path / "homeroll.service", cfg)
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        code, checks, _ = doctor(cfg.path)
        code_unit, with_unit, _ = doctor(cfg.path, "--unit", str(unit))
    assert not [c for c in checks if c["status"] == "fail"], checks
    # No unit installed here (a warning), and a container's clock may not say it is synchronised.
    assert {c["name"] for c in checks if c["status"] == "warn"} <= {"unit", "clock"}, checks
    assert code == (1 if any(c["status"] == "warn" for c in checks) else 0)
    service = named(checks, "service")[0]
    assert service["status"] == "ok" and service["detail"].startswith("running"), service
    assert named(checks, "database")[0]["detail"].endswith("quick_check ok")
    assert "3 folders" in named(checks, "inotify")[0]["detail"]
    assert named(checks, "faces")[0]["detail"].startswith("disabled")
    assert [c["status"] for c in named(with_unit, "unit")] == ["ok"], with_unit
    assert code_unit <= code


def test_a_killed_service_has_a_stale_heartbeat(service_config, tmp_path):
    cfg, _, _ = service_config()
    cfg.export_dir.mkdir()
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        pid = svc.proc.pid
        svc.kill9()
        code, checks, _ = doctor(cfg.path)
    service = named(checks, "service")[0]
    assert code == 2 and service["status"] == "fail", checks
    assert "not responding" in service["detail"] and f"pid {pid} is gone" in service["detail"]
    assert "restart" in service["fix"]


@pytest.fixture
def second_user():
    """A real system user for the test (removed after it); skipped where useradd is not allowed."""
    name = f"hrdoc{uuid.uuid4().hex[:6]}"
    tool = shutil.which("useradd")
    proc = subprocess.run([tool, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                          capture_output=True, text=True) if tool and os.geteuid() == 0 else None
    if proc is None or proc.returncode != 0:
        reason = f"cannot create a second user: {proc.stderr.strip() if proc else 'not root or no useradd'}"
        if in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def test_a_library_the_service_user_cannot_read(second_user, make_config):
    # Not under pytest's tmp_path: /tmp/pytest-of-root is 0700, so the user could not reach anything there.
    base = Path(tempfile.mkdtemp(prefix="hrdoc-"))
    try:
        base.chmod(0o755)
        open_lib, secret = base / "shared", base / "secret"
        cfg = config_mod.build(base / "config.toml", [open_lib, secret], base / "data", base / "export", "UTC",
                               {"faces": {"enabled": False}})
        config_mod.save(cfg)
        for folder in (open_lib, secret, cfg.data_dir, cfg.export_dir):
            folder.mkdir()
            os.chown(folder, second_user.pw_uid, second_user.pw_gid)
        secret.chmod(0o700)
        os.chown(secret, 0, 0)  # root's, and closed to everyone else: root itself would still read it
        unit = write_unit(base / "homeroll.service", cfg, user=second_user.pw_name)
        code, checks, _ = doctor(cfg.path, "--unit", str(unit))
        libraries = named(checks, "libraries")[0]
        assert code == 2 and libraries["status"] == "fail", checks
        assert str(secret) in libraries["detail"] and f"as {second_user.pw_name}" in libraries["detail"]
        assert "Permission denied" in libraries["detail"]
        assert [named(checks, n)[0]["status"] for n in ("data-dir", "export")] == ["ok", "ok"], checks

        os.chown(secret, second_user.pw_uid, second_user.pw_gid)  # fixed: the same check passes
        _, checks, _ = doctor(cfg.path, "--unit", str(unit))
        assert named(checks, "libraries")[0]["status"] == "ok", checks
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_library_that_is_not_a_folder(make_config, tmp_path):
    cfg = make_config(faces={"enabled": False})
    shutil.rmtree(cfg.libraries[0])
    cfg.libraries[0].write_text("not a folder")
    _, checks, _ = doctor(cfg.path)
    assert named(checks, "libraries")[0]["status"] == "fail"
    assert "is not a folder" in named(checks, "libraries")[0]["detail"]


def test_an_export_folder_on_a_read_only_mount(make_config, tmp_path):
    cfg = make_config(faces={"enabled": False})
    with mounted_tmpfs(cfg.export_dir, "1m"):
        _, checks, _ = doctor(cfg.path)
        assert named(checks, "export")[0]["status"] == "ok", checks
        remount(cfg.export_dir, "ro")
        code, checks, _ = doctor(cfg.path)
    export = named(checks, "export")[0]
    assert code == 2 and export["status"] == "fail", checks
    assert "not writable" in export["detail"] and "Read-only file system" in export["detail"]


def test_a_full_data_dir(make_config, tmp_path):
    cfg = make_config(faces={"enabled": False})
    cfg.export_dir.mkdir()
    with mounted_tmpfs(cfg.data_dir, "2m"):
        store.connect(cfg.db_path).close()
        fill(cfg.data_dir)
        code, checks, _ = doctor(cfg.path)
    space = named(checks, "data-space")[0]
    assert code == 2 and space["status"] == "fail", checks
    assert space["detail"].startswith(f"{cfg.data_dir}: 0 B free") and "free space" in space["fix"]
    assert named(checks, "export-space")[0]["status"] == "ok"


def test_a_unit_that_does_not_match_the_config(make_config, tmp_path):
    cfg = make_config(faces={"enabled": False}, geocoder={"provider": "nominatim", "url": "http://10.0.0.2"})
    cfg.export_dir.mkdir()
    unit = write_unit(tmp_path / "homeroll.service", cfg, writable=[cfg.data_dir, tmp_path / "gone"])
    code, checks, _ = doctor(cfg.path, "--unit", str(unit))
    unit_lines = {c["detail"]: c for c in named(checks, "unit")}
    assert code == 2
    assert any(f"export folder {cfg.export_dir} is not writable" in d for d in unit_lines), unit_lines
    assert any(f"ReadWritePaths={tmp_path / 'gone'} does not exist" in d for d in unit_lines), unit_lines
    network = named(checks, "network")[0]
    assert network["status"] == "fail" and "PrivateNetwork=yes" in network["detail"]

    # The README's drop-in for an online geocoder, where `systemctl edit` writes it, lifts the network finding.
    (tmp_path / "homeroll.service.d").mkdir()
    (tmp_path / "homeroll.service.d" / "override.conf").write_text(
        "[Service]\nPrivateNetwork=no\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\nIPAddressDeny=\n")
    _, checks, _ = doctor(cfg.path, "--unit", str(unit))
    assert named(checks, "network")[0]["status"] == "ok", checks


def test_a_clock_behind_the_library(make_config):
    cfg = make_config(faces={"enabled": False})
    cfg.export_dir.mkdir()
    db = store.connect(cfg.db_path)
    ahead = datetime.now(UTC) + timedelta(days=400)
    store_items.kv_set(db, store_clock.HIGH_WATER_KEY, ahead.isoformat(timespec="seconds"))
    db.close()
    code, checks, _ = doctor(cfg.path)
    clock = named(checks, "clock")[0]
    assert code == 2 and clock["status"] == "fail", checks
    assert ahead.isoformat(timespec="seconds") in clock["detail"] and "set the time" in clock["fix"]
