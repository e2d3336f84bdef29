"""The schedule of heavier work: reconcile, faces, memory selection, export, the nightly backup, and the
opt-in digest of new suggestions (only with ``[notify] urls``; service/notify.py).

APScheduler is only the clock. Its jobs do not touch the DB: each one asks the service's index
worker (the single writer) to run a step, and the worker runs steps between files. The job store
is in memory and the jobs are re-added at every start with fixed ids, so the schedule lives in
the config and all durable state stays in SQLite. Each step imports its area when it first runs,
so `homeroll status` and a starting service do not pay for numpy-heavy modules they may not need; a
failing import is a bug and fails the step like any other error. Every step run here records its
progress and its last summary or last error (service/progress.py), which `homeroll status` shows.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.service.progress import JobProgress, summary_line
from homeroll.daemon.store import clock as store_clock
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import service as store_service

log = logging.getLogger(__name__)

__all__ = ["FACES_CHUNK", "JOB_IDS", "STEPS", "make_scheduler", "purge_expired", "run_faces_budget", "run_step",
           "schedule_jobs"]

#: Steps of `homeroll run --once`, in order.
STEPS = ("scan", "faces", "select", "export")
#: Scheduled job id -> the config section and key of its trigger.
JOB_IDS = {"reconcile": ("watch", "reconcile_hours"), "faces": ("faces", "cron"),
           "select": ("memories", "cron"), "export": ("export", "cron"), "backup": ("backup", "cron"),
           "notify": ("notify", "cron")}


def _triggers(cfg: Config) -> dict[str, Any]:
    triggers: dict[str, Any] = {}
    hours = float(cfg["watch"]["reconcile_hours"])
    if hours <= 0:
        raise UserError(f"{cfg.path}: [watch] reconcile_hours must be > 0")
    triggers["reconcile"] = IntervalTrigger(seconds=hours * 3600, timezone=cfg.zone)
    for job_id in ("faces", "select", "export", "backup", "notify"):
        section, key = JOB_IDS[job_id]
        text = str(cfg[section][key])
        try:
            triggers[job_id] = CronTrigger.from_crontab(text, timezone=cfg.zone)
        except ValueError as exc:
            raise UserError(f"{cfg.path}: [{section}] {key} = {text!r} is not a crontab line ({exc})") from None
    return triggers


def make_scheduler(cfg: Config) -> BackgroundScheduler:
    return BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": {"type": "threadpool", "max_workers": 1}},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=cfg.zone,
    )


def schedule_jobs(scheduler: BackgroundScheduler, cfg: Config, submit: Callable[[str], None]) -> dict[str, str]:
    """(Re)add every job with its fixed id. Returns job id -> next run time, for the log.

    Raises UserError for a bad crontab line before anything is changed.
    """
    triggers = _triggers(cfg)
    for job_id, wanted in _wanted(cfg).items():
        if not wanted:
            triggers.pop(job_id)
            if scheduler.get_job(job_id):
                scheduler.remove_job(job_id)
    if "notify" in triggers:  # an opt-in that opens sockets: say so at every start and reload
        from homeroll.daemon.service.notify import redact

        log.info("notify: a digest of new suggestions goes to %s at %r", ", ".join(
            redact(u) for u in cfg["notify"]["urls"]), cfg["notify"]["cron"])
    for job_id, trigger in triggers.items():
        if not scheduler.running and scheduler.get_job(job_id):
            scheduler.remove_job(job_id)  # replace_existing only dedupes once the scheduler runs
        scheduler.add_job(submit, trigger, args=[job_id], id=job_id, name=job_id, replace_existing=True,
                          coalesce=True, max_instances=1)
    if not scheduler.running:
        return {job_id: "after start" for job_id in triggers}
    return {job.id: str(job.next_run_time) for job in scheduler.get_jobs()}


def _wanted(cfg: Config) -> dict[str, bool]:
    """The jobs the config can switch off, and whether it wants them."""
    return {"faces": bool(cfg["faces"]["enabled"]), "export": bool(cfg["export"]["auto"]),
            "backup": int(cfg["backup"]["keep"]) > 0,  # keep = 0: no nightly backups
            "notify": bool(cfg["notify"]["urls"])}  # urls = []: off, and apprise is never loaded


#: The scheduled steps besides scan: each area's entry point, imported only when the step runs.
_STEP_FUNCTIONS = {
    "faces": ("homeroll.daemon.faces.job", "run_faces_job"),
    "select": ("homeroll.daemon.memories.select", "run_selection"),
    "export": ("homeroll.daemon.collage.export", "run_export_job"),
    "backup": ("homeroll.daemon.store.backup", "run_backup_job"),
    "notify": ("homeroll.daemon.service.notify", "run_notify_job"),
}


def run_step(name: str, cfg: Config, db, *, indexer=None, limit: int | None = None,
             progress: Callable[[int, int], None] | None = None,
             clock: Callable[[], float] = time.monotonic,
             wall: Callable[[], str] = store_items.now_iso, report: JobProgress | None = None) -> dict | None:
    """Run one step now in the calling thread (the single writer). None when faces are disabled.

    The run records its progress and its outcome (service/progress.py): ``progress`` is called first at
    every count (the service's stop check); an exception is recorded as the step's last error, one
    line, and raised again, so callers handle it as before. With ``report``, the step is one part of a
    run the caller records in that reporter.
    """
    if name == "faces" and not cfg["faces"]["enabled"]:
        log.info("faces: disabled in the config; skipped")
        return None
    if name != "scan" and name not in _STEP_FUNCTIONS:
        raise ValueError(f"unknown step {name!r}")
    if report is not None:  # a part of a longer run the caller records (the service's faces chunks)
        return _call(name, cfg, db, indexer, limit, report)
    with JobProgress(db, name, also=progress, clock=clock, wall=wall) as report:
        report.result = _call(name, cfg, db, indexer, limit, report)
    log.info("%s: %s", name, summary_line(report.result))
    return report.result


def _call(name: str, cfg: Config, db, indexer, limit: int | None, report: JobProgress) -> dict:
    if name == "scan":
        return {"summary": indexer.scan(progress=report).summary()}
    module_name, function_name = _STEP_FUNCTIONS[name]
    function = getattr(importlib.import_module(module_name), function_name)
    if name == "faces":
        return function(cfg, db, limit=limit, progress=report)
    return function(cfg, db, progress=report)


def purge_expired(cfg: Config, db) -> int:
    """Delete paths (and items left without one) missing for longer than ``[watch] missing_grace_days``."""
    days = float(cfg["watch"]["missing_grace_days"])
    cutoff = store_clock.purge_cutoff(db, days)  # None while the clock is behind: a jump never purges
    if cutoff is None or not store_service.has_expired_missing(db, cutoff):
        return 0
    removed = store_items.purge_missing(db, cutoff)
    log.info("purged %d paths missing for more than %s days", removed, days)
    return removed


#: Faces run in small chunks so new files and SIGTERM never wait for a whole batch.
FACES_CHUNK = 20


def run_faces_budget(cfg: Config, db, *, stop: Callable[[int, int], None],
                     files_waiting: Callable[[], bool]) -> bool:
    """The service's faces job: up to ``[faces] batch_size`` photos in chunks of FACES_CHUNK, recorded as
    one run with the budget's real total. True when it stopped early because new files are waiting
    (the caller queues the rest after them)."""
    if not cfg["faces"]["enabled"]:
        log.info("faces: disabled in the config; skipped")
        return False
    from homeroll.daemon.store import faces as store_faces

    budget = int(cfg["faces"]["batch_size"])
    done = {"items_scanned": 0, "faces_found": 0, "people_created": 0}
    with JobProgress(db, "faces", also=stop) as report:
        report.expected = len(store_faces.todo_items(db, cfg["faces"]["disabled_roots"], limit=budget))
        while budget > 0:
            stop(report.done, report.total or 0)
            chunk = min(FACES_CHUNK, budget)
            result = run_step("faces", cfg, db, limit=chunk, report=report) or {}
            for key in done:
                done[key] += int(result.get(key, 0))
            report.result = done
            budget -= chunk
            if int(result.get("items_scanned", 0)) < chunk:
                return False
            if files_waiting():
                return True
    return False
