"""Sidecars (XMP, Takeout JSON), album titles and Takeout's people names: what came with the photos.

A sidecar is accounted for as part of its photo, never as an item or a skipped file; its row keeps
the stat the walk saw (so a change re-reads the photo) and a note when it could not be used.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.store import items as store_items


def known(db: Database, root: str) -> dict[str, tuple[int | None, int | None, str | None, str]]:
    """relpath -> (size, mtime_ns, media_relpath, kind) for every sidecar recorded under a root."""
    return {
        rel: (size, mtime, media, kind)
        for rel, size, mtime, media, kind in db.execute(
            "SELECT relpath, size, mtime_ns, media_relpath, kind FROM sidecars WHERE root = ?", [root])
    }


def get(db: Database, root: str, relpath: str) -> dict[str, Any] | None:
    row = db.execute("SELECT kind, media_relpath, size, mtime_ns, note FROM sidecars WHERE root = ? AND relpath = ?",
                     [root, relpath]).fetchone()
    if row is None:
        return None
    return dict(zip(("kind", "media_relpath", "size", "mtime_ns", "note"), row, strict=True))


def record(db: Database, root: str, relpath: str, kind: str, media_relpath: str | None,
           size: int | None, mtime_ns: int | None, note: str | None = None) -> None:
    with db.atomic():
        db.execute(
            """INSERT INTO sidecars (root, relpath, kind, media_relpath, size, mtime_ns, note, seen_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (root, relpath) DO UPDATE SET kind = excluded.kind,
                 media_relpath = excluded.media_relpath, size = excluded.size, mtime_ns = excluded.mtime_ns,
                 note = excluded.note, seen_at = excluded.seen_at""",
            [root, relpath, kind, media_relpath, size, mtime_ns, note, store_items.now_iso()],
        )
        db.execute("DELETE FROM skipped WHERE root = ? AND relpath = ?", [root, relpath])


def set_note(db: Database, root: str, relpath: str, note: str | None) -> None:
    with db.atomic():
        db.execute("UPDATE sidecars SET note = ? WHERE root = ? AND relpath = ? AND note IS NOT ?",
                   [note, root, relpath, note])


def forget(db: Database, root: str, relpaths: Iterable[str]) -> None:
    with db.atomic():
        db.conn.executemany("DELETE FROM sidecars WHERE root = ? AND relpath = ?", [(root, r) for r in relpaths])


def set_album(db: Database, root: str, folder: str, title: str | None, source: str) -> None:
    with db.atomic():
        if title:
            db.execute("""INSERT INTO albums (root, folder, title, source) VALUES (?, ?, ?, ?)
                          ON CONFLICT (root, folder) DO UPDATE SET title = excluded.title, source = excluded.source""",
                       [root, folder, title, source])
        else:
            db.execute("DELETE FROM albums WHERE root = ? AND folder = ?", [root, folder])


def albums(db: Database) -> dict[tuple[str, str], str]:
    """(root, folder relpath) -> title, for album folders that carry their own title."""
    return {(root, folder): title for root, folder, title in db.execute("SELECT root, folder, title FROM albums")}


def set_name_hints(db: Database, item_id: int, names: Iterable[str], source: str) -> None:
    """Replace what one source says about who is in an item."""
    with db.atomic():
        db.execute("DELETE FROM name_hints WHERE item_id = ? AND source = ?", [item_id, source])
        db.conn.executemany("INSERT OR IGNORE INTO name_hints (item_id, name, source) VALUES (?, ?, ?)",
                            [(item_id, name, source) for name in names])


#: kv prefix of a declined name offer: ``name_hint.declined.<person id>.<name>`` (the name may hold dots).
DECLINED_PREFIX = "name_hint.declined."


def decline_name_hint(db: Database, person_id: int, name: str) -> None:
    """The household says this person is not ``name``: that offer is never made for them again."""
    store_items.kv_set(db, f"{DECLINED_PREFIX}{int(person_id)}.{name}", store_items.now_iso())


def declined_name_hints(db: Database) -> set[tuple[int, str]]:
    """(person id, name) for every declined name offer."""
    out = set()
    for (key,) in db.execute("SELECT key FROM kv WHERE substr(key, 1, ?) = ?", [len(DECLINED_PREFIX), DECLINED_PREFIX]):
        pid, _, name = key[len(DECLINED_PREFIX):].partition(".")
        if pid.isdigit() and name:
            out.add((int(pid), name))
    return out


def drop_declines(db: Database, person_id: int) -> None:
    """A person who is gone (merged, forgotten, emptied) takes their declines along: ids are reused."""
    prefix = f"{DECLINED_PREFIX}{int(person_id)}."
    db.execute("DELETE FROM kv WHERE substr(key, 1, ?) = ?", [len(prefix), prefix])


def name_hints(db: Database) -> list[tuple[int, str]]:
    """(item_id, name) for every present item a sidecar names someone in."""
    return db.execute(
        "SELECT h.item_id, h.name FROM name_hints h JOIN items i ON i.id = h.item_id WHERE i.state = 'present'"
    ).fetchall()


def listing(db: Database) -> Iterator[dict[str, Any]]:
    """The `homeroll media --sidecars` rows: every sidecar with its photo and why it was not used, if not."""
    for root, rel, kind, media, note in db.execute(
            "SELECT root, relpath, kind, media_relpath, note FROM sidecars ORDER BY root, relpath"):
        if media is None and kind != "album":
            note = note or "sidecar without its photo (no matching file in this folder)"
        yield {
            "path": os.path.join(root, rel),
            "root": root,
            "kind": kind,
            "media": os.path.join(root, media) if media else None,
            "note": note,
        }


def counts(db: Database) -> dict[str, int]:
    total, orphans, unusable = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(media_relpath IS NULL AND kind != 'album'), 0), "
        "COALESCE(SUM(note IS NOT NULL), 0) FROM sidecars").fetchone()
    return {"sidecars": total, "orphans": orphans, "unusable": unusable}
