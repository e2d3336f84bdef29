"""The few queries the long-running service needs beyond store.items (roots, missing paths, purging)."""

from __future__ import annotations

from sqlite_utils import Database


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
