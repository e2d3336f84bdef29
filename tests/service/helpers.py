"""A real `homeroll run` process with a fake systemd notify socket, plus tiny distinct JPEGs."""

from __future__ import annotations

import contextlib
import errno
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

import pytest
from PIL import Image

from tests.conftest import HOMEROLL, in_ci


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


# --- another process editing memories (tests/service/test_stalled_file.py, bench/concurrency.py) -------------
#
# The household's approve and rename come from another process (the TUI, the CLI) while the service writes.
# The editor is a separate python process, not `homeroll memories …` in a loop: a CLI start costs more than
# the edit, and what is measured is the edit, through the same store functions the CLI calls.

EDITOR_CHILD = """
import json, sys, time
from homeroll.daemon import store
from homeroll.daemon.store import memories as store_memories
db_path, out_path, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
db = store.connect(db_path)
ids = [m["id"] for m in store_memories.list_memories(db)]
if not ids:
    sys.exit("no memories to edit")
with open(out_path, "a") as out:
    out.write(json.dumps({"ready": time.monotonic(), "memories": len(ids)}) + "\\n")
    out.flush()
    n = 0
    while True:
        memory_id, op = ids[(n // 2) % len(ids)], ("approve", "rename")[n % 2]
        error = None
        started = time.monotonic()
        try:
            if op == "approve":
                store_memories.approve(db, memory_id)
            else:
                store_memories.rename(db, memory_id, f"edit {n}")
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - started
        out.write(json.dumps({"t": started, "s": seconds, "op": op, "id": memory_id, "n": n, "error": error}) + "\\n")
        out.flush()
        n += 1
        time.sleep(pause)
"""


class Editor:
    """Approve and rename memories in a loop from a separate process; every edit is a JSON line with its time.

    ``t`` is the edit's start on CLOCK_MONOTONIC (shared by all processes on Linux), so a caller can cut
    the samples into phases by its own ``time.monotonic()``; ``s`` is how long the edit took; ``error`` is
    the exception text of a failed edit (``database is locked`` after the busy timeout).
    """

    def __init__(self, db_path: Path, out_path: Path, pause: float = 0.05, env: dict | None = None) -> None:
        self.out_path = out_path
        out_path.write_text("")
        self.proc = subprocess.Popen([HOMEROLL[0], "-c", EDITOR_CHILD, str(db_path), str(out_path), str(pause)],
                                     env={**os.environ, **(env or {})})

    def _lines(self) -> list[dict]:
        import json

        lines = []
        for line in self.out_path.read_text().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue  # a line being written right now
        return lines

    def wait_ready(self, timeout: float = 30) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"the editor exited {self.proc.returncode}")
            return any("ready" in line for line in self._lines())
        wait_for(ready, timeout, what="the editor's first edit")

    def samples(self, start: float = 0.0, end: float = float("inf")) -> list[dict]:
        """The edits that started in [start, end) (monotonic seconds)."""
        return [line for line in self._lines() if "t" in line and start <= line["t"] < end]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Editor:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def edit_figures(samples: list[dict]) -> dict:
    """n, p50, p99 and max (seconds) of the edits, and the failed ones."""
    seconds = sorted(s["s"] for s in samples)
    if not seconds:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "max": float("nan"), "failures": []}

    def pct(q: float) -> float:  # nearest rank
        import math

        return seconds[min(len(seconds) - 1, max(0, math.ceil(q * len(seconds)) - 1))]

    return {"n": len(seconds), "p50": pct(0.50), "p99": pct(0.99), "max": seconds[-1],
            "failures": [s for s in samples if s["error"]]}


def seed_memories(db_path: Path, count: int = 3) -> list[int]:
    """``count`` suggested memories without members, through the store API (the tests' stand-in for a selection)."""
    from homeroll.daemon import store
    from homeroll.daemon.store import memories as store_memories

    db = store.connect(db_path)
    try:
        with db.atomic():
            return [store_memories.insert_memory(db, f"test:{k}", {"kind": "period", "title": f"Memory {k}",
                                                                   "start": "2024-01-01", "end": "2024-01-31"},
                                                 [], []) for k in range(count)]
    finally:
        db.close()


# --- a small real file system, for the full- and read-only-disk tests -------------------------------

@contextlib.contextmanager
def mounted_tmpfs(path: Path, size: str):
    """A tmpfs of ``size`` (e.g. "3m") mounted at ``path`` for the block, always unmounted after it.

    Needs root (or CAP_SYS_ADMIN): without it the test is skipped with the reason, except in CI, where a
    fault test that cannot run is a failure.
    """
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        why = " ".join(proc.stderr.split()) or f"exit code {proc.returncode}"
        reason = f"cannot mount a {size} tmpfs at {path} (needs root): {why}"
        if in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)  # a straggler holds a file open


def remount(path: Path, mode: str) -> None:
    """``mode`` "ro" or "rw": a read-only mount stops root too (chmod does not)."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True, capture_output=True)


def fill(folder: Path, name: str = "filler.bin") -> Path:
    """Write one file in ``folder`` until the file system has no block left; returns it."""
    path = folder / name
    chunk = b"\xa5" * 65536
    with open(path, "wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        try:  # the last, partial block
            while True:
                out.write(b"\xa5" * 512)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return path


def free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize
