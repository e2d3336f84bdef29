"""Items (one per distinct content hash), their paths, skipped files, places and roots."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

#: Columns of ``items`` that the indexer fills in.
ITEM_FIELDS = (
    "hash", "kind", "format", "size", "taken_at_local", "utc_offset_min", "tz_name", "taken_at_source",
    "taken_at_utc", "lat", "lon", "place_id", "width", "height", "orientation", "camera", "duration",
    "is_messenger", "live_video", "sharpness", "exposure", "quality", "phash", "thumb", "taken_at_precision",
)

#: What a re-read from a changed sidecar may change on an item that already exists (never its identity).
DATING_FIELDS = ("taken_at_local", "utc_offset_min", "tz_name", "taken_at_source", "taken_at_utc",
                 "taken_at_precision", "lat", "lon", "place_id")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def get_path(db: Database, root: str, relpath: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, item_id, size, mtime_ns, missing_since, role FROM paths WHERE root = ? AND relpath = ?",
        [root, relpath],
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("id", "item_id", "size", "mtime_ns", "missing_since", "role"), row, strict=True))


def known_paths(db: Database, root: str) -> dict[str, tuple[int, int, bool]]:
    """relpath -> (size, mtime_ns, missing) for every path under a root: the stat-only rescan compares against it."""
    return {
        rel: (size, mtime, missing is not None)
        for rel, size, mtime, missing in db.execute(
            "SELECT relpath, size, mtime_ns, missing_since FROM paths WHERE root = ?", [root]
        )
    }


def known_skipped(db: Database, root: str) -> dict[str, tuple[int | None, int | None, str]]:
    return {
        rel: (size, mtime, reason)
        for rel, size, mtime, reason in db.execute(
            "SELECT relpath, size, mtime_ns, reason FROM skipped WHERE root = ?", [root]
        )
    }


def get_skipped(db: Database, root: str, relpath: str) -> tuple[int | None, int | None, str] | None:
    """(size, mtime_ns, reason) of one skipped file, as ``known_skipped`` has it: the watcher asks per file."""
    row = db.execute("SELECT size, mtime_ns, reason FROM skipped WHERE root = ? AND relpath = ?",
                     [root, relpath]).fetchone()
    return (row[0], row[1], row[2]) if row else None


def item_id_for_hash(db: Database, content_hash: str) -> int | None:
    row = db.execute("SELECT id FROM items WHERE hash = ?", [content_hash]).fetchone()
    return row[0] if row else None


def touch_path(db: Database, root: str, relpath: str) -> None:
    db.execute("UPDATE paths SET seen_at = ?, missing_since = NULL WHERE root = ? AND relpath = ?",
               [now_iso(), root, relpath])


def save_item(
    db: Database, record: dict[str, Any], root: str, relpath: str, size: int, mtime_ns: int,
    role: str = "primary",
) -> tuple[int, bool]:
    """Store one indexed file. Returns (item_id, created).

    Identity is the content hash: a file whose bytes are already known only gains (or moves) a
    path; its analysis (faces, memories) is kept. A path whose content changed points to the new item.
    """
    seen = now_iso()
    with db.atomic():
        previous = _previous_item(db, root, relpath)
        item_id = item_id_for_hash(db, record["hash"])
        created = item_id is None
        if created:
            values = {k: record.get(k) for k in ITEM_FIELDS}
            values["is_messenger"] = int(values["is_messenger"] or 0)
            values["live_video"] = int(values["live_video"] or 0)
            values["taken_at_precision"] = values["taken_at_precision"] or "time"
            values["indexed_at"] = seen
            values["state"] = "present"
            cur = db.execute(
                f"INSERT INTO items ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
                list(values.values()),
            )
            item_id = cur.lastrowid
        else:
            db.execute("UPDATE items SET state = 'present' WHERE id = ?", [item_id])
        db.execute(
            """INSERT INTO paths (item_id, root, relpath, role, size, mtime_ns, seen_at, missing_since)
               VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
               ON CONFLICT (root, relpath) DO UPDATE SET item_id = excluded.item_id, role = excluded.role,
                 size = excluded.size, mtime_ns = excluded.mtime_ns, seen_at = excluded.seen_at,
                 missing_since = NULL""",
            [item_id, root, relpath, role, size, mtime_ns, seen],
        )
        db.execute("DELETE FROM skipped WHERE root = ? AND relpath = ?", [root, relpath])
        _drop_if_orphan(db, previous, item_id)
    return item_id, created


def taken_source(db: Database, item_id: int) -> str | None:
    row = db.execute("SELECT taken_at_source FROM items WHERE id = ?", [item_id]).fetchone()
    return row[0] if row else None


def update_dating(db: Database, item_id: int, record: dict[str, Any]) -> None:
    """Take a fresh reading's time and place (a sidecar appeared, changed or went away)."""
    values = {k: record.get(k) for k in DATING_FIELDS}
    values["taken_at_precision"] = values["taken_at_precision"] or "time"
    with db.atomic():
        db.execute(f"UPDATE items SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                   [*values.values(), item_id])


def attach_live_video(db: Database, item_id: int, root: str, relpath: str, size: int, mtime_ns: int) -> None:
    """The MOV half of a Live Photo is a path of the photo's item, not an item of its own."""
    with db.atomic():
        previous = _previous_item(db, root, relpath)
        db.execute(
            """INSERT INTO paths (item_id, root, relpath, role, size, mtime_ns, seen_at)
               VALUES (?, ?, ?, 'live', ?, ?, ?)
               ON CONFLICT (root, relpath) DO UPDATE SET item_id = excluded.item_id, role = 'live',
                 size = excluded.size, mtime_ns = excluded.mtime_ns, seen_at = excluded.seen_at,
                 missing_since = NULL""",
            [item_id, root, relpath, size, mtime_ns, now_iso()],
        )
        db.execute("UPDATE items SET live_video = 1 WHERE id = ?", [item_id])
        db.execute("DELETE FROM skipped WHERE root = ? AND relpath = ?", [root, relpath])
        _drop_if_orphan(db, previous, item_id)


def _previous_item(db: Database, root: str, relpath: str) -> int | None:
    row = db.execute("SELECT item_id FROM paths WHERE root = ? AND relpath = ?", [root, relpath]).fetchone()
    return row[0] if row else None


def _drop_if_orphan(db: Database, item_id: int | None, new_item_id: int) -> None:
    """An item none of whose paths remain (its only file was overwritten with other bytes) is gone."""
    if item_id is not None and item_id != new_item_id:
        db.execute("DELETE FROM items WHERE id = ? AND NOT EXISTS (SELECT 1 FROM paths WHERE item_id = ?)",
                   [item_id, item_id])


def record_skipped(db: Database, root: str, relpath: str, reason: str,
                   size: int | None = None, mtime_ns: int | None = None) -> None:
    with db.atomic():
        db.execute(
            """INSERT INTO skipped (root, relpath, reason, size, mtime_ns, seen_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (root, relpath) DO UPDATE SET reason = excluded.reason, size = excluded.size,
                 mtime_ns = excluded.mtime_ns, seen_at = excluded.seen_at""",
            [root, relpath, reason, size, mtime_ns, now_iso()],
        )


def forget_skipped(db: Database, root: str, relpaths: Iterable[str]) -> None:
    with db.atomic():
        db.conn.executemany("DELETE FROM skipped WHERE root = ? AND relpath = ?", [(root, r) for r in relpaths])


def mark_missing(db: Database, root: str, relpaths: Iterable[str]) -> int:
    """Paths that were not found: flagged, never deleted at once (a grace period protects against mistakes)."""
    stamp = now_iso()
    rels = list(relpaths)
    with db.atomic():
        db.conn.executemany(
            "UPDATE paths SET missing_since = ? WHERE root = ? AND relpath = ? AND missing_since IS NULL",
            [(stamp, root, r) for r in rels],
        )
        _refresh_item_states(db, "WHERE id IN (SELECT item_id FROM paths WHERE missing_since = ?)", [stamp])
    return len(rels)


def _refresh_item_states(db: Database, where: str = "", params: Iterable[Any] = ()) -> None:
    """An item is 'missing' when none of its primary paths is present."""
    db.execute(
        """UPDATE items SET state = CASE WHEN EXISTS (
               SELECT 1 FROM paths p WHERE p.item_id = items.id AND p.missing_since IS NULL AND p.role = 'primary')
             THEN 'present' ELSE 'missing' END """ + where,
        list(params),
    )


def renew_missing(db: Database, now_iso: str, *, only_before: str | None = None, only_after: str | None = None) -> int:
    """Restart the grace period of paths marked missing: every one, or (a bound given) only those stamped before
    ``only_before`` or after ``only_after``. For stamps a wrong clock wrote (store.clock); returns how many."""
    bounds = [(op, value) for op, value in (("<", only_before), (">", only_after)) if value is not None]
    where = "missing_since IS NOT NULL AND missing_since != ?" + (
        f" AND ({' OR '.join(f'missing_since {op} ?' for op, _ in bounds)})" if bounds else "")
    params = [now_iso, *(value for _, value in bounds)]
    if db.execute(f"SELECT 1 FROM paths WHERE {where} LIMIT 1", params).fetchone() is None:
        return 0  # the usual case, every purge: a read, not a write lock over the whole table
    with db.atomic():
        return db.execute(f"UPDATE paths SET missing_since = ? WHERE {where}", [now_iso, *params]).rowcount


def purge_missing(db: Database, older_than_iso: str) -> int:
    """Delete paths missing since before the cutoff, then items left with no path at all."""
    with db.atomic():
        cur = db.execute("DELETE FROM paths WHERE missing_since IS NOT NULL AND missing_since < ?", [older_than_iso])
        removed = cur.rowcount
        db.execute("DELETE FROM items WHERE NOT EXISTS (SELECT 1 FROM paths WHERE paths.item_id = items.id)")
        _refresh_item_states(db)
    return removed


def place_id(db: Database, city: str | None, region: str | None, country: str | None,
             country_code: str | None, source: str = "geonames") -> int:
    with db.atomic():  # the look-up and the insert together: a scan and the service never add it twice
        row = db.execute(
            "SELECT id FROM places WHERE city IS ? AND region IS ? AND country_code IS ? AND source = ?",
            [city, region, country_code, source],
        ).fetchone()
        if row:
            return row[0]
        return db.execute(
            "INSERT INTO places (city, region, country, country_code, source) VALUES (?, ?, ?, ?, ?)",
            [city, region, country, country_code, source],
        ).lastrowid


def primary_paths(db: Database, item_ids: Iterable[int] | None = None) -> dict[int, list[tuple[str, str]]]:
    """item_id -> (root, relpath) of each present primary file, oldest first; every item when ``item_ids`` is None.

    The one query from items to their files: an item whose files are all missing is left out.
    """
    if item_ids is None:
        rows: Iterable[tuple[int, str, str]] = db.execute(
            "SELECT item_id, root, relpath FROM paths WHERE role = 'primary' AND missing_since IS NULL ORDER BY id")
    else:
        rows = _primary_rows(db, list(dict.fromkeys(int(i) for i in item_ids)))
    out: dict[int, list[tuple[str, str]]] = {}
    for item_id, root, rel in rows:
        out.setdefault(item_id, []).append((root, rel))
    return out


def _primary_rows(db: Database, ids: list[int]) -> Iterator[tuple[int, str, str]]:
    for start in range(0, len(ids), 500):  # SQLite limits the number of bound parameters
        chunk = ids[start:start + 500]
        yield from db.execute(
            f"SELECT item_id, root, relpath FROM paths WHERE item_id IN ({', '.join('?' for _ in chunk)}) "
            "AND role = 'primary' AND missing_since IS NULL ORDER BY id", chunk)


def item_paths(db: Database, item_ids: Iterable[int]) -> dict[int, str]:
    """item_id -> absolute path of its first present primary file: the one file shown, cropped or exported."""
    return {item_id: os.path.join(*found[0]) for item_id, found in primary_paths(db, item_ids).items()}


def item_for_path(db: Database, abspath: str) -> int | None:
    """The item whose file (any present path) is at this absolute path."""
    root, rel = None, None
    for r, in db.execute("SELECT path FROM roots"):
        if abspath == r or abspath.startswith(r.rstrip(os.sep) + os.sep):
            root, rel = r, os.path.relpath(abspath, r)
            break
    if root is None:
        row = db.execute("SELECT item_id FROM paths WHERE root || '/' || relpath = ?", [abspath]).fetchone()
        return row[0] if row else None
    row = db.execute("SELECT item_id FROM paths WHERE root = ? AND relpath = ?", [root, rel]).fetchone()
    return row[0] if row else None


MEDIA_SQL = """
SELECT p.root, p.relpath, i.kind, i.taken_at_local, i.utc_offset_min, i.taken_at_source, i.tz_name,
       i.lat, i.lon, pl.city, pl.region, pl.country, pl.country_code, i.width, i.height, i.orientation,
       i.camera, i.hash, i.id, i.format, i.live_video, i.state, i.taken_at_precision
FROM paths p JOIN items i ON i.id = p.item_id LEFT JOIN places pl ON pl.id = i.place_id
WHERE p.role = 'primary' AND p.missing_since IS NULL
ORDER BY i.taken_at_utc, p.root, p.relpath
"""


def iso_with_offset(local: str | None, offset_min: int | None) -> str | None:
    """'2024-01-01T12:00:00' + 60 -> '2024-01-01T12:00:00+01:00'. An offset of 0 is '+00:00', not dropped."""
    if local is None:
        return None
    if offset_min is None:
        return local
    sign = "+" if offset_min >= 0 else "-"
    hours, minutes = divmod(abs(offset_min), 60)
    return f"{local}{sign}{hours:02d}:{minutes:02d}"


def media(db: Database) -> Iterator[dict[str, Any]]:
    """The `homeroll media --json` rows: one per present primary path (duplicates share a hash)."""
    for row in db.execute(MEDIA_SQL):
        (root, rel, kind, local, offset, source, tz, lat, lon, city, region, country, cc, width, height,
         orientation, camera, content_hash, item_id, fmt, live, state, precision) = row
        place = None
        if city or country:
            place = {"city": city, "region": region, "country": country, "country_code": cc}
        yield {
            "path": os.path.join(root, rel),
            "root": root,
            "kind": kind,
            "taken_at": iso_with_offset(local, offset),
            "taken_at_source": source,
            "taken_at_precision": precision,
            "tz": tz,
            "lat": lat,
            "lon": lon,
            "place": place,
            "width": width,
            "height": height,
            "orientation": orientation,
            "camera": camera,
            "hash": content_hash,
            "id": item_id,
            "format": fmt,
            "live_photo": bool(live),
        }


def skipped(db: Database) -> Iterator[dict[str, Any]]:
    for root, rel, reason, seen in db.execute("SELECT root, relpath, reason, seen_at FROM skipped ORDER BY root, relpath"):
        yield {"path": os.path.join(root, rel), "root": root, "reason": reason, "seen_at": seen}


def set_root(db: Database, path: str, **fields: Any) -> None:
    with db.atomic():
        db["roots"].upsert({"path": path, **fields}, pk="path", alter=False)


def roots(db: Database) -> list[dict[str, Any]]:
    return [dict(r) for r in db.query("SELECT * FROM roots ORDER BY path")]


def removed_roots(db: Database) -> list[str]:
    """Roots taken out of the config (store.service.mark_removed_roots): nothing new comes from them."""
    return [r[0] for r in db.execute("SELECT path FROM roots WHERE state = 'removed' ORDER BY path")]


def kv_get(db: Database, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM kv WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def kv_set(db: Database, key: str, value: str) -> None:
    with db.atomic():
        db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                   [key, value])


def counts(db: Database) -> dict[str, Any]:
    by_kind = dict(db.execute("SELECT kind, COUNT(*) FROM items WHERE state = 'present' GROUP BY kind").fetchall())
    return {
        "items": sum(by_kind.values()),
        "by_kind": by_kind,
        "missing": db.execute("SELECT COUNT(*) FROM items WHERE state = 'missing'").fetchone()[0],
        "paths": db.execute("SELECT COUNT(*) FROM paths WHERE missing_since IS NULL").fetchone()[0],
        "skipped": db.execute("SELECT COUNT(*) FROM skipped").fetchone()[0],
    }


def settle_moves(db: Database) -> int:
    """A missing path whose item has a present path elsewhere was moved or renamed, not deleted: drop it."""
    with db.atomic():
        cur = db.execute(
            """DELETE FROM paths WHERE missing_since IS NOT NULL AND role = 'primary' AND item_id IN (
                   SELECT item_id FROM paths WHERE missing_since IS NULL AND role = 'primary')"""
        )
        moved = cur.rowcount
        if moved:
            _refresh_item_states(db)
    return moved


def date_sources(db: Database) -> list[dict[str, Any]]:
    """How many present items took their date from each source (and to what precision): the demo's summary."""
    return [
        {"source": source, "precision": precision, "items": n}
        for source, precision, n in db.execute(
            "SELECT CASE WHEN instr(taken_at_source, '+') > 0 THEN substr(taken_at_source, 1, "
            "instr(taken_at_source, '+') - 1) ELSE taken_at_source END AS base, taken_at_precision, COUNT(*) "
            "FROM items WHERE state = 'present' GROUP BY base, taken_at_precision ORDER BY COUNT(*) DESC")
    ]


def top_places(db: Database, limit: int) -> list[tuple[str | None, str | None, int]]:
    """(city, country, items) of the places most items were taken at, most first: the demo's summary."""
    return db.execute(
        "SELECT p.city, p.country, COUNT(*) FROM items i JOIN places p ON p.id = i.place_id "
        "GROUP BY p.id ORDER BY COUNT(*) DESC LIMIT ?", [limit]).fetchall()
