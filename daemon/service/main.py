"""`homeroll run`: the long-running process that watches the library roots and keeps the schedule.

Threads and who does what:
- main: signals (the handlers only queue), systemd notifications, watchdog pings, reloads.
- watchdog observers: turn file-system events into notes for the stability tracker. No DB access.
- APScheduler: a clock; its jobs ask the index worker to run a step.
- index worker (``worker.py``): the only thread that writes the DB; the others queue typed
  commands (``commands.py``) for it.

Order at start: DB + quick_check, watchers, worker, scheduler, READY=1, and only then the stat-only
reconcile (so READY is quick on a big library). SIGTERM: the worker finishes the file in hand,
commits, and the process exits. SIGHUP: the config is read again, watchers and jobs are rebuilt.

The data dir decides two outcomes at start. Read-only (an SD card the kernel remounted after errors,
a wrong owner): one line naming it and exit code 2, since restarting cannot help and a traceback
hides the cause. Full: the service starts and the worker runs degraded (``degraded.py``), so it
resumes by itself once there is room; only when the DB cannot even be opened (no room for its
``-shm``), created or migrated is it one line and exit code 2, and systemd's restart tries again.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sqlite3
import time
from pathlib import Path

from homeroll.daemon import __version__, store
from homeroll.daemon import config as config_mod
from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.ingest.pipeline import Indexer
from homeroll.daemon.service import diskfull, jobs, liveness
from homeroll.daemon.service.commands import Job, Reconcile, Reload, Subtree
from homeroll.daemon.service.sdnotify import Notifier
from homeroll.daemon.service.stability import StabilityTracker
from homeroll.daemon.service.watch import Watchers
from homeroll.daemon.service.worker import IndexWorker
from homeroll.daemon.store import backup as store_backup
from homeroll.daemon.store import db as store_db
from homeroll.daemon.store import fsutil
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import service as store_service

log = logging.getLogger(__name__)

__all__ = ["run_service"]


class Service:
    """Wires the parts together and runs the main (signal) loop."""

    def __init__(self, cfg_path: str | None, notifier: Notifier) -> None:
        self.cfg_path = cfg_path
        self.notifier = notifier
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self._last_beat = float("-inf")
        self._beat_error: str | None = None

    def _on_signal(self, signum, _frame) -> None:
        self.events.put(signum)  # SimpleQueue.put is reentrant: safe in a signal handler

    def _make_tracker_and_watchers(self, cfg: Config) -> tuple[StabilityTracker, Watchers]:
        tracker = StabilityTracker(float(cfg["watch"]["stable_seconds"]), max_pending=int(cfg["watch"]["max_pending"]))
        watchers = Watchers(tracker, mode=cfg["watch"]["mode"], poll_interval=float(cfg["watch"]["poll_interval"]),
                            on_subtree=lambda root, rel: self.worker.submit(Subtree(root, rel)),
                            on_overflow=lambda: self.worker.submit(Reconcile()))
        return tracker, watchers

    def run(self) -> int:
        started = time.monotonic()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        cfg = config_mod.load(self.cfg_path)
        self.cfg = cfg
        fsutil.follow_shared_dir(cfg.data_dir)  # started by hand rather than by the unit (UMask=0007)
        self.notifier.status("checking the database")
        db = _open_db(cfg)
        check = store_db.quick_check(db)
        if check != "ok":
            self.notifier.status(f"database damaged: {check}")
            db.close()
            raise UserError(store_backup.damaged_message(cfg.db_path, check))
        _record_start(cfg, db)

        self.worker = None
        tracker, self.watchers = self._make_tracker_and_watchers(cfg)
        self.worker = IndexWorker(cfg, db, tracker, self.watchers)
        self.watchers.start([str(r) for r in cfg.libraries])
        self.scheduler = jobs.make_scheduler(cfg)
        jobs.schedule_jobs(self.scheduler, cfg, lambda name: self.worker.submit(Job(name)))
        self.worker.start()
        self.scheduler.start()
        self.worker.submit(Reconcile())  # the truth, after READY
        self.notifier.ready(status=f"watching {len(cfg.libraries)} roots; reconciling")
        log.info("ready in %.1f s: watching %s", time.monotonic() - started,
                 ", ".join(f"{r} ({w.watcher})" for r, w in self.watchers.watches().items()))
        try:
            code = self._main_loop()
        except Exception:  # noqa: BLE001 - stop cleanly (commit, STOPPING=1) even after a bug
            log.exception("service loop failed")
            code = 1
        return self._shutdown(code)

    def _main_loop(self) -> int:
        tick = 1.0
        if self.notifier.watchdog_interval:
            tick = min(tick, self.notifier.watchdog_interval / 2)
        last_status = ""
        while True:
            try:
                signum = self.events.get(timeout=tick)
            except queue.Empty:
                signum = None
            if signum in (signal.SIGTERM, signal.SIGINT):
                log.info("%s: finishing the current file and stopping", signal.Signals(signum).name)
                return 0
            if signum == signal.SIGHUP:
                self._reload()
            if not self.worker.is_alive():
                log.error("the index worker stopped (%s); exiting so the service manager restarts us",
                          self.worker.failed)
                return 1
            healthy = self.worker.alive() and self.watchers.alive() and self.scheduler.running
            if healthy and self.notifier.watchdog_due():
                self.notifier.watchdog()
            if healthy:
                self._beat()
            if self.worker.status_text != last_status:
                last_status = self.worker.status_text
                self.notifier.status(last_status)

    def _beat(self) -> None:
        """The heartbeat `homeroll status` reads (see liveness.py), every HEARTBEAT_SECONDS while healthy."""
        now = time.monotonic()
        if now - self._last_beat < liveness.HEARTBEAT_SECONDS:
            return
        first, self._last_beat = self._last_beat == float("-inf"), now
        try:
            liveness.beat(self.cfg.data_dir, first=first)
        except OSError as exc:
            if self._beat_error != str(exc):  # once per cause: a full disk would repeat it every 15 s
                log.warning("cannot write the heartbeat in %s: %s; status will call the service not responding",
                            self.cfg.data_dir, exc)
            self._beat_error = str(exc)
            return
        if self._beat_error is not None:
            log.info("the heartbeat in %s is written again", self.cfg.data_dir)
            self._beat_error = None

    def _reload(self) -> None:
        self.notifier.reloading()
        log.info("SIGHUP: reading %s again", self.cfg_path or config_mod.default_config_path())
        try:
            cfg = config_mod.load(self.cfg_path)
            jobs.schedule_jobs(self.scheduler, cfg, lambda name: self.worker.submit(Job(name)))
        except UserError as exc:
            log.error("reload failed, keeping the running config: %s", exc)
            self.notifier.ready(status=f"reload failed: {exc}")
            return
        old_roots = {str(r) for r in self.cfg.libraries}
        self.watchers.stop()
        tracker = self.worker.tracker
        tracker.stable_seconds = float(cfg["watch"]["stable_seconds"])
        tracker.max_pending = int(cfg["watch"]["max_pending"])
        self.watchers.mode = cfg["watch"]["mode"]
        self.watchers.poll_interval = float(cfg["watch"]["poll_interval"])
        self.watchers.start([str(r) for r in cfg.libraries])
        self.worker.submit(Reload(cfg))
        for root in sorted({str(r) for r in cfg.libraries} - old_roots):
            self.worker.submit(Reconcile(root))
        self.cfg = cfg
        self.notifier.ready(status="config reloaded")
        log.info("config reloaded")

    def _shutdown(self, code: int) -> int:
        self.notifier.stopping()
        self.worker.stop()
        try:
            self.scheduler.shutdown(wait=False)
        except Exception:  # noqa: BLE001 - not started
            pass
        self.watchers.close()
        self.worker.join(timeout=8.0)
        if self.worker.is_alive():
            log.error("the index worker did not stop within 8 s; exiting anyway (nothing half-written is committed)")
            return code or 1
        self.worker.db.close()
        log.info("stopped")
        return code if self.worker.failed is None else 1


def _data_dir_error(cfg: Config, exc: BaseException) -> UserError | None:
    """The one line for a data dir that cannot be written, or None if ``exc`` is something else."""
    if diskfull.is_disk_full(exc, cfg.data_dir):
        return UserError(f"{diskfull.full_reason(cfg.data_dir)}; what was indexed is kept")
    if diskfull.is_read_only(exc, cfg.data_dir):
        return UserError(diskfull.read_only_reason(cfg.data_dir, exc))
    return None


def _open_db(cfg: Config):
    try:
        return store.connect(cfg.db_path)
    except (sqlite3.Error, OSError) as exc:
        error = _data_dir_error(cfg, exc)
        if error is None:
            raise
        raise error from None


def _record_start(cfg: Config, db) -> None:
    """The first writes: a read-only data dir stops here (one line, exit 2); a full one only warns, and
    the worker then runs degraded until there is room."""
    try:
        with db.atomic():
            store_items.kv_set(db, "service.pid", str(os.getpid()))
            store_items.kv_set(db, "service.started_at", store_items.now_iso())
            store_items.kv_set(db, "service.state", "starting")
            store_service.record_install(db, __version__, config_mod.known_keys())
    except (sqlite3.Error, OSError) as exc:
        if db.conn.in_transaction:
            db.conn.rollback()
        if not diskfull.is_disk_full(exc):
            db.close()
            error = _data_dir_error(cfg, exc)
            if error is None:
                raise
            raise error from None
        log.warning("cannot record the start: %s; starting degraded", diskfull.full_reason(cfg.data_dir))


def _run_once(cfg_path: str | None) -> int:
    """scan, faces, select, export once, then exit (for cron users and tests)."""
    cfg = config_mod.load(cfg_path)
    fsutil.follow_shared_dir(cfg.data_dir)  # a member's cron job writes the household's files too
    db = _open_db(cfg)
    check = store_db.quick_check(db)
    if check != "ok":
        db.close()
        raise UserError(store_backup.damaged_message(cfg.db_path, check))
    failed = []
    try:
        with Indexer(cfg, db) as indexer:
            jobs.run_step("scan", cfg, db, indexer=indexer)
        for step in jobs.STEPS[1:]:
            try:
                jobs.run_step(step, cfg, db)
            except Exception:  # noqa: BLE001 - every step gets its turn
                log.exception("%s failed", step)
                failed.append(step)
        jobs.purge_expired(cfg, db)
        store_db.checkpoint(db)
    finally:
        db.close()
    return 1 if failed else 0


def run_service(cfg_path: str | Path | None, log_level: str = "info", once: bool = False) -> int:
    """Run until SIGTERM (or once). Returns the process exit code."""
    logging.getLogger().setLevel(getattr(logging, log_level.upper(), logging.INFO))
    notifier = Notifier()  # takes NOTIFY_SOCKET out of the environment before any worker is spawned
    path = str(cfg_path) if cfg_path else None
    try:
        if once:
            return _run_once(path)
        return Service(path, notifier).run()
    finally:
        notifier.close()
