"""The unit files pass `systemd-analyze security` (exposure <= 2.0) and `systemd-analyze verify`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"

pytestmark = pytest.mark.skipif(not Path(SYSTEMD_ANALYZE).exists(), reason="systemd-analyze is not installed")


def _exposure(unit: Path) -> float:
    out = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=true", str(unit)],
                         capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out.stdout + out.stderr)
    assert match, out.stdout[-2000:] + out.stderr
    return float(match.group(1))


def test_system_unit_exposure_is_at_most_2():
    assert _exposure(REPO / "systemd" / "homeroll.service") <= 2.0


@pytest.mark.parametrize("name,placeholder", [
    ("homeroll.service", "/opt/homeroll/bin/homeroll"),
])
def test_units_verify_clean(tmp_path, name, placeholder):
    """verify also checks that ExecStart's binary exists. The template names the install location
    (/opt/homeroll), which a test machine lacks, so the copy under test points ExecStart at this
    checkout's `homeroll` script; nothing else is changed. The user unit `setup --user-unit` generates from
    it is verified in user mode by tests/service/test_setup_more.py.
    """
    original = (REPO / "systemd" / name).read_text()
    assert placeholder in original
    binary = Path(sys.executable).with_name("homeroll")
    assert binary.exists()
    unit = tmp_path / name
    unit.write_text(original.replace(placeholder, str(binary)))
    out = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "", out.stderr


def test_unit_has_the_promised_settings():
    text = (REPO / "systemd" / "homeroll.service").read_text()
    for line in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "StateDirectory=homeroll",
                 "PrivateNetwork=yes", "RestrictAddressFamilies=AF_UNIX", "ProtectSystem=strict", "ProtectHome=yes",
                 "PrivateTmp=yes", "NoNewPrivileges=yes", "IOSchedulingClass=idle", "SystemCallFilter=@system-service",
                 "KillMode=mixed", "User=homeroll"):
        assert f"\n{line}\n" in text, line
    assert re.search(r"\nWatchdogSec=\d+", text) and re.search(r"\nMemoryMax=\S+", text)
    assert "ReadOnlyPaths=" in text and "ReadWritePaths=" in text
