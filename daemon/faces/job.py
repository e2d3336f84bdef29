"""The faces job: scan new photos for faces in a low-priority process pool, then update the people.

Resumable by construction: each photo is written (faces + ``items.faces_scanned``) as soon as its
worker answers, so an interrupted run continues where it stopped. Assignment looks only at faces
added since the last run (a watermark in kv); clustering looks at those faces and their neighbourhood
in the unassigned pool, so a run after a few new photos stays cheap even with 100k faces in the DB.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.faces import cluster
from homeroll.daemon.store import faces as store_faces

log = logging.getLogger(__name__)

__all__ = ["close_pool", "default_workers", "detector_settings", "run_faces_job", "update_people"]

_detector = None


def default_workers(configured: int) -> int:
    """Configured count, or one less than the cores (at least one) so the machine stays responsive."""
    if configured and configured > 0:
        return int(configured)
    return max(1, (os.cpu_count() or 2) - 1)


def detector_settings(cfg: Config) -> dict[str, Any]:
    faces = cfg["faces"]
    return {
        "detector": faces.get("detector", "hog"),
        "detect_size": int(faces.get("detect_size", 1024)),
        "detect_size_max": int(faces.get("detect_size_max", 1600)),
        "upsample": int(faces.get("upsample", 1)),
    }


def _init_worker(settings: dict[str, Any], nice: int, max_pixels: int) -> None:
    """Runs once in each worker: lower priority, then load the models (about 30 MB) for every photo after."""
    global _detector
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    from PIL import Image

    from homeroll.daemon.faces.detect import FaceDetector

    Image.MAX_IMAGE_PIXELS = max_pixels
    _detector = FaceDetector(**settings)


def _detect_one(item_id: int, path: str) -> tuple[int, list[dict[str, Any]], str | None]:
    try:
        result = _detector.detect_path(path)
    except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the job; its reason is stored
        return item_id, [], f"face detection failed ({type(exc).__name__}: {exc})"[:200]
    return item_id, [f.asdict() for f in result.faces], result.skipped


class _WarmPool:
    """The worker pool, kept between calls while a run goes on in chunks (the service asks for 20 photos at a
    time), so workers load the models once; closed as soon as a call finds no more work, so an idle
    service does not hold ~165 MB per worker."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.executor: ProcessPoolExecutor | None = None

    def get(self, workers: int, settings: dict[str, Any], nice: int, max_pixels: int) -> ProcessPoolExecutor:
        key = (workers, tuple(sorted(settings.items())), nice, max_pixels)
        if self.executor is None or key != self.key:
            self.close()
            # spawn, not fork: the service has threads (scheduler, watchers) and an open SQLite connection.
            self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_init_worker, initargs=(settings, nice, max_pixels))
            self.key = key
        return self.executor

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = None
        self.key = None

    def kill(self) -> None:
        """Stop hung workers now. ProcessPoolExecutor has no public terminate before Python 3.14."""
        if self.executor is not None:
            for process in list(getattr(self.executor, "_processes", {}).values()):
                process.kill()
        self.close()


_WARM = _WarmPool()


def close_pool() -> None:
    """Stop the face workers (the service calls this on shutdown; runs that end their work do it themselves)."""
    _WARM.close()


def detect_many(todo: list[tuple[int, str]], workers: int, settings: dict[str, Any], nice: int, max_pixels: int,
                on_result: Callable[[int, list[dict[str, Any]], str | None], None], keep_warm: bool = False,
                timeout: float = 120.0) -> None:
    """Detect in a process pool; a photo that kills or hangs its worker is retried alone, then skipped with a reason."""
    pending = deque(todo)
    suspects: deque[tuple[int, str]] = deque()
    try:
        while pending or suspects:
            pool = _WARM.get(workers, settings, nice, max_pixels)
            if suspects:
                item_id, path = suspects.popleft()
                try:
                    on_result(*pool.submit(_detect_one, item_id, path).result(timeout=timeout))
                except BrokenProcessPool:
                    log.warning("faces: %s crashed the face detector; skipped", path)
                    on_result(item_id, [], "face detection crashed its worker process")
                    _WARM.close()
                except FuturesTimeout:
                    log.warning("faces: %s took longer than %.0f s; skipped", path, timeout)
                    on_result(item_id, [], f"face detection took longer than {timeout:.0f} s")
                    _WARM.kill()
                continue
            inflight: dict[Any, tuple[int, str]] = {}
            broken = False
            while (pending or inflight) and not broken:
                while pending and len(inflight) < 2 * workers:
                    item = pending.popleft()
                    inflight[pool.submit(_detect_one, *item)] = item
                done, _ = wait(inflight, timeout=timeout, return_when=FIRST_COMPLETED)
                if not done:  # every worker is stuck: retry those photos one by one with a fresh pool
                    suspects.extend(inflight.values())
                    inflight.clear()
                    _WARM.kill()
                    break
                for future in done:
                    item = inflight.pop(future)
                    try:
                        on_result(*future.result())
                    except BrokenProcessPool:
                        suspects.append(item)
                        broken = True
            if broken:
                suspects.extend(inflight.values())
                _WARM.close()
    finally:
        if not keep_warm:
            _WARM.close()


def update_people(cfg: Config, db: Database) -> dict[str, int]:
    """Assign new faces to known people, drop those matching a forgotten person, cluster the rest."""
    threshold = float(cfg["faces"]["distance_threshold"])
    min_size = int(cfg["faces"]["min_cluster_size"])
    thr2 = threshold * threshold
    summary = {"faces_assigned": 0, "faces_ignored": 0, "people_created": 0}
    top = db.execute("SELECT COALESCE(MAX(id), 0) FROM faces").fetchone()[0]
    upto = store_faces.watermark(db)
    new_ids, new_items, _, new_enc = store_faces.encodings(
        db, "person_id IS NULL AND ignored = 0 AND id > ?", [upto])
    if len(new_ids) == 0:
        store_faces.set_watermark(db, top)
        return summary
    known_ids, _, known_people, known_enc = store_faces.encodings(db, "person_id IS NOT NULL")
    busy = store_faces.people_in_items(db, new_items)
    result = cluster.assign(new_enc, new_items, known_enc, known_people, threshold, busy)
    hit = result.person_ids >= 0
    store_faces.set_people(db, new_ids[hit], result.person_ids[hit])
    summary["faces_assigned"] = int(hit.sum())
    rest_ids, rest_enc = new_ids[~hit], new_enc[~hit]
    graves = store_faces.tombstones(db)
    if len(graves) and len(rest_ids):
        forgotten = cluster.pairwise_sq(rest_enc, graves).min(axis=1) < thr2
        summary["faces_ignored"] += store_faces.ignore_faces(db, rest_ids[forgotten])
        rest_ids, rest_enc = rest_ids[~forgotten], rest_enc[~forgotten]
    if len(rest_ids):
        created, ignored = _cluster_pool(db, rest_ids, rest_enc, graves, threshold, min_size)
        summary["people_created"] += created
        summary["faces_ignored"] += ignored
    store_faces.set_watermark(db, top)
    return summary


def _cluster_pool(db: Database, new_ids: np.ndarray, new_enc: np.ndarray, graves: np.ndarray,
                  threshold: float, min_size: int) -> tuple[int, int]:
    """Cluster the new unassigned faces with their neighbourhood (two hops) in the unassigned pool."""
    pool_ids, pool_items, _, pool_enc = store_faces.encodings(db, "person_id IS NULL AND ignored = 0")
    is_new = np.isin(pool_ids, new_ids)
    if not is_new.all():
        first_hop = is_new | cluster.near_any(new_enc, pool_enc, threshold)
        region = first_hop | cluster.near_any(pool_enc[first_hop & ~is_new], pool_enc, threshold)
        pool_ids, pool_items, pool_enc = pool_ids[region], pool_items[region], pool_enc[region]
    labels = cluster.cluster(pool_enc, pool_items, threshold, min_size)
    created = ignored = 0
    for label in range(int(labels.max()) + 1 if len(labels) else 0):
        members = labels == label
        centroid = pool_enc[members].mean(axis=0, keepdims=True)
        if len(graves) and cluster.pairwise_sq(centroid, graves).min() < threshold * threshold:
            ignored += store_faces.ignore_faces(db, pool_ids[members])
            continue
        store_faces.create_person(db, pool_ids[members])
        created += 1
    return created, ignored


def run_faces_job(cfg: Config, db: Database, *, limit: int | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Scan up to ``limit`` unscanned photos for faces, then update people. Returns a summary."""
    started = time.monotonic()
    faces_cfg = cfg["faces"]
    if not faces_cfg["enabled"]:
        log.info("faces: disabled in the config ([faces] enabled = false); nothing done")
        return {"enabled": False, "items_scanned": 0, "faces_found": 0, "people_created": 0}
    todo = store_faces.todo_items(db, faces_cfg.get("disabled_roots", []), limit)
    workers = min(default_workers(int(faces_cfg.get("workers", 0))), max(1, len(todo)))
    summary: dict[str, Any] = {"enabled": True, "items_scanned": 0, "faces_found": 0, "skipped": 0,
                               "workers": workers if todo else 0}
    if todo:
        # Fail with one clear line before starting workers if the models are missing.
        from homeroll.daemon.faces import models

        for name in (models.SHAPE_PREDICTOR, models.FACE_ENCODER):
            models.model_path(name)
        paths = dict(todo)

        def store_result(item_id: int, faces: list[dict[str, Any]], skipped: str | None) -> None:
            store_faces.save_detection(db, item_id, faces, skipped)
            summary["items_scanned"] += 1
            summary["faces_found"] += len(faces)
            if skipped:
                summary["skipped"] += 1
                log.info("faces: skipped %s: %s", paths.get(item_id), skipped)
            if progress:
                progress(summary["items_scanned"], len(todo))

        # A full chunk means more work is probably waiting: keep the workers (and their models) warm.
        more_likely = limit is not None and len(todo) >= limit
        detect_many(todo, workers, detector_settings(cfg), int(faces_cfg.get("nice", 10)),
                    int(cfg["scan"]["max_image_pixels"]), store_result, keep_warm=more_likely,
                    timeout=max(30.0, 2.0 * float(cfg["scan"]["per_file_timeout"])))
    else:
        close_pool()
    summary.update(update_people(cfg, db))
    summary["unassigned"] = db.execute(
        "SELECT COUNT(*) FROM faces WHERE person_id IS NULL AND ignored = 0").fetchone()[0]
    summary["seconds"] = round(time.monotonic() - started, 2)
    log.info("faces: %d photos scanned, %d faces found, %d assigned, %d new people (%.1f s)",
             summary["items_scanned"], summary["faces_found"], summary["faces_assigned"],
             summary["people_created"], summary["seconds"])
    return summary
