"""A real `homeroll run` process with a fake systemd notify socket, plus tiny distinct JPEGs."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

from tests.conftest import HOMEROLL


def jpeg_bytes(seed: int, size: int = 16) -> bytes:
    """A small JPEG whose pixels encode ``seed``, so every seed gives different bytes (a different item)."""
    img = Image.new("RGB", (size, size), ((seed * 37) % 256, (seed // 256) % 256, (seed * 11) % 256))
    px = img.load()
    for bit in range(24):
        if seed >> bit & 1:
            px[bit % size, bit // size] = (255, 255, 255)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {value!r})")
        time.sleep(interval)


class DB:
    """Read-only look at the service's DB (WAL lets us read while it writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str, params=()) -> list[tuple]:
        if not self.path.exists():
            return []
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    def live_paths(self) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT relpath FROM paths WHERE missing_since IS NULL AND role = 'primary' ORDER BY relpath")]

    def count(self, sql: str, params=()) -> int:
        rows = self.query(sql, params)
        return rows[0][0] if rows else 0

    def seen(self, relpath_like: str) -> bool:
        """Was this name ever handed to the indexer (as an item or a skip)?"""
        return bool(self.query("SELECT 1 FROM paths WHERE relpath LIKE ? UNION ALL "
                               "SELECT 1 FROM skipped WHERE relpath LIKE ?", (relpath_like, relpath_like)))


class ServiceProcess:
    """`homeroll run` in a subprocess, with NOTIFY_SOCKET pointing at a socket this test binds."""

    def __init__(self, cfg_path: Path, tmp: Path, log_level: str = "debug", extra_env: dict | None = None) -> None:
        self.cfg_path = cfg_path
        self.messages: list[str] = []
        self._lock = threading.Lock()
        # A short path: AF_UNIX addresses are limited to 108 bytes and pytest's tmp_path can be longer.
        self._sock_dir = tempfile.mkdtemp(prefix="hrn-")
        self.sock_path = os.path.join(self._sock_dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(0.2)
        self._reader_stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.log_path = tmp / f"service-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")
        env = {**os.environ, "NOTIFY_SOCKET": self.sock_path, **(extra_env or {})}
        self.proc = subprocess.Popen([*HOMEROLL, "--config", str(cfg_path), "--log-level", log_level, "run"],
                                     stdout=subprocess.DEVNULL, stderr=self._log, env=env)

    def _read(self) -> None:
        while not self._reader_stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.extend(data.decode().splitlines())

    def notes(self) -> list[str]:
        with self._lock:
            return list(self.messages)

    def wait_note(self, text: str, timeout: float = 20, after: int = 0) -> int:
        """Index of the first message equal to (or starting with) ``text`` at or after ``after``."""
        def find():
            for i, msg in enumerate(self.notes()[after:], start=after):
                if msg == text or (text.endswith("=") and msg.startswith(text)):
                    return i + 1
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited {self.proc.returncode}: {self.log()[-3000:]}")
            return 0
        return wait_for(find, timeout, what=f"notify {text}") - 1

    def wait_ready(self, timeout: float = 30) -> None:
        self.wait_note("READY=1", timeout)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        self.stop()
        self._reader_stop.set()
        self._reader.join(2)
        self.sock.close()
        self._log.close()
        shutil.rmtree(self._sock_dir, ignore_errors=True)

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
