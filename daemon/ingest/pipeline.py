"""The indexer: find what is new or changed under the roots by stat alone, analyse it in workers, store it.

Stages: list and stat (the reconcile's walk, or the watcher's settled files) -> classify (one verdict
per file, ``classify.py``, the same whichever way a file came) -> sidecar rows (``sidecar_sync``) ->
analyse (hash, metadata, time, thumbnail; in a worker) -> place (offline geocoder, here in the parent so
it is loaded once) -> store (the only writer). ``scan`` is the full pass the CLI and the service's
reconcile use; ``index_files`` is the watcher's path for files that have settled.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.ingest import classify, sidecar_sync
from homeroll.daemon.ingest import roots as roots_mod
from homeroll.daemon.ingest.dating import ranks_better
from homeroll.daemon.ingest.geocode import lookup_place
from homeroll.daemon.ingest.workers import WorkerPool, default_workers
from homeroll.daemon.store import clock as store_clock
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import service as store_service
from homeroll.daemon.store import sidecars as store_sidecars

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class ScanStats:
    seen: int = 0
    unchanged: int = 0
    indexed: int = 0
    new_items: int = 0
    duplicates: int = 0
    live_videos: int = 0
    sidecars: int = 0
    skipped: int = 0
    missing: int = 0
    moved: int = 0
    roots_offline: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, other: ScanStats) -> None:
        for key, value in asdict(other).items():
            if key == "roots_offline":
                self.roots_offline.extend(value)
            else:
                setattr(self, key, getattr(self, key) + value)

    def summary(self) -> str:
        text = (f"{self.seen} files: {self.new_items} new items, {self.indexed - self.new_items} known content "
                f"at new paths, {self.unchanged} unchanged, {self.skipped} skipped, {self.missing} missing")
        if self.sidecars:
            text += f", {self.sidecars} sidecars"
        if self.roots_offline:
            text += f"; offline roots: {', '.join(self.roots_offline)}"
        return text + f" ({self.seconds:.1f} s)"


#: Seconds of results held before they are written in one transaction (never across a wait for more).
BATCH_SECONDS = 0.5


class Indexer:
    """Owns the worker processes and the geocoder; use as a context manager."""

    def __init__(self, cfg: Config, db: Database, *, thumbnails: bool = True, workers: int | None = None) -> None:
        self.cfg = cfg
        self.db = db
        scan_cfg = cfg["scan"]
        self.excluded = frozenset(scan_cfg["excluded_folders"])
        settings = {
            "home_tz": cfg.home_tz,
            "data_dir": str(cfg.data_dir),
            "thumbnail_size": int(scan_cfg["thumbnail_size"]),
            "thumbnails": thumbnails,
            "max_image_pixels": int(scan_cfg["max_image_pixels"]),
            # the time the DB trusts: a Pi booted in 1970 judges no capture date "in the future" by its clock
            "clock_floor": store_clock.worker_floor(db),
        }
        self.pool = WorkerPool(settings, workers or default_workers(scan_cfg["workers"]),
                               float(scan_cfg["per_file_timeout"]))
        self._places: dict[tuple[float, float], int] = {}
        try:
            self._mark_roots(db, [str(root) for root in cfg.libraries])
        except BaseException:
            self.pool.close()  # a full or read-only data dir must not leave the spawned workers behind
            raise

    @staticmethod
    def _mark_roots(db: Database, configured: list[str]) -> None:
        for root in configured:
            row = store_service.root_row(db, root)
            if row is None or row["state"] == "removed":  # back in the config: its unchanged files stay as they are
                store_items.set_root(db, root, state="online", note=None)
        for root in store_service.mark_removed_roots(db, configured):
            log.info("root %s is no longer in the config: removed (its photos feed no new memories)", root)

    def __enter__(self) -> Indexer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.pool.close()

    def workers_alive(self) -> bool:
        return self.pool.alive()

    # --- places -------------------------------------------------------------------------------
    def _place_id(self, lat: float | None, lon: float | None) -> int | None:
        if lat is None or lon is None:
            return None
        key = (round(lat, 3), round(lon, 3))
        if key in self._places:
            return self._places[key]
        place = lookup_place(self.cfg, self.db, lat, lon)
        pid = store_items.place_id(self.db, place["city"], place["region"], place["country"],
                                   place["country_code"], place.get("source", "geonames"))
        self._places[key] = pid
        return pid

    # --- storing one analysed file ------------------------------------------------------------
    def _prepare(self, root: str, relpath: str, result: dict[str, Any]) -> None:
        """What storing needs that may block (a stat, a place lookup), done before the write transaction."""
        if "disk_full" in result:  # the service holds the file and tries again when there is room
            raise OSError(errno.ENOSPC, f"{relpath}: {result['disk_full']}")
        if "skip" in result:
            try:
                st = os.stat(os.path.join(root, relpath))
                result["stat"] = (st.st_size, st.st_mtime_ns)
            except OSError:
                result["stat"] = (None, None)
            return
        record = result["ok"]["record"]
        record["place_id"] = self._place_id(record.get("lat"), record.get("lon"))

    def _store(self, root: str, relpath: str, result: dict[str, Any], stats: ScanStats,
               refresh: bool = False) -> str:
        if "skip" in result:
            store_items.record_skipped(self.db, root, relpath, result["skip"], *result["stat"])
            stats.skipped += 1
            return f"skipped:{result['skip']}"
        ok = result["ok"]
        record = ok["record"]
        if ok.get("warning"):
            log.info("%s: %s", relpath, ok["warning"])
        item_id, created = store_items.save_item(self.db, record, root, relpath, ok["size"], ok["mtime_ns"])
        if not created and (refresh or ranks_better(record["taken_at_source"],
                                                    store_items.taken_source(self.db, item_id))):
            store_items.update_dating(self.db, item_id, record)  # a sidecar changed what the file says
        if created or refresh or record.get("name_hints"):
            store_sidecars.set_name_hints(self.db, item_id, record.get("name_hints") or [], "takeout")
        for path, note in (ok.get("sidecar_notes") or {}).items():  # every sidecar read with it; None = used
            store_sidecars.set_note(self.db, root, os.path.relpath(path, root), note)
            if note:
                log.info("%s: %s", os.path.relpath(path, root), note)
        stats.indexed += 1
        if created:
            stats.new_items += 1
        else:
            stats.duplicates += 1
        return "indexed"

    def _attach_live(self, root: str, video: classify.Video, stats: ScanStats) -> bool:
        row = store_items.get_path(self.db, root, video.partner)
        if row is None or row["role"] != "primary":
            return False
        try:
            st = os.stat(video.path)
        except OSError:
            return False
        store_items.attach_live_video(self.db, row["item_id"], root, video.relpath, st.st_size, st.st_mtime_ns)
        stats.live_videos += 1
        return True

    # --- acting on the classify stage's verdicts ---------------------------------------------------
    def _act(self, root: str, plan: classify.Plan, stats: ScanStats, progress: Progress | None = None,
             defer: Callable[[str], None] | None = None) -> dict[str, str]:
        """Do what the verdicts say; returns relpath -> outcome."""
        sidecar_sync.apply(self.db, root, plan.sidecar_changes)
        outcomes: dict[str, str] = {}
        for relpath, verdict in plan.verdicts.items():
            if not isinstance(verdict, (classify.Photo, classify.Video)):
                self._settle(root, verdict, stats, defer)
                outcomes[relpath] = verdict.outcome
        outcomes.update(self._analyse_and_store(root, plan.photos(), plan.videos(), stats, progress))
        return outcomes

    def _settle(self, root: str, verdict: classify.Verdict, stats: ScanStats,
                defer: Callable[[str], None] | None) -> None:
        """A verdict that needs no worker: at most a row to write, and the counts."""
        match verdict:
            case classify.Skip(entry=entry, reason=reason, record=record):
                if record:
                    store_items.record_skipped(self.db, root, entry.relpath, reason, entry.size, entry.mtime_ns)
                stats.skipped += 1
            case classify.Unchanged(relpath=relpath, revive=revive):
                if revive:
                    store_items.touch_path(self.db, root, relpath)
                stats.unchanged += 1
            case classify.SkippedBefore():
                stats.skipped += 1
                stats.unchanged += 1
            case classify.Sidecar():
                stats.sidecars += 1
            case classify.Deferred(relpath=relpath) if defer is not None:
                defer(relpath)

    def _analyse_and_store(self, root: str, photos: list[classify.Photo], videos: list[classify.Video],
                           stats: ScanStats, progress: Progress | None = None) -> dict[str, str]:
        """Analyse in the workers and store; photos first, so a Live Photo's video finds its photo indexed.

        Results are held in memory and written together, in one transaction, every ``BATCH_SECONDS``
        (far fewer commits on a big scan), and whenever the pool has had nothing for that long. No
        transaction is open while the pool is waited on: a slow file (a stalled NAS read, a huge decode)
        never holds the write lock, so an approve in the TUI never waits for it. A crash loses only what
        was not yet committed, which the next scan indexes (once). A file read again because a sidecar
        changed (``refresh``) has its new reading replace the old one.
        """
        outcomes: dict[str, str] = {}
        total = len(photos) + len(videos)

        def store_all(jobs: list[classify.Photo] | list[classify.Video]) -> None:
            refresh = {job.relpath for job in jobs if job.refresh}
            held: list[tuple[str, str, dict[str, Any]]] = []
            flushed = time.monotonic()
            for batch in self.pool.batches((job.job for job in jobs), idle=BATCH_SECONDS):
                for _, relpath, result in batch:
                    self._prepare(root, relpath, result)
                held.extend(batch)
                if held and (not batch or time.monotonic() - flushed >= BATCH_SECONDS):
                    self._write(root, held, refresh, outcomes, stats)
                    flushed = time.monotonic()
                    if progress:  # after the commit: a stop raised here loses nothing held
                        progress(len(outcomes), total)
            self._write(root, held, refresh, outcomes, stats)
            if progress:
                progress(len(outcomes), total)

        store_all(photos)
        plain: list[classify.Video] = []
        for video in videos:
            if video.partner and self._attach_live(root, video, stats):
                outcomes[video.relpath] = "indexed"
            else:
                plain.append(video)
        store_all(plain)
        return outcomes

    def _write(self, root: str, held: list[tuple[str, str, dict[str, Any]]], refresh: set[str],
               outcomes: dict[str, str], stats: ScanStats) -> None:
        """Store the held results in one transaction (nothing in it waits), then forget them."""
        if not held:
            return
        with self.db.atomic():
            for _, relpath, result in held:
                outcomes[relpath] = self._store(root, relpath, result, stats, relpath in refresh)
        held.clear()

    # --- the public entry points --------------------------------------------------------------
    def root_status(self, root: str) -> tuple[str, str | None, int | None]:
        """('online'|'offline'|'missing', note, st_dev): may anything under this root be marked missing?"""
        recorded_dev, was_mount, has_items = store_service.root_facts(self.db, root)
        return roots_mod.root_state(root, recorded_dev if has_items else None, was_mount, has_items)

    def index_files(self, root: str, relpaths: Iterable[str]) -> dict[str, str]:
        """Index files the watcher found stable, in parallel across the workers.

        Returns relpath -> 'indexed' | 'unchanged' | 'ignored' | 'sidecar' | 'skipped:<reason>', for each
        file given and each one pulled in (a photo whose sidecar appeared, changed or went away; the
        still of a Live Photo whose video came first).
        """
        root = str(root)
        files = classify.stat_files(root, relpaths)
        listings = classify.list_folders(root, {os.path.dirname(relpath) for relpath in files})
        plan = classify.classify(root, files, listings, classify.Known.of_files(self.db, root, files),
                                 excluded=self.excluded)
        stats = ScanStats()
        outcomes = self._act(root, plan, stats)
        if stats.indexed or stats.live_videos:
            store_items.settle_moves(self.db)
        return outcomes

    def scan(self, progress: Progress | None = None, roots: Iterable[str] | None = None) -> ScanStats:
        """Full pass over every root (or the given ones): the truth the watcher's hints are checked against."""
        total = ScanStats()
        for root in roots or [str(r) for r in self.cfg.libraries]:
            total.add(self.reconcile_root(str(root), progress))
        return total

    def reconcile_root(self, root: str, progress: Progress | None = None,
                       defer: Callable[[str], None] | None = None) -> ScanStats:
        """Walk one root and bring the DB in line with it.

        ``defer``: the service passes its stability tracker here, so files modified within the last
        ``[watch] stable_seconds`` are handed to it instead of being read while still being written.
        """
        started = time.monotonic()
        stats = ScanStats()
        root = str(root)
        young_after = time.time_ns() - int(float(self.cfg["watch"]["stable_seconds"]) * 1e9)
        state, note, dev = self.root_status(root)
        if state == "online":
            self._reconcile_online(root, dev, stats, progress, young_after if defer else None, defer)
        else:
            log.warning("root %s is %s: %s; nothing under it is marked missing", root, state, note)
            store_items.set_root(self.db, root, state=state, note=note)
            stats.roots_offline.append(root)
        stats.seconds = time.monotonic() - started
        return stats

    def _reconcile_online(self, root: str, dev: int | None, stats: ScanStats, progress: Progress | None,
                          young_after: int | None, defer: Callable[[str], None] | None) -> None:
        mount_note = "mount point" if os.path.ismount(root) else None
        paths = store_items.known_paths(self.db, root)
        skips = store_items.known_skipped(self.db, root)
        entries = {entry.relpath: entry for entry in roots_mod.walk(root, self.excluded)}
        plan = classify.classify(root, entries, classify.listings_of_walk(entries.values()),
                                 classify.Known(paths.get, skips.get, store_sidecars.known(self.db, root)),
                                 excluded=self.excluded, young_after=young_after)
        stats.seen = len(entries)
        self._act(root, plan, stats, progress, defer)

        gone = [rel for rel, (_, _, missing) in paths.items() if rel not in entries and not missing]
        if gone and store_clock.missing_allowed(self.db):  # a clock behind would stamp them missing since 1970
            stats.missing = store_items.mark_missing(self.db, root, gone)
        stats.moved = store_items.settle_moves(self.db)
        stale_skips = [rel for rel in skips if rel not in entries]
        if stale_skips:
            store_items.forget_skipped(self.db, root, stale_skips)
        store_items.set_root(self.db, root, state="online", note=mount_note, st_dev=dev,
                             last_scan_at=store_items.now_iso())
