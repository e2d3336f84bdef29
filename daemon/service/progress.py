"""Each job's progress while it runs and its outcome after, recorded where `homeroll status` and the TUI read.

A long scan or faces run used to be invisible, and a failing one only said so in a log nobody reads:
the status screen showed keys no code wrote. The reporter here is the ``progress(done, total)`` callback
the indexer and the step functions already take, so a step counts its work where it does it and
knows nothing about kv. It records, under ``job.<name>.*`` (store.service.JOB_FIELDS):
  * ``progress`` while the job runs: JSON {done, total, rate, eta_seconds, started_at, updated_at, pid}.
    It is a DB write, so at most one every ``min_interval`` seconds (plus one at the start);
  * at the end, in one transaction: no more ``progress``, ``last_run``, and either ``last_summary`` (and
    no ``last_error``) or ``last_error`` {at, error}: the exception's one line, or a summary's ``error``;
    and the run's ``last_rate`` when it counted anything, so work spread over many runs (the faces backlog
    of a new library, :func:`faces_backlog`) has an ETA between them too.
Rate and ETA come from an injectable monotonic clock and wall times from an injectable wall clock, so
tests check the arithmetic without sleeping. A run killed with SIGKILL cannot clear its ``progress``:
the pid in it lets a reader (:func:`describe`) call that run interrupted rather than running.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from homeroll.daemon.store import fsutil
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import service as store_service

log = logging.getLogger(__name__)

__all__ = ["JobProgress", "Stopped", "backlog_line", "describe", "faces_backlog", "job_line", "settle_interrupted",
           "summary_line"]

#: Seconds between two progress writes (each one is a DB write).
WRITE_SECONDS = 1.0


class Stopped(Exception):
    """Raised (by an ``also`` callback) to leave a job because the process is stopping: the run is
    recorded as stopped part-way, not as a failure."""


def summary_line(result: Any) -> str:
    """One line for a step's result: its ``summary`` text, or 'key value' for its plain fields (lists
    counted), so the status shows what a run did without a wall of JSON."""
    if not isinstance(result, dict):
        return "" if result is None else str(result)
    if isinstance(result.get("summary"), str):
        return result["summary"]
    parts = []
    for key, value in result.items():
        if isinstance(value, list):
            parts.append(f"{key} {len(value)}")
        elif value is not None and not isinstance(value, dict):
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if text else type(exc).__name__


class JobProgress:
    """``progress(done, total)`` for one run of job ``name``; a context manager around the run.

    ``also`` is called first with the whole run's done and total (the service passes its stop check,
    which raises :class:`Stopped`; the CLI its progress bar). ``result`` set inside the ``with`` is recorded as the run's summary at its end.
    A scan over several roots counts each root from 0: a count that goes back, or a new total, starts a
    new part, and done and total keep adding up over the parts.
    """

    def __init__(self, db, name: str, *, also: Callable[[int, int], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], str] = store_items.now_iso,
                 min_interval: float = WRITE_SECONDS) -> None:
        self.db = db
        self.name = name
        self.also = also
        self.clock = clock
        self.wall = wall
        self.min_interval = min_interval
        self.result: Any = None
        self.done = 0
        self.total: int | None = None
        #: The whole run's total when it is known up front (faces in chunks): it stands for the parts' sum.
        self.expected: int | None = None
        self.started_at: str | None = None
        self._started = 0.0
        self._last_write: float | None = None
        self._base = 0
        self._part: tuple[int, int | None] | None = None
        self._ended = False

    # --- the run ---------------------------------------------------------------------------------
    def __enter__(self) -> JobProgress:
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            self.finish(self.result)
            return False
        try:
            if isinstance(exc, Stopped):
                self.stopped()
            elif isinstance(exc, Exception):
                self.fail(exc)
        except Exception:  # noqa: BLE001 - a full disk fails this write too; the step's own error matters
            log.warning("%s: could not record how the run ended", self.name, exc_info=True)
        return False  # the caller sees the exception as before

    def start(self) -> None:
        self._started = self.clock()
        self.started_at = self.wall()
        self._write()

    def __call__(self, done: int, total: int | None) -> None:
        if self._part is not None and (done < self._part[0] or total != self._part[1]):
            self._base += self._part[1] if self._part[1] is not None else self._part[0]
        self._part = (done, total)
        self.done = self._base + done
        self.total = None if total is None else self._base + total
        if self.expected is not None:
            self.total = max(self.expected, self.done)
        if self.also is not None:  # with the whole run's counts, before the write (a stop check may raise)
            self.also(self.done, self.total)
        if self._last_write is None or self.clock() - self._last_write >= self.min_interval:
            self._write()

    def finish(self, result: Any = None) -> None:
        """The run ended; a result with an ``error`` (the export folder is gone) is its last error."""
        error = result.get("error") if isinstance(result, dict) else None
        if error:
            self._end(error=str(error))
        else:
            self._end(summary=summary_line(result))

    def fail(self, exc: BaseException) -> None:
        self._end(error=_one_line(exc))

    def stopped(self) -> None:
        of = f"/{self.total:,}" if self.total is not None else ""
        self._end(summary=f"stopped part-way ({self.done:,}{of} done)")

    # --- what is recorded --------------------------------------------------------------------------
    def rate(self) -> float | None:
        """Units per second over the run so far; None before the first unit."""
        elapsed = self.clock() - self._started
        return self.done / elapsed if self.done and elapsed > 0 else None

    def eta_seconds(self) -> float | None:
        rate = self.rate()
        if rate is None or self.total is None:
            return None
        return max(self.total - self.done, 0) / rate

    def snapshot(self) -> dict[str, Any]:
        rate, eta = self.rate(), self.eta_seconds()
        return {"done": self.done, "total": self.total, "rate": None if rate is None else round(rate, 3),
                "eta_seconds": None if eta is None else round(eta, 1), "started_at": self.started_at,
                "updated_at": self.wall(), "pid": os.getpid()}

    def _write(self) -> None:
        self._last_write = self.clock()
        store_service.set_job_progress(self.db, self.name, json.dumps(self.snapshot()))

    def _end(self, *, summary: str | None = None, error: str | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        at = self.wall()
        error_json = None if error is None else json.dumps({"at": at, "error": error})
        rate = self.rate() if error is None else None
        store_service.end_job(self.db, self.name, at, summary=summary, error_json=error_json,
                              rate=None if rate is None else round(rate, 3))


# --- reading it back -------------------------------------------------------------------------------
def _loads(raw: str | None) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def describe(records: dict[str, dict[str, str]],
             pid_alive: Callable[[int], bool] = fsutil.pid_alive) -> dict[str, dict[str, Any]]:
    """store.service.job_records -> the ``jobs`` object of `homeroll status --json`, per job:
    {running, interrupted, done, total, rate, eta_seconds, started_at, last_run, last_summary, last_error}.

    ``running`` needs the recorded pid to exist: a run killed with SIGKILL left its progress behind, and
    is ``interrupted`` (its done/total say where it stopped)."""
    out: dict[str, dict[str, Any]] = {}
    for name in store_service.JOB_NAMES:
        fields = records.get(name, {})
        progress = _loads(fields.get("progress"))
        progress = progress if isinstance(progress, dict) else {}
        pid = progress.get("pid")
        alive = bool(progress) and (not isinstance(pid, int) or pid_alive(pid))
        error = _loads(fields.get("last_error"))
        out[name] = {
            "running": alive, "interrupted": bool(progress) and not alive,
            **{key: progress.get(key) for key in ("done", "total", "rate", "eta_seconds", "started_at")},
            "last_run": fields.get("last_run"), "last_summary": fields.get("last_summary"),
            "last_error": error if isinstance(error, dict) else None,
        }
    return out


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(round(seconds), 1)} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"  # a Pi's first faces backlog


def _rate(rate: float) -> str:
    if rate >= 10:
        return f"{rate:,.0f}/s"
    if rate >= 1:
        return f"{rate:.1f}/s"
    return f"{rate * 60:.1f}/min"


def job_line(name: str, job: dict[str, Any]) -> str | None:
    """'scan: 1,200/5,000 (24%), 35/s, about 2 min left' for a running (or interrupted) job, else None."""
    if not (job["running"] or job["interrupted"]):
        return None
    done, total = job["done"] or 0, job["total"]
    if total:
        text = f"{name}: {done:,}/{total:,} ({100 * done // total}%)"
    else:  # counting has not begun (a scan still walking), or the step has no count
        text = f"{name}: {done:,} done" if done else f"{name}: started"
    if job["interrupted"]:
        return text + ", interrupted (its process is gone)"
    if job["rate"]:
        text += f", {_rate(job['rate'])}"
    eta = job["eta_seconds"]
    if eta is not None and total:
        text += ", almost done" if eta < 1 else f", about {_duration(eta)} left"
    return text


def faces_backlog(scan: dict[str, int], records: dict[str, dict[str, str]],
                  pid_alive: Callable[[int], bool] = fsutil.pid_alive) -> dict[str, Any]:
    """store.service.status's ``faces_scan`` and ``jobs`` -> the ``faces_backlog`` of `homeroll status --json`:
    {done, total, rate, eta_seconds} over the whole library, not one run's budget. ``rate`` (photos/s) is the
    running faces run's, else the last finished one's (``last_rate``); None before any run counted a photo."""
    job = describe({"faces": records.get("faces", {})}, pid_alive)["faces"]
    rate = job["rate"] if job["running"] and job["rate"] else _loads(records.get("faces", {}).get("last_rate"))
    rate = float(rate) if isinstance(rate, int | float) and rate > 0 else None
    done, todo = int(scan["done"]), int(scan["todo"])
    return {"done": done, "total": done + todo, "rate": rate,
            "eta_seconds": None if rate is None else round(todo / rate, 1)}


def backlog_line(backlog: dict[str, Any]) -> str:
    """'1,240 of 100,000 photos scanned, 3.1/s, about 8.8 h left' (rate and time left once a run has counted)."""
    done, total, rate = backlog["done"], backlog["total"], backlog["rate"]
    text = f"{done:,} of {total:,} photos scanned"
    if rate and done < total:
        text += f", {_rate(rate)}, about {_duration(backlog['eta_seconds'])} left"
    return text


def settle_interrupted(db, pid_alive: Callable[[int], bool] = fsutil.pid_alive) -> list[str]:
    """At service start: a run left "in progress" by a process that is gone (or whose pid this process now
    has, after a reboot) ends as interrupted, where it stopped; returns the jobs settled."""
    settled = []
    for name, fields in store_service.job_records(db).items():
        progress = _loads(fields.get("progress"))
        if not isinstance(progress, dict):
            continue
        pid = progress.get("pid")
        if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid):
            continue  # a `homeroll scan` or `faces` that is really running
        done, total = progress.get("done") or 0, progress.get("total")
        of = f"/{total:,}" if isinstance(total, int) else ""
        store_service.end_job(db, name, store_items.now_iso(),
                              summary=f"interrupted part-way ({done:,}{of} done): its process stopped")
        settled.append(name)
    return settled
