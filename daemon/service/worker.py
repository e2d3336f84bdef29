"""The index worker: the only thread that writes the DB while the service runs.

It checks paths the stability tracker says have settled, indexes them or marks them missing, runs the
commands other threads queue (reconcile, a changed folder, a scheduled step, a reload) between files,
checks roots, purges paths missing for longer than the grace period (jobs.purge_expired), and checkpoints the WAL when
idle. Faces run in small chunks so new files and SIGTERM never wait for a whole batch. A full data
dir makes it degraded, not dead (``degraded.py``): it holds what failed and tries again with backoff.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.ingest import roots as roots_mod
from homeroll.daemon.ingest import thumbs
from homeroll.daemon.ingest.pipeline import Indexer, ScanStats
from homeroll.daemon.service import degraded, diskfull, firstrun, jobs, progress
from homeroll.daemon.service.clockwatch import ClockWatch, kernel_says_synchronised, record_jump
from homeroll.daemon.service.commands import Command, CommandQueue, Job, Reconcile, Reload, Subtree
from homeroll.daemon.service.stability import StabilityTracker, signature
from homeroll.daemon.service.watch import Watchers
from homeroll.daemon.store import clock as store_clock
from homeroll.daemon.store import db as store_db
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import service as store_service
from homeroll.daemon.store import sidecars as store_sidecars

log = logging.getLogger(__name__)

__all__ = ["IndexWorker"]

#: Seconds without work after a write before the WAL is checkpointed.
CHECKPOINT_IDLE_SECONDS = 10.0
#: How often STATUS= is refreshed (and the counts queried).
STATUS_SECONDS = 15.0


class _Stop(progress.Stopped):
    """Raised from a progress callback to leave a long reconcile when the service is stopping."""


class IndexWorker(threading.Thread):
    """The single DB writer. Everything that changes the DB while the service runs happens here."""

    def __init__(self, cfg: Config, db, tracker: StabilityTracker, watchers: Watchers) -> None:
        super().__init__(name="homeroll-index-worker", daemon=True)
        self.cfg = cfg
        self.db = db
        self.tracker = tracker
        self.watchers = watchers
        self.commands = CommandQueue()
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
        self.full = degraded.DataDirFull(cfg.data_dir)
        self.clockwatch = ClockWatch()
        store_clock.use_sync_check(kernel_says_synchronised)  # a mark left by a clock ahead goes once synced
        tracker.on_wake(self.wake.set)

    # --- what other threads may call -----------------------------------------------------------
    def submit(self, command: Command) -> None:
        """Queue a command once (a reconcile already waiting is not queued twice)."""
        if self.commands.put(command):
            self.wake.set()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    # --- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._start()
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

    def _start(self) -> None:
        swept = thumbs.sweep_temps(self.cfg.data_dir)
        if swept:
            log.info("removed %d temp files a killed writer left under %s", swept, self.cfg.data_dir)
        with self._degraded_when_full():  # each of these writes: on a full data dir it starts degraded, not dead
            self._open_indexer()
            for name in progress.settle_interrupted(self.db):
                log.warning("the last %s run was interrupted (its process stopped part-way)", name)
            self._publish_watchers()
            degraded.forget_full_skips(self.db, [str(r) for r in self.cfg.libraries])  # an older version's
            self.full.make_reserve()
            self.full.record(self.db)  # running

    @contextlib.contextmanager
    def _degraded_when_full(self) -> Iterator[None]:
        """A full data dir met in the block makes the worker degraded (``self.full``) instead of failing."""
        try:
            yield
        except Exception as exc:
            if not diskfull.is_disk_full(exc):
                raise
            self._full(exc)

    def _open_indexer(self) -> None:
        self.indexer = Indexer(self.cfg, self.db)

    def _close_indexer(self) -> None:
        if self.indexer is not None:
            self.indexer.close()
            self.indexer = None
        from homeroll.daemon.faces.job import close_pool  # dlib loads only when faces run

        close_pool()  # the faces pool is kept warm between chunks; stop it with the service

    def alive(self) -> bool:
        if not self.is_alive():
            return False
        if self.indexer is None:
            return self.full.active  # degraded before the indexer could open: alive, and retrying
        return self.indexer.workers_alive()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()  # before looking for work, so a note arriving meanwhile is not slept through
            if self.full.active:  # new notes and commands wait in their queues until there is room
                self._while_full()
                self.wake.wait(1.0)
                continue
            worked = False
            with self._degraded_when_full():
                worked = self._process_due()
                if self.stopping.is_set():
                    break
                if not worked:
                    worked = self._run_one_command()
                self._periodic()
            if self.full.active:
                continue
            if worked:
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
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the service
                if diskfull.is_disk_full(exc):
                    self._full(exc, files={root: [relpath]})  # looked at again (and marked) once there is room
                else:
                    log.exception("%s: failed", os.path.join(root, relpath))
        for root, relpaths in settled.items():
            if not self._index(root, relpaths):
                self.full.hold({r: rels for r, rels in settled.items() if r != root})  # they wait with it
                break
        return bool(keys)

    def _index(self, root: str, relpaths: list[str]) -> bool:
        """Settled files of one root, analysed in parallel by the indexer's workers. False: the data dir
        is full, and the files wait (``self.full``)."""
        try:
            outcomes = self.indexer.index_files(root, relpaths)
        except Exception as exc:  # noqa: BLE001 - one bad batch never stops the service
            if diskfull.is_disk_full(exc):
                self._full(exc, files={root: relpaths})
                return not self.full.active
            log.exception("%s: indexing %d files failed", root, len(relpaths))
            return True
        for relpath, outcome in outcomes.items():
            if outcome == "indexed":
                self.indexed_total += 1
            log.debug("%s: %s", relpath, outcome)
        return True

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
        if not store_clock.missing_allowed(self.db):
            return  # the reconcile after the clock jump marks it, with a right clock
        store_items.mark_missing(self.db, root, [relpath])
        moved = store_items.settle_moves(self.db)
        log.info("%s: %s", os.path.join(root, relpath), "moved" if moved else "missing (kept for the grace period)")

    def _subtree(self, command: Subtree) -> None:
        """A folder appeared, vanished or moved: look at everything under it (disk and DB)."""
        root, rel_dir = command.root, command.rel_dir
        base = os.path.join(root, rel_dir)
        if os.path.isdir(base):
            excluded = frozenset(self.cfg["scan"]["excluded_folders"])
            for entry in roots_mod.walk(base, excluded):
                rel = os.path.join(rel_dir, entry.relpath)
                if not roots_mod.should_ignore(rel, excluded):
                    self.tracker.note(root, rel)
        for rel in store_service.present_paths_under(self.db, root, rel_dir):
            self.tracker.note(root, rel)

    # --- commands ------------------------------------------------------------------------------
    def _run_one_command(self) -> bool:
        command = self.commands.take()
        if command is None:
            return False
        handler = {Reconcile: self._reconcile, Subtree: self._subtree, Job: self._job, Reload: self._reload}
        try:
            handler[type(command)](command)
        except _Stop:
            raise
        except UserError as exc:  # a step that cannot run (a backup that does not fit): its last error
            log.warning("%s: %s", command, exc)
        except Exception as exc:  # noqa: BLE001 - a failing step is logged, the service carries on
            if diskfull.is_disk_full(exc):
                self._full(exc, command=command)  # run again once there is room
            else:
                log.exception("%s failed", command)
        return True

    def _reconcile(self, command: Reconcile) -> None:
        roots = [command.root] if command.root else [str(r) for r in self.cfg.libraries]
        total = ScanStats()
        with progress.JobProgress(self.db, "scan", also=self._check_stop) as report:  # one run, every root
            for one in roots:
                self._check_stop()
                stats = self.indexer.reconcile_root(one, progress=report,
                                                    defer=lambda rel, root=one: self.tracker.note(root, rel))
                log.info("reconcile %s: %s", one, stats.summary())
                total.add(stats)
                report.result = {"summary": total.summary()}
                self._root_states[one] = "offline" if one in stats.roots_offline else "online"
        jobs.purge_expired(self.cfg, self.db)
        store_items.kv_set(self.db, "service.last_reconcile_at", store_items.now_iso())
        for job in firstrun.after_reconcile(self.cfg, self.db):  # a new library: memories before faces
            self.submit(job)
        self._update_status(force=True)

    def _job(self, command: Job) -> None:
        if command.name == "reconcile":
            self._reconcile(Reconcile())
        elif command.name != "faces":
            jobs.run_step(command.name, self.cfg, self.db, progress=self._check_stop)
        else:  # new files first (the rest of a batch comes after them); a first backlog goes on (firstrun.py)
            yielded = jobs.run_faces_budget(self.cfg, self.db, stop=self._check_stop,
                                            files_waiting=lambda: self.tracker.next_due() is not None)
            for job in firstrun.after_faces(self.cfg, self.db, yielded):
                self.submit(job)

    def _reload(self, command: Reload) -> None:
        indexer = Indexer(command.cfg, self.db)  # first: if it cannot open (a full disk) the old one stays
        self._close_indexer()
        self.indexer, self.cfg = indexer, command.cfg
        self._publish_watchers()
        log.info("index worker uses the reloaded config")

    # --- a full data dir ------------------------------------------------------------------------
    def _full(self, exc, files: dict[str, list[str]] | None = None, command: Command | None = None) -> None:
        degraded.rollback(self.db)
        if files and degraded.skip_if_not_the_data_dir(self.full, self.db, exc, files):
            return
        self.full.fail(exc, files, command)
        self.full.record(self.db)
        self.status_text = self.full.status_line()

    def _while_full(self) -> None:
        """When due: the reserve back, the held files indexed, the held commands queued again."""
        if not self.full.due() or not self.full.begin_try():
            self.status_text = self.full.status_line()
            return
        if self.indexer is None:
            with self._degraded_when_full():
                self._open_indexer()
            if self.indexer is None:
                return
        commands = degraded.try_again(self.full, self._index)
        if commands is None:
            return
        for command in commands:
            self.submit(command)
        with self._degraded_when_full():
            self._publish_watchers()  # in case the start could not
            self.full.record(self.db)  # running again
        self._update_status(force=True)

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
        jump = self.clockwatch.check()
        if jump is not None:
            self.submit(Reconcile())  # first: recording the jump may meet a full disk
            record_jump(self.db, jump)  # what went while the clock was behind is marked missing now
        now = time.monotonic()
        if self.tracker.take_overflow():
            log.warning("too many changes at once; a reconcile will find them")
            self.submit(Reconcile())
        if now - self._last_root_check >= float(self.cfg["watch"]["root_check_seconds"]):
            self._last_root_check = now
            self._check_roots()
            jobs.purge_expired(self.cfg, self.db)
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
                self.submit(Reconcile(root))

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
        self.status_text = f"{self.full.status_line()}; {text}" if self.full.active else text
