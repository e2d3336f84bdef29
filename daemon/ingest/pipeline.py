"""The indexer: walk roots, find what is new or changed by stat alone, analyse it in workers, store it.

Stages (see DESIGN.md): stat-compare -> analyse (hash, metadata, time, thumbnail; in a worker) ->
place (offline geocoder, here in the parent so it is loaded once) -> store (the only writer).
``scan`` is the full pass the CLI and the service's reconcile use; ``index_file`` is the single-file
path the watcher uses once a file is stable.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.ingest import roots as roots_mod
from homeroll.daemon.ingest import sidecar_sync
from homeroll.daemon.ingest import sidecars as sidecars_mod
from homeroll.daemon.ingest.dating import ranks_better
from homeroll.daemon.ingest.metadata import IMAGE_EXTENSIONS
from homeroll.daemon.ingest.video import VIDEO_EXTENSIONS
from homeroll.daemon.ingest.workers import WorkerPool
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


def default_workers(configured: int) -> int:
    if configured and configured > 0:
        return configured
    return max(1, (os.cpu_count() or 2) - 1)


def _live_photo_partner(root: str, relpath: str) -> str | None:
    """For a video, the photo with the same stem in the same folder (HEIC/JPEG): then they are one Live Photo."""
    stem, ext = os.path.splitext(relpath)
    if ext.lower() not in VIDEO_EXTENSIONS:
        return None
    folder = os.path.join(root, os.path.dirname(relpath))
    base = os.path.basename(stem)
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    for name in names:
        n_stem, n_ext = os.path.splitext(name)
        if n_stem == base and n_ext.lower() in (".heic", ".heif", ".jpg", ".jpeg"):
            return f"{os.path.dirname(relpath)}/{name}" if os.path.dirname(relpath) else name
    return None


BATCH_SECONDS = 0.5


class _Batches:
    """Group the per-file transactions (they become savepoints) into one commit every BATCH_SECONDS."""

    def __init__(self, db: Database) -> None:
        self.conn = db.conn
        self.opened = 0.0

    def __enter__(self) -> _Batches:
        return self

    def tick(self) -> None:
        now = time.monotonic()
        if self.conn.in_transaction and now - self.opened >= BATCH_SECONDS:
            self.conn.commit()
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN")
            self.opened = now

    def __exit__(self, *exc) -> None:
        if self.conn.in_transaction:
            self.conn.commit()


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
        }
        self.pool = WorkerPool(settings, workers or default_workers(scan_cfg["workers"]),
                               float(scan_cfg["per_file_timeout"]))
        self._places: dict[tuple[float, float], int] = {}
        self._geocoder = None
        for root in cfg.libraries:
            if not db.execute("SELECT 1 FROM roots WHERE path = ?", [str(root)]).fetchone():
                store_items.set_root(db, str(root), state="online")

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
        from homeroll.daemon.ingest.geocode import lookup_place

        place = lookup_place(self.cfg, self.db, lat, lon)
        pid = None
        if place:
            pid = store_items.place_id(self.db, place["city"], place["region"], place["country"],
                                       place["country_code"], place.get("source", "geonames"))
        self._places[key] = pid
        return pid

    # --- storing one analysed file ------------------------------------------------------------
    def _store(self, root: str, relpath: str, result: dict[str, Any], stats: ScanStats,
               refresh: bool = False) -> str:
        if "skip" in result:
            try:
                st = os.stat(os.path.join(root, relpath))
                size, mtime = st.st_size, st.st_mtime_ns
            except OSError:
                size = mtime = None
            store_items.record_skipped(self.db, root, relpath, result["skip"], size, mtime)
            stats.skipped += 1
            return f"skipped:{result['skip']}"
        ok = result["ok"]
        record = ok["record"]
        if ok.get("warning"):
            log.info("%s: %s", relpath, ok["warning"])
        record["place_id"] = self._place_id(record.get("lat"), record.get("lon"))
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

    def _attach_live(self, root: str, relpath: str, partner: str, stats: ScanStats) -> str | None:
        row = store_items.get_path(self.db, root, partner)
        if row is None or row["role"] != "primary":
            return None
        try:
            st = os.stat(os.path.join(root, relpath))
        except OSError:
            return None
        store_items.attach_live_video(self.db, row["item_id"], root, relpath, st.st_size, st.st_mtime_ns)
        stats.live_videos += 1
        return "indexed"

    # --- the public entry points --------------------------------------------------------------
    def root_status(self, root: str) -> tuple[str, str | None, int | None]:
        """('online'|'offline'|'missing', note, st_dev): may anything under this root be marked missing?"""
        recorded_dev, was_mount, has_items = store_service.root_facts(self.db, root)
        return roots_mod.root_state(root, recorded_dev if has_items else None, was_mount, has_items)

    def index_file(self, root: str, relpath: str) -> str:
        """Index one file now. Returns 'indexed', 'unchanged', 'ignored' or 'skipped:<reason>'."""
        return self.index_files(root, [relpath])[relpath]

    def index_files(self, root: str, relpaths: Iterable[str]) -> dict[str, str]:
        """Index files the watcher found stable, in parallel across the workers.

        Returns relpath -> 'indexed' | 'unchanged' | 'ignored' | 'sidecar' | 'skipped:<reason>'. A sidecar
        that appeared, changed or went away re-reads its photo.
        """
        root = str(root)
        relpaths = list(relpaths)
        outcomes: dict[str, str] = {}
        stats = ScanStats()
        pairings = {folder: sidecar_sync.pair(os.path.join(root, folder))
                    for folder in {os.path.dirname(r) for r in relpaths}}
        refresh: set[str] = set()
        candidates: list[str] = []
        for relpath in relpaths:
            if roots_mod.should_ignore(relpath, self.excluded):
                outcomes[relpath] = "ignored"
                continue
            folder, name = os.path.split(relpath)
            pairing = pairings[folder]
            if pairing.kind_of(name) or store_sidecars.get(self.db, root, relpath):
                refresh.update(sidecar_sync.sync_one(self.db, root, relpath, pairing))
                outcomes[relpath] = "sidecar"
            else:
                candidates.append(relpath)
        candidates += sorted(r for r in refresh if r not in outcomes and r not in candidates
                             and not roots_mod.should_ignore(r, self.excluded))
        photos: list[tuple[str, str, dict[str, str] | None]] = []
        videos: list[str] = []
        for relpath in candidates:
            try:
                st = os.stat(os.path.join(root, relpath))
            except OSError:
                if relpath not in refresh:
                    outcomes[relpath] = "skipped:vanished"
                continue
            known = store_items.get_path(self.db, root, relpath)
            if relpath not in refresh and known and known["size"] == st.st_size and known["mtime_ns"] == st.st_mtime_ns:
                if known["missing_since"]:
                    store_items.touch_path(self.db, root, relpath)
                outcomes[relpath] = "unchanged"
            elif os.path.splitext(relpath)[1].lower() in VIDEO_EXTENSIONS:
                videos.append(relpath)
            else:
                photos.append(sidecar_sync.job(root, relpath, pairings))
        for relpath in videos:  # a Live Photo's MOV can arrive before its HEIC has settled
            partner = _live_photo_partner(root, relpath)
            if partner and partner not in outcomes and store_items.get_path(self.db, root, partner) is None:
                photos.append(sidecar_sync.job(root, partner, pairings))
        outcomes.update(self._analyse_and_store(root, photos, videos, stats, refresh=refresh, pairings=pairings))
        if stats.indexed or stats.live_videos:
            store_items.settle_moves(self.db)
        return outcomes

    def _analyse_and_store(self, root: str, photos: list[tuple], videos: list[str], stats: ScanStats,
                           progress: Progress | None = None, refresh: set[str] | frozenset[str] = frozenset(),
                           pairings: dict[str, sidecars_mod.FolderPairing] | None = None) -> dict[str, str]:
        """Analyse in the workers and store; photos first, so a Live Photo's video finds its photo indexed.

        Items are committed in short batches (at most ``BATCH_SECONDS`` of work): far fewer commits on a
        big scan, and a crash loses only uncommitted files, which the next scan indexes (once).
        ``refresh``: files re-read because a sidecar changed; their new reading replaces the old one.
        """
        outcomes: dict[str, str] = {}
        pairings = {} if pairings is None else pairings
        total = len(photos) + len(videos)
        with _Batches(self.db) as batch:
            for _, relpath, result in self.pool.map(photos):
                outcomes[relpath] = self._store(root, relpath, result, stats, relpath in refresh)
                batch.tick()
                if progress:
                    progress(len(outcomes), total)
            plain_videos = []
            for relpath in videos:
                partner = _live_photo_partner(root, relpath)
                if partner and self._attach_live(root, relpath, partner, stats):
                    outcomes[relpath] = "indexed"
                else:
                    plain_videos.append(sidecar_sync.job(root, relpath, pairings))
            for _, relpath, result in self.pool.map(plain_videos):
                outcomes[relpath] = self._store(root, relpath, result, stats, relpath in refresh)
                batch.tick()
                if progress:
                    progress(len(outcomes), total)
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
        if state != "online":
            log.warning("root %s is %s: %s; nothing under it is marked missing", root, state, note)
            store_items.set_root(self.db, root, state=state, note=note)
            stats.roots_offline.append(root)
            stats.seconds = time.monotonic() - started
            return stats
        mount_note = "mount point" if os.path.ismount(root) else None

        known = store_items.known_paths(self.db, root)
        skipped = store_items.known_skipped(self.db, root)
        entries = list(roots_mod.walk(root, self.excluded))
        pairings, refresh, sidecar_paths = sidecar_sync.sync_walk(self.db, root, entries)
        stats.sidecars = len(sidecar_paths)
        todo: list[tuple] = []
        videos: list[str] = []
        seen: set[str] = set()
        for entry in entries:
            stats.seen += 1
            seen.add(entry.relpath)
            if entry.relpath in sidecar_paths:
                continue
            reason = roots_mod.ignored_reason(os.path.basename(entry.relpath))
            if reason:
                prior = skipped.get(entry.relpath)
                if not prior or prior[2] != reason:
                    store_items.record_skipped(self.db, root, entry.relpath, reason, entry.size, entry.mtime_ns)
                stats.skipped += 1
                continue
            stale = entry.relpath in refresh
            prior_path = known.get(entry.relpath)
            if not stale and prior_path and prior_path[0] == entry.size and prior_path[1] == entry.mtime_ns:
                if prior_path[2]:
                    store_items.touch_path(self.db, root, entry.relpath)
                stats.unchanged += 1
                continue
            prior_skip = skipped.get(entry.relpath)
            if not stale and prior_skip and prior_skip[0] == entry.size and prior_skip[1] == entry.mtime_ns:
                stats.skipped += 1
                stats.unchanged += 1
                continue
            if defer is not None and entry.mtime_ns > young_after:
                defer(entry.relpath)
                continue
            ext = os.path.splitext(entry.relpath)[1].lower()
            if ext in VIDEO_EXTENSIONS:
                videos.append(entry.relpath)
            elif ext in IMAGE_EXTENSIONS:
                todo.append(sidecar_sync.job(root, entry.relpath, pairings))
            else:
                store_items.record_skipped(self.db, root, entry.relpath,
                                           f"unsupported file type ({ext or 'no extension'})",
                                           entry.size, entry.mtime_ns)
                stats.skipped += 1
        self._analyse_and_store(root, todo, videos, stats, progress, refresh, pairings)

        gone = [rel for rel, (_, _, missing) in known.items() if rel not in seen and not missing]
        if gone:
            stats.missing = store_items.mark_missing(self.db, root, gone)
        stats.moved = store_items.settle_moves(self.db)
        stale_skips = [rel for rel in skipped if rel not in seen]
        if stale_skips:
            store_items.forget_skipped(self.db, root, stale_skips)
        store_items.set_root(self.db, root, state="online", note=mount_note, st_dev=dev,
                             last_scan_at=store_items.now_iso())
        stats.seconds = time.monotonic() - started
        return stats
