"""End to end: `homeroll tui` in a real terminal (tmux) while `homeroll run` works on the same DB."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from homeroll.daemon import store
from homeroll.daemon.store import memories as store_memories
from tests.tui.library import build

TMUX = shutil.which("tmux") or "/usr/bin/tmux"
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(TMUX), reason="tmux is not installed")]


class Tmux:
    """One tmux server on a private socket, so the test never touches a user's sessions."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def __call__(self, *args: str) -> str:
        return subprocess.run([TMUX, "-S", str(self.socket), *args], capture_output=True, text=True,
                              timeout=20, check=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "hr")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "hr", *keys)

    def wait_for(self, text: str, timeout: float = 40) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.3)
        raise AssertionError(f"{text!r} did not appear; the terminal shows:\n{screen}")


def test_tui_in_tmux_while_the_service_runs(make_config, tmp_path):
    cfg = make_config()
    ids = build(cfg)
    approved = ids["memories"]["birthday:ana"]
    env = {**os.environ, "HOMEROLL_CONFIG": str(cfg.path), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    service = subprocess.Popen([sys.executable, "-m", "homeroll.daemon", "run"], env=env,
                               stdout=subprocess.DEVNULL, stderr=open(tmp_path / "service.log", "w"))
    tmux = Tmux(tmp_path / "tmux.sock")
    try:
        command = f"{sys.executable} -m homeroll.daemon --config {cfg.path} tui"
        tmux("new-session", "-d", "-s", "hr", "-x", "100", "-y", "30", command)
        tmux.wait_for("Memories")
        tmux.wait_for("Ana turns 7")
        # The status screen shows what the running service wrote, without a restart.
        tmux.keys("3")
        tmux.wait_for("Service: running")
        assert "Library roots" in tmux.screen()
        # Back to the list: search, then reject with one key, and the DB says so.
        tmux.keys("1")
        tmux.wait_for("Ana turns 7")
        tmux.keys("/")
        time.sleep(0.3)
        tmux.keys("-l", "Ana turns")
        tmux.keys("Enter")
        time.sleep(1.0)
        tmux.keys("r")
        tmux.wait_for("Rejected: Ana turns 7")
        db = store.connect(cfg.db_path)
        try:
            assert store_memories.get_memory(db, approved)["status"] == "rejected"
        finally:
            db.close()
        tmux.keys("q")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "hr" in subprocess.run(
                [TMUX, "-S", str(tmux.socket), "ls"], capture_output=True, text=True).stdout:
            time.sleep(0.2)
        assert service.poll() is None, "the service stopped while the TUI was used"
    finally:
        subprocess.run([TMUX, "-S", str(tmux.socket), "kill-server"], capture_output=True)
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
