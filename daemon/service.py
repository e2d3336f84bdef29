"""`homeroll run`: the long-running process that watches the library roots and keeps the schedule.

Threads and who does what:
- main: signals (the handlers only queue), systemd notifications, watchdog pings, reloads.
- watchdog observers: turn file-system events into notes for the stability tracker. No DB access.
- APScheduler: a clock; its jobs ask the index worker to run a step.
- index worker: the only thread that writes the DB. It checks settled paths, indexes or marks them
  missing, runs reconcile/faces/select/export steps between files, checks roots, purges paths
  missing for longer than the grace period, and checkpoints the WAL when idle.

Order at start: DB + quick_check, watchers, worker, scheduler, READY=1, and only then the stat-only
reconcile (so READY is quick on a big library). SIGTERM: the worker finishes the file in hand,
commits, and the process exits. SIGHUP: the config is read again, watchers and jobs are rebuilt.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from homeroll.daemon import config as config_mod
from homeroll.daemon import jobs, store
from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.sdnotify import Notifier
from homeroll.daemon.stability import StabilityTracker, should_ignore, signature
from homeroll.daemon.store import db as store_db
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import service as store_service
from homeroll.daemon.store import sidecars as store_sidecars
from homeroll.daemon.watch import Watchers

log = logging.getLogger(__name__)

__all__ = ["run_service"]

#: Seconds without work after a write before the WAL is checkpointed.
CHECKPOINT_IDLE_SECONDS = 10.0
#: How often STATUS= is refreshed (and the counts queried).
STATUS_SECONDS = 15.0
#: Faces run in small chunks so new files and SIGTERM never wait for a whole batch.
FACES_CHUNK = 20


class _Stop(Exception):
    """Raised from a progress callback to leave a long reconcile when the service is stopping."""


def purge_expired(cfg: Config, db) -> int:
    """Delete paths (and items left without one) missing for longer than ``[watch] missing_grace_days``."""
    days = float(cfg["watch"]["missing_grace_days"])
    cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="seconds")
    if not store_service.has_expired_missing(db, cutoff):
        return 0
    removed = store_items.purge_missing(db, cutoff)
    log.info("purged %d paths missing for more than %s days", removed, days)
    return removed


class IndexWorker(threading.Thread):
    """The single DB writer. Everything that changes the DB while the service runs happens here."""

    def __init__(self, cfg: Config, db, tracker: StabilityTracker, watchers: Watchers) -> None:
        super().__init__(name="homeroll-index-worker", daemon=True)
        self.cfg = cfg
        self.db = db
        self.tracker = tracker
        self.watchers = watchers
        self.commands: queue.Queue = queue.Queue()
        self._queued: set = set()
        self._queued_lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.failed: BaseException | None = None
        self.indexer = None
        self.status_text = "starting"
        self.counts: dict = {}
        self.indexed_total = 0
        self._dirty_since: float | None = None
        self._last_status = 0.0
        self._status_stale = True
        self._last_root_check = time.monotonic()
        self._root_states: dict[str, str] = {}
        tracker.on_wake(self.wake.set)

    # --- what other threads may call -----------------------------------------------------------
    def submit(self, *command) -> None:
        """Queue a command once (a reconcile already waiting is not queued twice)."""
        if command[0] != "reload":  # a reload carries a Config (unhashable) and is never deduplicated
            with self._queued_lock:
                if command in self._queued:
                    return
                self._queued.add(command)
        self.commands.put(command)
        self.wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    # --- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._open_indexer()
            self._publish_watchers()
            store_items.kv_set(self.db, "service.state", "running")
            self._loop()
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 - recorded; the main thread exits non-zero
            log.exception("index worker failed")
            self.failed = exc
        finally:
            self._close_indexer()
            try:
                store_items.kv_set(self.db, "service.state", "stopped")
                store_db.checkpoint(self.db)
            except Exception:  # noqa: BLE001 - best effort on the way out
                log.debug("final checkpoint failed", exc_info=True)

    def _open_indexer(self) -> None:
        from homeroll.daemon.ingest.pipeline import Indexer

        self.indexer = Indexer(self.cfg, self.db)

    def _close_indexer(self) -> None:
        if self.indexer is not None:
            self.indexer.close()
            self.indexer = None
        try:
            from homeroll.daemon.faces.job import close_pool
        except ImportError:
            return
        close_pool()  # the faces pool is kept warm between chunks; stop it with the service

    def alive(self) -> bool:
        if not self.is_alive():
            return False
        ix = self.indexer
        alive = getattr(ix, "workers_alive", None)
        return alive() if callable(alive) else True

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()  # before looking for work, so a note arriving meanwhile is not slept through
            did = self._process_due()
            if self.stopping.is_set():
                break
            if not did:
                did = self._run_one_command()
            self._periodic()
            if did:
                self._dirty_since = time.monotonic()
                self._status_stale = True
                continue
            self._idle()
            next_due = self.tracker.next_due()
            timeout = 1.0 if next_due is None else min(1.0, max(0.0, next_due - time.monotonic()))
            self.wake.wait(timeout)

    def _check_stop(self, *_args) -> None:
        if self.stopping.is_set():
            raise _Stop()

    # --- files ---------------------------------------------------------------------------------
    def _process_due(self) -> bool:
        keys = self.tracker.take_due(limit=64)
        settled: dict[str, list[str]] = {}
        for root, relpath in keys:
            if self.stopping.is_set():
                return True  # the rest is found by the reconcile at the next start
            sig = signature(os.path.join(root, relpath))
            if not self.tracker.settle((root, relpath), sig):
                continue
            if sig is not None:
                settled.setdefault(root, []).append(relpath)
                continue
            try:
                self._gone(root, relpath)
            except Exception:  # noqa: BLE001 - one bad file never stops the service
                log.exception("%s: failed", os.path.join(root, relpath))
        for root, relpaths in settled.items():
            self._index(root, relpaths)
        return bool(keys)

    def _index(self, root: str, relpaths: list[str]) -> None:
        """Settled files of one root, analysed in parallel by the indexer's workers."""
        try:
            outcomes = self.indexer.index_files(root, relpaths)
        except Exception:  # noqa: BLE001 - one bad batch never stops the service
            log.exception("%s: indexing %d files failed", root, len(relpaths))
            return
        for relpath, outcome in outcomes.items():
            if outcome == "indexed":
                self.indexed_total += 1
            log.debug("%s: %s", relpath, outcome)

    def _gone(self, root: str, relpath: str) -> None:
        if store_sidecars.get(self.db, root, relpath) is not None:
            self._index(root, [relpath])  # its photo is re-read without it
            return
        known = store_items.get_path(self.db, root, relpath)
        if known is None or known["missing_since"]:
            return
        state, note, _ = self.indexer.root_status(root)
        if state != "online":
            self._set_root_state(root, state, note)
            return
        store_items.mark_missing(self.db, root, [relpath])
        moved = store_items.settle_moves(self.db)
        log.info("%s: %s", os.path.join(root, relpath), "moved" if moved else "missing (kept for the grace period)")

    def _subtree(self, root: str, rel_dir: str) -> None:
        """A folder appeared, vanished or moved: look at everything under it (disk and DB)."""
        from homeroll.daemon.ingest import roots as roots_mod

        base = os.path.join(root, rel_dir)
        if os.path.isdir(base):
            excluded = frozenset(self.cfg["scan"]["excluded_folders"])
            for entry in roots_mod.walk(base, excluded):
                rel = os.path.join(rel_dir, entry.relpath)
                if not should_ignore(rel):
                    self.tracker.note(root, rel)
        for rel in store_service.present_paths_under(self.db, root, rel_dir):
            self.tracker.note(root, rel)

    # --- commands ------------------------------------------------------------------------------
    def _run_one_command(self) -> bool:
        try:
            command = self.commands.get_nowait()
        except queue.Empty:
            return False
        kind, *args = command
        if kind != "reload":
            with self._queued_lock:
                self._queued.discard(command)
        try:
            if kind == "reconcile":
                self._reconcile(args[0] if args else None)
            elif kind == "subtree":
                self._subtree(*args)
            elif kind == "job":
                self._job(args[0])
            elif kind == "reload":
                self._reload(args[0])
        except _Stop:
            raise
        except Exception:  # noqa: BLE001 - a failing step is logged, the service carries on
            log.exception("%s failed", " ".join(map(str, command)))
        return True

    def _reconcile(self, root: str | None) -> None:
        roots = [root] if root else [str(r) for r in self.cfg.libraries]
        for one in roots:
            self._check_stop()
            stats = self.indexer.reconcile_root(one, progress=self._check_stop,
                                                defer=lambda rel, root=one: self.tracker.note(root, rel))
            log.info("reconcile %s: %s", one, stats.summary())
            self._root_states[one] = "offline" if one in stats.roots_offline else "online"
        self._purge_expired()
        store_items.kv_set(self.db, "service.last_reconcile_at", store_items.now_iso())
        self._update_status(force=True)

    def _purge_expired(self) -> None:
        purge_expired(self.cfg, self.db)

    def _job(self, name: str) -> None:
        if name == "reconcile":
            self._reconcile(None)
            return
        if name != "faces":
            jobs.run_step(name, self.cfg, self.db)
            return
        budget = int(self.cfg["faces"]["batch_size"])
        while budget > 0:
            self._check_stop()
            chunk = min(FACES_CHUNK, budget)
            result = jobs.run_step("faces", self.cfg, self.db, limit=chunk)
            budget -= chunk
            if not result or int(result.get("items_scanned", 0)) < chunk:
                break
            if self.tracker.next_due() is not None:
                self.submit("job", "faces")  # new files first; the rest of the batch comes after them
                break

    def _reload(self, cfg: Config) -> None:
        self._close_indexer()
        self.cfg = cfg
        self._open_indexer()
        self._publish_watchers()
        log.info("index worker uses the reloaded config")

    # --- housekeeping --------------------------------------------------------------------------
    def _set_root_state(self, root: str, state: str, note: str | None) -> None:
        if self._root_states.get(root) == state:
            return
        self._root_states[root] = state
        log.warning("root %s is %s: %s; nothing under it is marked missing", root, state, note)
        store_items.set_root(self.db, root, state=state, note=note)

    def _publish_watchers(self) -> None:
        for root, watch in self.watchers.watches().items():
            row = store_service.root_row(self.db, root)
            if row is None or row["watcher"] != watch.watcher:
                store_items.set_root(self.db, root, watcher=watch.watcher)

    def _periodic(self) -> None:
        now = time.monotonic()
        if self.tracker.take_overflow():
            log.warning("too many changes at once; a reconcile will find them")
            self.submit("reconcile", None)
        if now - self._last_root_check >= float(self.cfg["watch"]["root_check_seconds"]):
            self._last_root_check = now
            self._check_roots()
            self._purge_expired()
        if self._status_stale and now - self._last_status >= STATUS_SECONDS:
            self._update_status()  # counts cost a few table scans: only after something happened

    def _check_roots(self) -> None:
        """Missing, emptied or unmounted roots are offline; a root that is back is watched and reconciled."""
        for root in [str(r) for r in self.cfg.libraries]:
            state, note, _ = self.indexer.root_status(root)
            previous = self._root_states.get(root)
            if state != "online":
                self._set_root_state(root, state, note)
                continue
            if self.watchers.needs_restart(root):
                log.info("root %s is back (or was replaced); watching it again", root)
                self.watchers.start_root(root)
                self._publish_watchers()
            if previous is not None and previous != "online":
                self._root_states[root] = "online"
                self.submit("reconcile", root)

    def _idle(self) -> None:
        if self._dirty_since is not None and time.monotonic() - self._dirty_since >= CHECKPOINT_IDLE_SECONDS:
            self._dirty_since = None
            try:
                store_db.checkpoint(self.db)
                log.debug("WAL checkpointed")
            except Exception as exc:  # noqa: BLE001 - a busy reader only delays it
                log.debug("checkpoint skipped: %s", exc)
            self._update_status(force=True)

    def _update_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_status < STATUS_SECONDS:
            return
        self._last_status = now
        self._status_stale = False
        self.counts = store_items.counts(self.db)
        offline = sorted(r for r, s in self._root_states.items() if s != "online")
        text = (f"{self.counts['items']} items, {self.counts['missing']} missing, "
                f"{len(self.tracker)} settling, {self.indexed_total} indexed since start")
        if offline:
            text += f"; offline: {', '.join(offline)}"
        self.status_text = text


class Service:
    """Wires the parts together and runs the main (signal) loop."""

    def __init__(self, cfg_path: str | None, notifier: Notifier) -> None:
        self.cfg_path = cfg_path
        self.notifier = notifier
        self.events: queue.SimpleQueue = queue.SimpleQueue()

    def _on_signal(self, signum, _frame) -> None:
        self.events.put(signum)  # SimpleQueue.put is reentrant: safe in a signal handler

    def _make_tracker_and_watchers(self, cfg: Config) -> tuple[StabilityTracker, Watchers]:
        tracker = StabilityTracker(float(cfg["watch"]["stable_seconds"]), max_pending=int(cfg["watch"]["max_pending"]))
        watchers = Watchers(tracker, mode=cfg["watch"]["mode"], poll_interval=float(cfg["watch"]["poll_interval"]),
                            on_subtree=lambda root, rel: self.worker.submit("subtree", root, rel),
                            on_overflow=lambda: self.worker.submit("reconcile", None))
        return tracker, watchers

    def run(self) -> int:
        started = time.monotonic()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        cfg = config_mod.load(self.cfg_path)
        self.cfg = cfg
        self.notifier.status("checking the database")
        db = store.connect(cfg.db_path)
        check = store_db.quick_check(db)
        if check != "ok":
            log.error("database %s failed PRAGMA quick_check: %s; restore a backup (homeroll.db.bak-*)",
                      cfg.db_path, check)
            self.notifier.status(f"database damaged: {check}")
            db.close()
            return 1
        store_items.kv_set(db, "service.pid", str(os.getpid()))
        store_items.kv_set(db, "service.started_at", store_items.now_iso())
        store_items.kv_set(db, "service.state", "starting")

        self.worker = None
        tracker, self.watchers = self._make_tracker_and_watchers(cfg)
        self.worker = IndexWorker(cfg, db, tracker, self.watchers)
        self.watchers.start([str(r) for r in cfg.libraries])
        self.scheduler = jobs.make_scheduler(cfg)
        jobs.schedule_jobs(self.scheduler, cfg, lambda name: self.worker.submit("job", name))
        self.worker.start()
        self.scheduler.start()
        self.worker.submit("reconcile", None)  # the truth, after READY
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
            if self.notifier.watchdog_due() and self.worker.alive() and self.watchers.alive() \
                    and self.scheduler.running:
                self.notifier.watchdog()
            if self.worker.status_text != last_status:
                last_status = self.worker.status_text
                self.notifier.status(last_status)

    def _reload(self) -> None:
        self.notifier.reloading()
        log.info("SIGHUP: reading %s again", self.cfg_path or config_mod.default_config_path())
        try:
            cfg = config_mod.load(self.cfg_path)
            jobs.schedule_jobs(self.scheduler, cfg, lambda name: self.worker.submit("job", name))
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
        self.worker.submit("reload", cfg)
        for root in sorted({str(r) for r in cfg.libraries} - old_roots):
            self.worker.submit("reconcile", root)
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


def _run_once(cfg_path: str | None) -> int:
    """scan, faces, select, export once, then exit (for cron users and tests)."""
    cfg = config_mod.load(cfg_path)
    db = store.connect(cfg.db_path)
    check = store_db.quick_check(db)
    if check != "ok":
        log.error("database %s failed PRAGMA quick_check: %s", cfg.db_path, check)
        return 1
    failed = []
    try:
        from homeroll.daemon.ingest.pipeline import Indexer

        with Indexer(cfg, db) as ix:
            jobs.run_step("scan", cfg, db, indexer=ix)
        for step in jobs.STEPS[1:]:
            try:
                jobs.run_step(step, cfg, db)
            except Exception:  # noqa: BLE001 - every step gets its turn
                log.exception("%s failed", step)
                failed.append(step)
        purge_expired(cfg, db)
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
