"""The faces job: scan new photos for faces in low-priority worker processes, then update the people.

Resumable by construction: each photo is written (faces + ``items.faces_scanned``) as soon as its
worker answers, so an interrupted run continues where it stopped. Assignment looks only at faces
added since the last run (a watermark in kv); clustering looks at those faces and their neighbourhood
in the unassigned pool, so a run after a few new photos stays cheap even with 100k faces in the DB.
The workers are ingest's ``ProcessPool``: the same per-photo time limit and crash handling as indexing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.faces import cluster, models
from homeroll.daemon.ingest.workers import Failure, ProcessPool, default_workers
from homeroll.daemon.store import faces as store_faces

log = logging.getLogger(__name__)

__all__ = ["close_pool", "detect_many", "detector_settings", "run_faces_job", "update_people"]

#: Called with each photo's item id, faces and skip reason (or None) as its worker answers.
Detected = Callable[[int, list[dict[str, Any]], str | None], None]


def detector_settings(cfg: Config) -> dict[str, Any]:
    """What each worker needs to build its ``FaceDetector``, and Pillow's pixel limit."""
    faces = cfg["faces"]
    return {
        "detector": faces["detector"],
        "detect_size": int(faces["detect_size"]),
        "detect_size_max": int(faces["detect_size_max"]),
        "upsample": int(faces["upsample"]),
        "max_image_pixels": int(cfg["scan"]["max_image_pixels"]),
    }


def _detect_worker(settings: dict[str, Any]) -> Callable[[tuple[int, str]], tuple[list[dict[str, Any]], str | None]]:
    """Runs once in each worker: load the models (about 30 MB) for every photo after."""
    from PIL import Image

    from homeroll.daemon.faces.detect import FaceDetector

    detector_args = dict(settings)
    Image.MAX_IMAGE_PIXELS = detector_args.pop("max_image_pixels")
    detector = FaceDetector(**detector_args)

    def detect_one(job: tuple[int, str]) -> tuple[list[dict[str, Any]], str | None]:
        try:
            result = detector.detect_path(job[1])
        except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the job; its reason is stored
            return [], f"face detection failed ({type(exc).__name__}: {exc})"[:200]
        return [f.asdict() for f in result.faces], result.skipped

    return detect_one


class _WarmPool:
    """The worker pool, kept between calls while a run goes on in chunks (the service asks for ``FACES_CHUNK``
    photos at a time), so workers load the models once; closed as soon as a call finds no more work, so an idle
    service does not hold ~165 MB per worker."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.pool: ProcessPool | None = None

    def get(self, workers: int, settings: dict[str, Any], nice: int, timeout: float) -> ProcessPool:
        key = (workers, settings, nice, timeout)
        if self.pool is None or key != self.key:
            self.close()
            self.pool = ProcessPool(_detect_worker, settings, workers, timeout, nice=nice, role="face")
            self.key = key
        return self.pool

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.pool = None
        self.key = None


_WARM = _WarmPool()


def close_pool() -> None:
    """Stop the face workers (the service calls this on shutdown; runs that end their work do it themselves)."""
    _WARM.close()


def detect_many(todo: list[tuple[int, str]], workers: int, settings: dict[str, Any], nice: int,
                on_result: Detected, keep_warm: bool = False, timeout: float = 120.0) -> None:
    """Detect in the worker pool; a photo that hangs or kills its worker is skipped with a reason."""
    try:
        for (item_id, path), result in _WARM.get(workers, settings, nice, timeout).map(todo):
            if isinstance(result, Failure):
                result = _lost(path, result)
            on_result(item_id, *result)
    finally:
        if not keep_warm:
            _WARM.close()


def _lost(path: str, failure: Failure) -> tuple[list[dict[str, Any]], str]:
    """The result stored for a photo whose worker hung or died: no faces, and why."""
    if failure.timed_out:
        log.warning("faces: %s took longer than %.0f s; skipped", path, failure.seconds)
        return [], f"face detection took longer than {failure.seconds:.0f} s"
    log.warning("faces: %s crashed the face detector; skipped", path)
    return [], "face detection crashed its worker process"


def update_people(cfg: Config, db: Database) -> dict[str, int]:
    """Assign new faces to known people, drop those matching a forgotten person, cluster the rest."""
    threshold = float(cfg["faces"]["distance_threshold"])
    min_size = int(cfg["faces"]["min_cluster_size"])
    threshold_sq = threshold * threshold
    summary = {"faces_assigned": 0, "faces_ignored": 0, "people_created": 0}
    top = store_faces.last_face_id(db)
    new_ids, new_items, _, new_enc = store_faces.unassigned_encodings(db, store_faces.watermark(db))
    if len(new_ids) == 0:
        store_faces.set_watermark(db, top)
        return summary
    _, _, known_people, known_enc = store_faces.assigned_encodings(db)
    busy = store_faces.people_in_items(db, new_items)
    result = cluster.assign(new_enc, new_items, known_enc, known_people, threshold, busy)
    hit = result.person_ids >= 0
    store_faces.set_people(db, new_ids[hit], result.person_ids[hit])
    summary["faces_assigned"] = int(hit.sum())
    rest_ids, rest_enc = new_ids[~hit], new_enc[~hit]
    forgotten_encodings = store_faces.tombstones(db)
    if len(forgotten_encodings) and len(rest_ids):
        forgotten = cluster.pairwise_sq(rest_enc, forgotten_encodings).min(axis=1) < threshold_sq
        summary["faces_ignored"] += store_faces.ignore_faces(db, rest_ids[forgotten])
        rest_ids, rest_enc = rest_ids[~forgotten], rest_enc[~forgotten]
    if len(rest_ids):
        created, ignored = _cluster_pool(db, rest_ids, rest_enc, forgotten_encodings, threshold, min_size)
        summary["people_created"] += created
        summary["faces_ignored"] += ignored
    store_faces.set_watermark(db, top)
    return summary


def _cluster_pool(db: Database, new_ids: np.ndarray, new_enc: np.ndarray, forgotten_encodings: np.ndarray,
                  threshold: float, min_size: int) -> tuple[int, int]:
    """Cluster the new unassigned faces with their neighbourhood (two hops) in the unassigned pool."""
    threshold_sq = threshold * threshold
    pool_ids, pool_items, _, pool_enc = store_faces.unassigned_encodings(db)
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
        if len(forgotten_encodings) and cluster.pairwise_sq(centroid, forgotten_encodings).min() < threshold_sq:
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
    # One clear line before any worker starts, even with nothing to do yet: a machine that cannot run
    # faces says so in the job's last error now, not when the first photos silently wait for ever.
    problem = models.engine_problem(faces_cfg["detector"])
    if problem:
        raise UserError(f"faces engine cannot load: {problem}")
    todo = store_faces.todo_items(db, faces_cfg["disabled_roots"], limit)
    workers = min(default_workers(int(faces_cfg["workers"])), max(1, len(todo)))
    summary: dict[str, Any] = {"enabled": True, "items_scanned": 0, "faces_found": 0, "skipped": 0,
                               "workers": workers if todo else 0}
    if progress:
        progress(0, len(todo))
    if todo:
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
        detect_many(todo, workers, detector_settings(cfg), int(faces_cfg["nice"]), store_result,
                    keep_warm=more_likely, timeout=max(30.0, 2.0 * float(cfg["scan"]["per_file_timeout"])))
    else:
        close_pool()
    summary.update(update_people(cfg, db))
    summary["unassigned"] = store_faces.unassigned_count(db)
    summary["seconds"] = round(time.monotonic() - started, 2)
    log.info("faces: %d photos scanned, %d faces found, %d assigned, %d new people (%.1f s)",
             summary["items_scanned"], summary["faces_found"], summary["faces_assigned"],
             summary["people_created"], summary["seconds"])
    return summary
