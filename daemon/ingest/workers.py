"""Worker processes for ``analyse``: a per-file time limit, and a crash or hang costs one file, not the scan.

Each worker is a spawned process (not forked: the service has threads) that receives paths over a
pipe. If a file takes longer than the limit or the process dies, the worker is killed, the file gets a
skip reason, and a fresh worker takes its place. Workers run at a lower priority (nice 10).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any

from homeroll.daemon.errors import UserError

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 120.0


def _worker_main(conn: Connection, settings: dict[str, Any]) -> None:
    os.environ.pop("NOTIFY_SOCKET", None)
    try:
        os.nice(10)
    except OSError:
        pass
    from homeroll.daemon.ingest.analyse import analyse
    from homeroll.daemon.ingest.metadata import SkipFile, setup_pillow

    setup_pillow(settings["max_image_pixels"])
    _warm_up()
    conn.send(("ready", None))  # the per-file clock starts only once imports are done
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        token, path, relpath, sidecars = job
        try:
            result = {"ok": analyse(path, relpath, settings, sidecars)}
        except SkipFile as exc:
            result = {"skip": str(exc)}
        except MemoryError:
            result = {"skip": "decoder ran out of memory"}
        except FileNotFoundError:
            result = {"skip": "vanished while being read"}
        except PermissionError:
            result = {"skip": "unreadable (permission denied)"}
        except Exception as exc:  # noqa: BLE001 - any decoder bug becomes a per-file reason
            result = {"skip": f"cannot read ({type(exc).__name__}: {str(exc)[:160]})"}
        try:
            conn.send((token, result))
        except (BrokenPipeError, OSError):
            return


def _warm_up() -> None:
    """Load what the first file would otherwise pay for (zone polygons, scipy's FFT for phash)."""
    import imagehash
    from PIL import Image

    from homeroll.daemon.ingest import thumbs, timeinfo  # noqa: F401

    timeinfo.zone_at(52.52, 13.40)
    imagehash.phash(Image.new("L", (64, 64)))


class _Worker:
    """One spawned process and the jobs sent to it, oldest first (it works through them in order)."""

    def __init__(self, ctx, settings: dict[str, Any]) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, settings), daemon=True,
                                   name="homeroll-index-worker")
        self.process.start()
        child.close()
        self.jobs: deque[tuple] = deque()
        self.started = 0.0  # when the oldest job began (the previous one finished)
        self.ready = False

    def _wait_ready(self) -> None:
        # A fresh worker imports Pillow, numpy, PyAV…: seconds on a Pi. That is not the file's time.
        try:
            if self.conn.poll(STARTUP_TIMEOUT):
                self.conn.recv()
        except (EOFError, OSError):
            self.process.join(2)
            raise UserError(f"the indexing worker process could not start (exit code {self.process.exitcode}); "
                            "run with --log-level debug") from None
        self.ready = True

    def submit(self, job: tuple) -> None:
        if not self.ready:
            self._wait_ready()
        if not self.jobs:
            self.started = time.monotonic()
        self.jobs.append(job)
        self.conn.send(job)

    def finished(self) -> tuple:
        self.started = time.monotonic()
        return self.jobs.popleft()

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(2)
        finally:
            self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2)
        self.conn.close()


class WorkerPool:
    """Analyse files in parallel; results come back in completion order as (path, relpath, result).

    Each worker has up to ``IN_FLIGHT`` files queued, so it starts the next file while the parent
    stores the last one. A timeout or crash is charged to the file the worker was on; the files queued
    behind it go to the replacement worker.
    """

    IN_FLIGHT = 2

    def __init__(self, settings: dict[str, Any], workers: int, timeout: float) -> None:
        self._ctx = mp.get_context("spawn")
        self._settings = settings
        self._size = max(1, workers)
        self._timeout = timeout
        self._workers: list[_Worker] = []

    def _ensure(self) -> None:
        while len(self._workers) < self._size:
            self._workers.append(_Worker(self._ctx, self._settings))

    def alive(self) -> bool:
        return all(w.process.is_alive() for w in self._workers)

    def map(self, jobs):
        """Yield (path, relpath, result) for each (path, relpath[, sidecars]) in ``jobs`` (consumed lazily).

        ``sidecars`` (kind -> path) goes to ``analyse`` with the file.
        """
        self._ensure()
        for worker in list(self._workers):
            if worker.jobs:  # a previous caller stopped early: its results are stale
                self._replace(worker)
        pending = iter(jobs)
        retry: deque[tuple] = deque()
        token = 0
        exhausted = False
        while True:
            for worker in self._workers:
                while len(worker.jobs) < self.IN_FLIGHT:
                    if retry:
                        worker.submit(retry.popleft())
                        continue
                    if exhausted:
                        break
                    try:
                        path, relpath, *extra = next(pending)
                    except StopIteration:
                        exhausted = True
                        break
                    token += 1
                    worker.submit((token, path, relpath, extra[0] if extra else None))
            busy = [w for w in self._workers if w.jobs]
            if not busy:
                return
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=1.0)
            for worker in busy:
                if worker.conn in ready:
                    try:
                        while worker.jobs and worker.conn.poll():
                            _, result = worker.conn.recv()
                            job = worker.finished()
                            yield job[1], job[2], result
                    except (EOFError, OSError):
                        pass
                if not worker.jobs:
                    continue
                if worker.process.sentinel in ready or not worker.process.is_alive():
                    reason = f"decoder crashed (exit code {worker.process.exitcode})"
                elif time.monotonic() - worker.started > self._timeout:
                    reason = f"decoder timed out after {self._timeout:g} s"
                else:
                    continue
                job = worker.jobs.popleft()
                retry.extend(worker.jobs)
                log.warning("%s: %s", job[1], reason)
                self._replace(worker)
                yield job[1], job[2], {"skip": reason}

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        index = self._workers.index(worker)
        self._workers[index] = _Worker(self._ctx, self._settings)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []
