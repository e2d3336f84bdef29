"""Worker processes with a per-job time limit: a job that crashes or hangs its worker costs that job, not the run.

Indexing (``analyse``) and the faces job both need this, so it is written once. Each worker is a spawned
process (not forked: the service has threads and an open SQLite connection) that sets itself up once
(imports, models: the slow part on a Pi) and then receives jobs over a pipe. If a job takes longer than
the limit or the process dies, the worker is killed, the job comes back as a ``Failure`` with the reason,
and a fresh worker takes its place. Workers run at a lower priority.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from homeroll.daemon.errors import UserError

log = logging.getLogger(__name__)

__all__ = ["Failure", "ProcessPool", "WorkerPool", "default_workers"]

STARTUP_TIMEOUT = 120.0

#: Runs once in each worker with the pool's settings and returns the function that does one job there.
#: Both must be importable by name (spawn pickles them). The job function returns a result for every
#: job, errors included: an exception that escapes it kills the worker and is reported as a crash.
Setup = Callable[[dict[str, Any]], Callable[[tuple], Any]]


def default_workers(configured: int) -> int:
    """Configured count, or one less than the cores (at least one) so the machine stays responsive."""
    if configured and configured > 0:
        return int(configured)
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass(frozen=True)
class Failure:
    """Why a job has no result: its worker took longer than the limit, or died."""

    timed_out: bool
    seconds: float = 0.0
    exit_code: int | None = None

    def __str__(self) -> str:
        if self.timed_out:
            return f"timed out after {self.seconds:g} s"
        return f"crashed (exit code {self.exit_code})"


def _worker_main(conn: Connection, setup: Setup, settings: dict[str, Any], nice: int) -> None:
    os.environ.pop("NOTIFY_SOCKET", None)  # only the service itself speaks to systemd
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    try:
        run = setup(settings)
    except UserError as exc:  # a cause the setup can name (a broken model file): the parent says it
        conn.send(("cannot start", str(exc)))
        return
    conn.send("ready")  # the per-job clock starts only once the setup is done
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        result = run(job)
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            return


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """A spawned worker starts with numpy's BLAS set to one thread (unless the user chose otherwise): the pool
    is already one worker per core it may use, and the face encoder's matrix products would otherwise start a
    BLAS thread per core in every worker. The spawned process takes the environment as it is at its start."""
    added = [name for name in _BLAS_THREADS if name not in os.environ]
    os.environ.update(dict.fromkeys(added, "1"))
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


class _Worker:
    """One spawned process and the jobs sent to it, oldest first (it works through them in order)."""

    def __init__(self, ctx, setup: Setup, settings: dict[str, Any], nice: int, role: str) -> None:
        self.role = role
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, setup, settings, nice), daemon=True,
                                   name=f"homeroll-{role}-worker")
        with _one_blas_thread():
            self.process.start()
        child.close()
        self.jobs: deque[tuple] = deque()
        self.started = 0.0  # when the oldest job began (the previous one finished)
        self.ready = False

    def _wait_ready(self) -> None:
        # A fresh worker imports Pillow, numpy, PyAV, dlib…: seconds on a Pi. That is not the job's time.
        try:
            answer = self.conn.recv() if self.conn.poll(STARTUP_TIMEOUT) else None
        except (EOFError, OSError):
            self.process.join(2)
            raise UserError(f"the {self.role} worker process could not start (exit code {self.process.exitcode}); "
                            "run with --log-level debug") from None
        if isinstance(answer, tuple):
            self.process.join(2)
            raise UserError(f"the {self.role} worker process could not start: {answer[1]}")
        self.ready = True

    def submit(self, job: tuple) -> None:
        if not self.ready:
            self._wait_ready()
        if not self.jobs:
            self.started = time.monotonic()
        self.jobs.append(job)
        try:
            self.conn.send(job)
        except (BrokenPipeError, OSError):
            pass  # it died since its last answer: its sentinel tells, and the job it was on is charged

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


class ProcessPool:
    """Run jobs in ``workers`` processes set up by ``setup(settings)``; results come back in completion order.

    Each worker has up to ``IN_FLIGHT`` jobs queued, so it starts the next one while the parent handles
    the last result. A timeout or crash is charged to the job the worker was on; the jobs queued behind
    it go to the next free worker. The workers stay up between ``map`` calls until ``close``.
    """

    IN_FLIGHT = 2

    def __init__(self, setup: Setup, settings: dict[str, Any], workers: int, timeout: float, *,
                 nice: int, role: str) -> None:
        self._ctx = mp.get_context("spawn")
        self._spawn = (setup, settings, nice, role)
        self._size = max(1, workers)
        self._timeout = timeout
        self._workers: list[_Worker] = []

    def alive(self) -> bool:
        return all(w.process.is_alive() for w in self._workers)

    def map(self, jobs: Iterable[tuple]) -> Iterator[tuple[tuple, Any]]:
        """Yield (job, result) for each job in ``jobs`` (consumed lazily); a lost job's result is a ``Failure``."""
        for batch in self.batches(jobs):
            yield from batch

    def batches(self, jobs: Iterable[tuple], idle: float | None = None) -> Iterator[list[tuple[tuple, Any]]]:
        """Like :meth:`map`, but the results come as lists: all that were ready when the pool woke.

        The next list is only waited for when the caller asks for it, so a caller that writes what it
        holds in one transaction and commits it before asking never holds the DB's write lock across a
        wait. With ``idle``, an empty list comes after that many seconds without a result: the caller's
        cue to commit what it holds rather than keep it while a slow file is being read.
        """
        for worker in list(self._workers):
            if worker.jobs:  # a caller stopped early: its answers must not reach this map (a dead one is _fill's)
                self._replace(worker)
        while len(self._workers) < self._size:
            self._workers.append(_Worker(self._ctx, *self._spawn))
        pending = iter(jobs)
        retry: deque[tuple] = deque()
        while True:
            self._fill(pending, retry)
            busy = [w for w in self._workers if w.jobs]
            if not busy:
                return
            overdue_in = min(w.started for w in busy) + self._timeout - time.monotonic()
            timeout = max(0.0, overdue_in if idle is None else min(overdue_in, idle))
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=timeout)
            batch = [done for worker in busy for done in self._collect(worker, ready, retry)]
            if batch or idle is not None:
                yield batch

    def _fill(self, pending: Iterator[tuple], retry: deque[tuple]) -> None:
        for worker in list(self._workers):
            if not worker.jobs and not worker.process.is_alive():
                worker = self._replace(worker)  # died idle (OOM killer, kill): never charge it the next job
            while len(worker.jobs) < self.IN_FLIGHT:
                job = retry.popleft() if retry else next(pending, None)
                if job is None:
                    return
                worker.submit(job)

    def _collect(self, worker: _Worker, ready: list, retry: deque[tuple]) -> Iterator[tuple[tuple, Any]]:
        """This worker's finished jobs; then, if it died or overran the limit, its current job as failed."""
        if worker.conn in ready:
            try:
                while worker.jobs and worker.conn.poll():
                    result = worker.conn.recv()
                    yield worker.finished(), result
            except (EOFError, OSError):
                pass
        if not worker.jobs:
            return
        if worker.process.sentinel in ready or not worker.process.is_alive():
            worker.process.join(1)  # the sentinel can fire a moment before the exit code is there to read
            failure = Failure(False, exit_code=worker.process.exitcode)
        elif time.monotonic() - worker.started > self._timeout:
            failure = Failure(True, seconds=self._timeout)
        else:
            return
        job = worker.jobs.popleft()
        retry.extend(worker.jobs)
        self._replace(worker)
        yield job, failure

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        index = self._workers.index(worker)
        self._workers[index] = _Worker(self._ctx, *self._spawn)
        return self._workers[index]

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []


# -- the indexer's workers: analyse one file ------------------------------------------------------


def _analyse_worker(settings: dict[str, Any]) -> Callable[[tuple], dict[str, Any]]:
    from homeroll.daemon.ingest.analyse import analyse
    from homeroll.daemon.ingest.metadata import SkipFile, setup_pillow

    setup_pillow(settings["max_image_pixels"])
    _warm_up()

    stall = _test_stall()

    def analyse_one(job: tuple) -> dict[str, Any]:
        path, relpath, sidecars = job
        if stall and stall[0] in path:
            time.sleep(stall[1])
        try:
            return {"ok": analyse(path, relpath, settings, sidecars)}
        except SkipFile as exc:
            return {"skip": str(exc)}
        except MemoryError:
            return {"skip": "decoder ran out of memory"}
        except FileNotFoundError:
            return {"skip": "vanished while being read"}
        except PermissionError:
            return {"skip": "unreadable (permission denied)"}
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):  # the thumbnail found no room: not the photo's fault
                return {"disk_full": str(exc)}
            return {"skip": f"cannot read ({type(exc).__name__}: {str(exc)[:160]})"}
        except Exception as exc:  # noqa: BLE001 - any decoder bug becomes a per-file reason
            return {"skip": f"cannot read ({type(exc).__name__}: {str(exc)[:160]})"}

    return analyse_one


def _test_stall() -> tuple[str, float] | None:
    """``HOMEROLL_TEST_STALL="<substring>:<seconds>"``: a file whose path holds the substring takes that long.

    A test and bench hook (tests/service/test_stalled_file.py, bench/concurrency.py) standing in for a
    read that blocks on a stalled NAS or a decoder that grinds through a huge file; unset in normal use.
    """
    text = os.environ.get("HOMEROLL_TEST_STALL", "")
    substring, _, seconds = text.rpartition(":")
    try:
        return (substring, float(seconds)) if substring else None
    except ValueError:
        return None


def _warm_up() -> None:
    """Load what the first file would otherwise pay for (zone polygons, scipy's FFT for phash)."""
    import imagehash
    from PIL import Image

    from homeroll.daemon.ingest import thumbs, timeinfo  # noqa: F401

    timeinfo.zone_at(52.52, 13.40)
    imagehash.phash(Image.new("L", (64, 64)))


def _named(path: str, relpath: str, result: Any) -> tuple[str, str, dict[str, Any]]:
    if isinstance(result, Failure):
        log.warning("%s: decoder %s", path, result)
        result = {"skip": f"decoder {result}"}
    return path, relpath, result


class WorkerPool:
    """The indexer's pool: ``analyse`` in each worker (nice 10); a hung or crashed decoder is the file's skip reason."""

    def __init__(self, settings: dict[str, Any], workers: int, timeout: float) -> None:
        self._pool = ProcessPool(_analyse_worker, settings, workers, timeout, nice=10, role="index")

    def alive(self) -> bool:
        return self._pool.alive()

    def batches(self, jobs: Iterable[tuple], idle: float | None = None) -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
        """Lists of (path, relpath, result) for the (path, relpath, sidecars) ``jobs``, as they finish.

        ``sidecars`` (kind -> path, or None) goes to ``analyse`` with the file. See ProcessPool.batches.
        """
        for batch in self._pool.batches(jobs, idle):
            yield [_named(path, relpath, result) for (path, relpath, _), result in batch]

    def close(self) -> None:
        self._pool.close()
