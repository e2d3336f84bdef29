"""What the long-running service reads beyond store.items (roots, missing paths, purging), and the
status report of it all that `homeroll status` and the TUI's status screen both show."""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.store import db as store_db
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import sidecars as store_sidecars

#: kv keys the status report holds when present, each written by the service (service/main.py, worker.py).
STATUS_KV_KEYS = ("service.state", "service.started_at", "service.pid", "service.last_reconcile_at",
                  "service.degraded_reason", "service.clock_jump_at", "service.clock_jump_seconds",
                  "service.clock_behind")

#: The steps that record their progress and outcome (service/jobs.py STEPS), and what each records under
#: ``job.<name>.<field>`` (service/progress.py writes them): ``progress`` (JSON, only while it runs),
#: ``last_run`` (when the last run ended), ``last_summary`` (of the last run that finished) and
#: ``last_error`` (JSON {at, error}: the last run failed; removed by the next run that finishes) and
#: ``last_rate`` (units per second of the last run that counted any: the faces backlog's ETA between runs).
JOB_NAMES = ("scan", "faces", "select", "export", "backup")
JOB_FIELDS = ("progress", "last_run", "last_summary", "last_error", "last_rate")

#: Photos waiting for face detection are counted up to one more than this ("1000+").
FACES_TODO_CAP = 1000

#: Skipped files a report with ``queues`` lists (the count in ``counts`` is always exact).
SKIPPED_LIMIT = 500


#: What the running install recorded at its last start (service/main.py): `setup --upgrade` compares the
#: next version with it to list the settings it adds.
INSTALL_VERSION, INSTALL_CONFIG_KEYS = "install.version", "install.config_keys"


def record_install(db: Database, version: str, config_keys: list[str]) -> None:
    with db.atomic():
        store_items.kv_set(db, INSTALL_VERSION, version)
        store_items.kv_set(db, INSTALL_CONFIG_KEYS, json.dumps(sorted(config_keys)))


def recorded_install(path: Path) -> tuple[str | None, list[str] | None]:
    """The version and config keys the DB's last service start recorded, read without migrating the DB
    (None, None when an older homeroll ran it: it did not record them)."""
    conn = store_db.open_existing(path, read_only=True)
    try:
        db = Database(conn)
        if not db["kv"].exists():
            return None, None
        keys = store_items.kv_get(db, INSTALL_CONFIG_KEYS)
        return store_items.kv_get(db, INSTALL_VERSION), json.loads(keys) if keys else None
    finally:
        conn.close()


def job_key(name: str, field: str) -> str:
    return f"job.{name}.{field}"


def set_job_progress(db: Database, name: str, progress_json: str) -> None:
    store_items.kv_set(db, job_key(name, "progress"), progress_json)


def end_job(db: Database, name: str, at: str, *, summary: str | None = None, error_json: str | None = None,
            rate: float | None = None) -> None:
    """One transaction: the run is no longer in progress, and its outcome is recorded (a summary, or an error).
    ``rate`` (None: the last one stays) is kept for the ETA of work that goes on over several runs."""
    with db.atomic():
        db.execute("DELETE FROM kv WHERE key = ?", [job_key(name, "progress")])
        store_items.kv_set(db, job_key(name, "last_run"), at)
        if rate is not None:
            store_items.kv_set(db, job_key(name, "last_rate"), str(rate))
        if error_json is not None:
            store_items.kv_set(db, job_key(name, "last_error"), error_json)
            return
        db.execute("DELETE FROM kv WHERE key = ?", [job_key(name, "last_error")])
        if summary is not None:
            store_items.kv_set(db, job_key(name, "last_summary"), summary)


def forget_running(db: Database) -> None:
    """After a restore: a backup is a copy of a running service (the nightly job writes its own progress
    row before copying, and ``service.state`` said running), and none of that is running now. Without
    this, status would show a backup in progress, or interrupted, that the restored DB only remembers."""
    with db.atomic():
        db.execute("DELETE FROM kv WHERE key LIKE 'job.%.progress'")
        store_items.kv_set(db, "service.state", "stopped")


def job_records(db: Database) -> dict[str, dict[str, str]]:
    """name -> {field: raw kv value} for the JOB_FIELDS each job has recorded (every JOB_NAMES job is a key)."""
    wanted = {job_key(name, field): (name, field) for name in JOB_NAMES for field in JOB_FIELDS}
    out: dict[str, dict[str, str]] = {name: {} for name in JOB_NAMES}
    marks = ", ".join("?" * len(wanted))
    for key, value in db.execute(f"SELECT key, value FROM kv WHERE key IN ({marks})", list(wanted)):
        name, field = wanted[key]
        out[name][field] = value
    return out


def faces_scan_counts(db: Database, faces_disabled_roots: Iterable[str] = ()) -> dict[str, int]:
    """{done, todo}: photos already scanned for faces and photos still waiting, over the whole library and
    exactly — the photos store.faces.todo_items would list (judged by each item's first present file), counted
    without building that list, so `homeroll status` can show the backlog of a 100k library."""
    left_out = store_faces.root_left_out(db, faces_disabled_roots)
    out = {"done": 0, "todo": 0}
    for root, scanned, n in db.execute(
            """SELECT (SELECT p.root FROM paths p WHERE p.item_id = i.id AND p.role = 'primary'
                       AND p.missing_since IS NULL ORDER BY p.id LIMIT 1) AS root, i.faces_scanned != 0, COUNT(*)
               FROM items i WHERE i.kind IN ('photo', 'screenshot') AND i.state = 'present' GROUP BY 1, 2"""):
        if root is not None and not left_out(root):
            out["done" if scanned else "todo"] += n
    return out


def root_facts(db: Database, root: str) -> tuple[int | None, bool, bool]:
    """(recorded st_dev, was a mount point, has present paths) — the inputs of ingest.roots.root_state."""
    row = db.execute("SELECT st_dev, note FROM roots WHERE path = ?", [root]).fetchone()
    has_items = db.execute("SELECT 1 FROM paths WHERE root = ? AND missing_since IS NULL LIMIT 1",
                           [root]).fetchone() is not None
    recorded_dev = row[0] if row else None
    was_mount = bool(row and row[1] == "mount point")
    return recorded_dev, was_mount, has_items


def root_row(db: Database, root: str) -> dict | None:
    row = db.execute("SELECT path, state, watcher, st_dev, note FROM roots WHERE path = ?", [root]).fetchone()
    return dict(zip(("path", "state", "watcher", "st_dev", "note"), row, strict=True)) if row else None


def mark_removed_roots(db: Database, configured: Iterable[str]) -> list[str]:
    """Roots the DB knows that the config no longer lists become ``removed``; returns the newly removed.

    Their paths are kept as they are (not missing, not purged): exported and approved memories keep
    their photos, and a root put back is reconciled without reading its unchanged files again.
    """
    keep = set(configured)
    gone = [r[0] for r in db.execute("SELECT path FROM roots WHERE state != 'removed'") if r[0] not in keep]
    with db.atomic():
        for path in gone:
            db["roots"].update(path, {"state": "removed", "note": "not in the config"})
    return gone


def present_paths_under(db: Database, root: str, prefix: str) -> list[str]:
    """Present relpaths inside folder ``prefix`` of ``root`` (a folder was deleted or moved away)."""
    like = prefix.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
    return [r for (r,) in db.execute(
        "SELECT relpath FROM paths WHERE root = ? AND missing_since IS NULL AND relpath LIKE ? ESCAPE '\\'",
        [root, like])]


def has_expired_missing(db: Database, cutoff_iso: str) -> bool:
    """Cheap test before store.items.purge_missing, which rewrites every item's state."""
    return db.execute("SELECT 1 FROM paths WHERE missing_since IS NOT NULL AND missing_since < ? LIMIT 1",
                      [cutoff_iso]).fetchone() is not None


def status(db: Database, faces_disabled_roots: Iterable[str] = (), *, queues: bool = False) -> dict[str, Any]:
    """Everything a status report shows, read in one place.

    {counts (store.items.counts), sidecars (store.sidecars.counts), roots (their full rows), kv (the
    STATUS_KV_KEYS that are set), jobs (job_records), people, faces, memories (how many), faces_scan
    (faces_scan_counts outside ``faces_disabled_roots``)}. ``queues`` adds
    what is waiting: skipped (the first SKIPPED_LIMIT files) and faces_todo (photos outside
    ``faces_disabled_roots`` not yet scanned for faces, counted up to FACES_TODO_CAP + 1). The status
    screen shows those; `homeroll status` does not pay for them.
    """
    kv = {key: value for key in STATUS_KV_KEYS if (value := store_items.kv_get(db, key)) is not None}
    report: dict[str, Any] = {
        "counts": store_items.counts(db),
        "sidecars": store_sidecars.counts(db),
        "roots": store_items.roots(db),
        "kv": kv,
        "jobs": job_records(db),
        **{table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
           for table in ("people", "faces", "memories")},
        "faces_scan": faces_scan_counts(db, faces_disabled_roots),
    }
    if queues:
        report["skipped"] = list(islice(store_items.skipped(db), SKIPPED_LIMIT))
        report["faces_todo"] = len(store_faces.todo_items(db, faces_disabled_roots, limit=FACES_TODO_CAP + 1))
    return report
