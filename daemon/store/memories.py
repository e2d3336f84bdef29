"""Memories and their items: what selection reads (items, places, people, faces) and what the user decides.

Selection reads the library column-wise in a handful of queries (no image decoding, no per-item
round trips) and writes its proposals in one transaction. The user's word lives in columns the
selection never overwrites: ``status`` (approved/rejected/exported), ``user_title``,
``user_cover_item`` and ``memory_items.removed_by_user``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from sqlite_utils import Database

from homeroll.daemon.errors import UserError
from homeroll.daemon.store import decisions as store_decisions
from homeroll.daemon.store import items as store_items

__all__ = [
    "STATUSES", "KINDS", "list_memories", "get_memory", "approve", "reject", "rename", "remove_item",
    "set_cover", "mark_exported", "finish_export", "approved_not_exported", "item_id_for_path",
    "selection_rows", "excluded_item_ids", "places", "people", "face_links", "face_sizes",
    "existing_memories", "insert_memory", "replace_members", "offer_items", "delete_memories",
    "update_fields", "picked_items", "folder_paths",
]

STATUSES = ("suggested", "approved", "exported", "rejected")
KINDS = ("trip", "day_out", "gathering", "holiday", "birthday", "occasion", "on_this_day", "people", "period", "year_review")

_STATUS_ORDER = "CASE m.status WHEN 'suggested' THEN 0 WHEN 'approved' THEN 1 WHEN 'exported' THEN 2 ELSE 3 END"

# ---------------------------------------------------------------------------------------------------
# Reads for selection
# ---------------------------------------------------------------------------------------------------

#: Dates are turned into numbers by SQLite (julianday), not row by row in Python: at 100k items this is
#: the difference between 0.2 s and 2 s. utc_s is NULL when there is no UTC time and no offset.
#: The last two columns say how far a date can be trusted: its precision as a small number (a photo
#: dated only to a year or month must stay out of day-based memories) and whether the file's mtime was
#: the only source (a copy's mtime is the day it was copied, not a day worth remembering).
SELECTION_SQL = """
SELECT id, kind = 'video',
       COALESCE((julianday(taken_at_utc) - 2440587.5) * 86400.0,
                (julianday(taken_at_local) - 2440587.5) * 86400.0 - utc_offset_min * 60.0),
       CAST(julianday(substr(taken_at_local, 1, 10)) - 1721424.5 AS INTEGER),
       CAST(julianday(date(taken_at_local, '-4 hours')) - 1721424.5 AS INTEGER),
       lat, lon, COALESCE(place_id, -1), quality, sharpness, exposure, phash, face_count, width, height,
       taken_at_local,
       CASE taken_at_precision WHEN 'year' THEN 3 WHEN 'month' THEN 2 WHEN 'day' THEN 1 ELSE 0 END,
       COALESCE(taken_at_source, '') LIKE 'mtime%'
FROM items
WHERE state = 'present' AND kind != 'screenshot' AND is_messenger = 0 AND taken_at_local IS NOT NULL
  AND julianday(taken_at_local) IS NOT NULL
"""


def selection_rows(db: Database) -> list[tuple]:
    """Every item selection may use: present, dated, not a screenshot, not a messenger image.

    Columns: id, is_video, utc seconds (or NULL), local day ordinal, outing day ordinal (nights count
    to the evening before), lat, lon, place_id (-1), quality, sharpness, exposure, phash, face_count,
    width, height, taken_at_local, precision (0 time, 1 day, 2 month, 3 year), mtime only (0/1).
    """
    return db.execute(SELECTION_SQL).fetchall()


def folder_paths(db: Database, item_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """store.items.primary_paths with "/" between folders: selection reads title hints from folder names."""
    return {item_id: [(root, rel.replace("\\", "/")) for root, rel in found]
            for item_id, found in store_items.primary_paths(db, item_ids).items()}


def excluded_item_ids(db: Database, folders: Sequence[str]) -> set[int]:
    """Items all of whose present files sit in an excluded folder (a folder name anywhere, or an absolute prefix)."""
    if not folders:
        return set()
    names = {f.strip("/").lower() for f in folders if f and not os.path.isabs(f)}
    prefixes = [f.rstrip("/") + "/" for f in folders if f and os.path.isabs(f)]

    def excluded(root: str, rel: str) -> bool:
        parts = {p.lower() for p in rel.replace("\\", "/").split("/")[:-1]}
        full = os.path.join(root, rel)
        return bool(names & parts) or any(full.startswith(p) for p in prefixes)

    return {item_id for item_id, found in store_items.primary_paths(db).items()
            if all(excluded(root, rel) for root, rel in found)}


def places(db: Database) -> dict[int, dict[str, Any]]:
    return {
        row[0]: {"city": row[1], "region": row[2], "country": row[3], "country_code": row[4]}
        for row in db.execute("SELECT id, city, region, country, country_code FROM places")
    }


def people(db: Database) -> dict[int, dict[str, Any]]:
    """Every person row (named or not): id -> {name, birthday}."""
    return {
        row[0]: {"id": row[0], "name": row[1], "birthday": row[2]}
        for row in db.execute("SELECT id, name, birthday FROM people")
    }


def face_links(db: Database) -> list[tuple[int, int]]:
    """(item_id, person_id) for every assigned face, once per pair."""
    return db.execute(
        "SELECT DISTINCT item_id, person_id FROM faces WHERE person_id IS NOT NULL AND ignored = 0"
    ).fetchall()


def face_sizes(db: Database) -> dict[int, int]:
    """item_id -> the largest face's size in pixels (how prominent the people are)."""
    return dict(db.execute(
        "SELECT item_id, MAX(COALESCE(size_px, 0)) FROM faces WHERE ignored = 0 GROUP BY item_id"
    ).fetchall())


class Member(NamedTuple):
    """One item of a stored memory, as selection and the user left it (a memory_items row)."""

    picked: int
    rank: int | None
    removed_by_user: int
    offered: int


def existing_memories(db: Database) -> list[dict[str, Any]]:
    """Every stored memory with its members (item_id -> Member), for matching new candidates to old identities."""
    memories: dict[int, dict[str, Any]] = {}
    for row in db.query("SELECT * FROM memories"):
        row = dict(row)
        row["members"] = {}
        memories[row["id"]] = row
    for memory_id, item_id, *member in db.execute(
        "SELECT memory_id, item_id, picked, rank, removed_by_user, offered FROM memory_items"
    ):
        memories[memory_id]["members"][item_id] = Member(*member)
    return list(memories.values())


# ---------------------------------------------------------------------------------------------------
# Writes for selection (the caller wraps a whole run in db.atomic())
# ---------------------------------------------------------------------------------------------------

_FIELDS = ("kind", "title", "start", "end", "place", "people", "score", "reason", "cover_item")


def _row(fields: dict[str, Any]) -> dict[str, Any]:
    values = {k: fields[k] for k in _FIELDS if k in fields}
    if "people" in values and not isinstance(values["people"], str):
        values["people"] = json.dumps(values["people"], ensure_ascii=False)
    return values


def insert_memory(db: Database, stable_key: str, fields: dict[str, Any], members: Iterable[int],
                  picks: Sequence[int]) -> int:
    values = _row(fields)
    stamp = store_items.now_iso()
    values.update(stable_key=stable_key, status="suggested", created_at=stamp, updated_at=stamp)
    cols = ", ".join(f'"{k}"' for k in values)
    with db.atomic():
        cur = db.execute(f"INSERT INTO memories ({cols}) VALUES ({', '.join('?' for _ in values)})",
                         list(values.values()))
        memory_id = cur.lastrowid
        replace_members(db, memory_id, members, picks)
    return memory_id


def update_fields(db: Database, memory_id: int, fields: dict[str, Any]) -> None:
    values = _row(fields)
    values["updated_at"] = store_items.now_iso()
    sets = ", ".join(f'"{k}" = ?' for k in values)
    with db.atomic():  # a savepoint inside the selection's transaction; never a bare write
        db.execute(f"UPDATE memories SET {sets} WHERE id = ?", [*values.values(), memory_id])


def replace_members(db: Database, memory_id: int, members: Iterable[int], picks: Sequence[int]) -> None:
    """A suggestion's members and picks are recomputed; rows the user removed stay removed."""
    rank = {item_id: i for i, item_id in enumerate(picks)}
    with db.atomic():
        db.execute("DELETE FROM memory_items WHERE memory_id = ? AND removed_by_user = 0", [memory_id])
        db.conn.executemany(
            "INSERT INTO memory_items (memory_id, item_id, picked, rank) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (memory_id, item_id) DO NOTHING",
            [(memory_id, item_id, int(item_id in rank), rank.get(item_id)) for item_id in members],
        )


def offer_items(db: Database, memory_id: int, item_ids: Iterable[int]) -> None:
    """New photos of an approved memory are offered as additions, never inserted among its picks."""
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO memory_items (memory_id, item_id, picked, offered) VALUES (?, ?, 0, 1) "
            "ON CONFLICT (memory_id, item_id) DO NOTHING",
            [(memory_id, item_id) for item_id in item_ids],
        )


def delete_memories(db: Database, memory_ids: Iterable[int]) -> None:
    with db.atomic():
        db.conn.executemany("DELETE FROM memories WHERE id = ?", [(m,) for m in memory_ids])


# ---------------------------------------------------------------------------------------------------
# What the CLI, the TUI and the export call
# ---------------------------------------------------------------------------------------------------

_LIST_SQL = f"""
SELECT m.id, m.kind, COALESCE(m.user_title, m.title), m.start, m."end", m.place, m.people, m.status,
       m.score, m.reason, COALESCE(m.user_cover_item, m.cover_item),
       (SELECT COUNT(*) FROM memory_items mi WHERE mi.memory_id = m.id AND mi.removed_by_user = 0
            AND mi.offered = 0),
       (SELECT COUNT(*) FROM memory_items mi WHERE mi.memory_id = m.id AND mi.picked = 1
            AND mi.removed_by_user = 0),
       m.stable_key, m.title, m.user_title
FROM memories m
WHERE {{where}}
ORDER BY {_STATUS_ORDER}, m.start DESC, m.id DESC
"""


def _memory_dict(row: Sequence[Any]) -> dict[str, Any]:
    (memory_id, kind, title, start, end, place, people_json, status, score, reason, cover, members, picks,
     stable_key, auto_title, user_title) = row
    return {
        "id": memory_id, "kind": kind, "title": title, "start": start, "end": end, "place": place,
        "people": json.loads(people_json) if people_json else [], "status": status,
        "score": round(score, 3) if score is not None else None, "reason": reason, "cover": cover,
        "members": members, "picks": picks, "stable_key": stable_key, "auto_title": auto_title,
        "user_title": user_title,
    }


def list_memories(db: Database, status: str | None = None, kind: str | None = None,
                  search: str | None = None) -> list[dict[str, Any]]:
    """Suggested first, then approved, exported, rejected; newest start first within a status."""
    where, params = ["1"], []
    if status:
        if status not in STATUSES:
            raise UserError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
        where.append("m.status = ?")
        params.append(status)
    if kind:
        where.append("m.kind = ?")
        params.append(kind)
    if search:
        like = f"%{search}%"
        where.append("(COALESCE(m.user_title, m.title) LIKE ? OR m.place LIKE ? OR m.people LIKE ? OR m.reason LIKE ?)")
        params += [like] * 4
    sql = _LIST_SQL.format(where=" AND ".join(where))
    return [_memory_dict(row) for row in db.execute(sql, params)]


def _require(db: Database, memory_id: int) -> dict[str, Any]:
    rows = db.execute(_LIST_SQL.format(where="m.id = ?"), [memory_id]).fetchall()
    if not rows:
        raise UserError(f"no memory with id {memory_id}")
    return _memory_dict(rows[0])


def _media(db: Database, memory_id: int, where: str) -> list[dict[str, Any]]:
    rows = db.execute(
        f"""SELECT mi.item_id, mi.rank, i.thumb, i.taken_at_local, i.utc_offset_min, i.kind
            FROM memory_items mi JOIN items i ON i.id = mi.item_id
            WHERE mi.memory_id = ? AND mi.removed_by_user = 0 AND {where}
            ORDER BY mi.rank, i.taken_at_utc, i.id""", [memory_id]).fetchall()
    paths = store_items.item_paths(db, [r[0] for r in rows])
    return [
        {"item_id": item_id, "path": paths.get(item_id), "thumb": thumb, "kind": kind,
         "taken_at": store_items.iso_with_offset(local, offset), "rank": rank}
        for item_id, rank, thumb, local, offset, kind in rows
    ]


def get_memory(db: Database, memory_id: int) -> dict[str, Any] | None:
    """The list entry plus the curated picks in order ("media") and photos offered since approval."""
    rows = db.execute(_LIST_SQL.format(where="m.id = ?"), [memory_id]).fetchall()
    if not rows:
        return None
    memory = _memory_dict(rows[0])
    memory["media"] = _media(db, memory_id, "mi.picked = 1")
    memory["offered"] = _media(db, memory_id, "mi.offered = 1")
    memory["removed"] = [r[0] for r in db.execute(
        "SELECT item_id FROM memory_items WHERE memory_id = ? AND removed_by_user = 1", [memory_id])]
    memory.update(store_decisions.summary(db, memory_id))  # decided_by, decisions: who did what
    return memory


def _decide(db: Database, memory_id: int, status: str) -> None:
    with db.atomic():
        _require(db, memory_id)
        db.execute("UPDATE memories SET status = ?, decided_at = ?, updated_at = ? WHERE id = ?",
                   [status, store_items.now_iso(), store_items.now_iso(), memory_id])
        store_decisions.record(db, memory_id, status)


def approve(db: Database, memory_id: int) -> None:
    """Approve a suggestion (or undo a rejection). An exported memory stays exported."""
    with db.atomic():  # the status read and its change in one transaction: an export may finish meanwhile
        if _require(db, memory_id)["status"] != "exported":
            _decide(db, memory_id, "approved")


def reject(db: Database, memory_id: int) -> None:
    """Rejected memories are kept (as tombstones for their identity) and never proposed again."""
    _decide(db, memory_id, "rejected")


def rename(db: Database, memory_id: int, title: str) -> None:
    title = (title or "").strip()
    if not title:
        raise UserError("a title cannot be empty")
    if len(title) > 200:
        raise UserError("a title is at most 200 characters")
    with db.atomic():
        _require(db, memory_id)
        db.execute("UPDATE memories SET user_title = ?, updated_at = ? WHERE id = ?", [title, store_items.now_iso(), memory_id])
        store_decisions.record(db, memory_id, "renamed", title)


def _member(db: Database, memory_id: int, item_id: int) -> tuple | None:
    return db.execute("SELECT picked, removed_by_user, offered FROM memory_items WHERE memory_id = ? AND item_id = ?",
                      [memory_id, item_id]).fetchone()


def remove_item(db: Database, memory_id: int, item_id: int) -> None:
    """The user takes a photo out: it stays out across re-selection; a cover on it falls back to the best pick."""
    memory = _require(db, memory_id)
    if _member(db, memory_id, item_id) is None:
        raise UserError(f"item {item_id} is not part of memory {memory_id}")
    with db.atomic():
        db.execute("UPDATE memory_items SET removed_by_user = 1, picked = 0, offered = 0, rank = NULL "
                   "WHERE memory_id = ? AND item_id = ?", [memory_id, item_id])
        if memory["cover"] == item_id:
            db.execute("UPDATE memories SET user_cover_item = NULL WHERE id = ? AND user_cover_item = ?",
                       [memory_id, item_id])
            best = db.execute(
                """SELECT mi.item_id FROM memory_items mi JOIN items i ON i.id = mi.item_id
                   WHERE mi.memory_id = ? AND mi.picked = 1 AND mi.removed_by_user = 0
                   ORDER BY (i.face_count > 0) DESC, COALESCE(i.quality, 0) DESC, mi.rank LIMIT 1""",
                [memory_id]).fetchone()
            db.execute("UPDATE memories SET cover_item = ? WHERE id = ?", [best[0] if best else None, memory_id])
        db.execute("UPDATE memories SET updated_at = ? WHERE id = ?", [store_items.now_iso(), memory_id])
        store_decisions.record(db, memory_id, "removed_item", item_id)


def set_cover(db: Database, memory_id: int, item_id: int) -> None:
    _require(db, memory_id)
    member = _member(db, memory_id, item_id)
    if member is None or member[1]:
        raise UserError(f"item {item_id} is not part of memory {memory_id}")
    with db.atomic():
        db.execute("UPDATE memories SET user_cover_item = ?, updated_at = ? WHERE id = ?",
                   [item_id, store_items.now_iso(), memory_id])
        store_decisions.record(db, memory_id, "cover", item_id)


def mark_exported(db: Database, memory_id: int) -> None:
    _decide(db, memory_id, "exported")


def finish_export(db: Database, memory_id: int, record: Callable[[], None], *, force: bool = False) -> bool:
    """Record a rendered export (``record`` writes its row) and mark the memory exported, in one
    transaction, only if it is still approved or exported (or ``force``). False: the household rejected
    it (or it was deleted) while the collage was being made, and their word stands."""
    with db.atomic():
        row = db.execute("SELECT status FROM memories WHERE id = ?", [memory_id]).fetchone()
        if row is None or (row[0] not in ("approved", "exported") and not force):
            return False
        record()
        _decide(db, memory_id, "exported")
    return True


def approved_not_exported(db: Database) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM memories WHERE status = 'approved' ORDER BY id")]


def item_id_for_path(db: Database, path: str) -> int:
    """The item at an absolute path, or a one-line error."""
    item_id = store_items.item_for_path(db, os.path.abspath(path))
    if item_id is None:
        raise UserError(f"{path}: not a file homeroll knows")
    return item_id


def picked_items(db: Database, memory_ids: Iterable[int] | None = None) -> dict[int, list[int]]:
    """memory_id -> the item ids of its curated picks, in order (one query for a whole listing)."""
    out: dict[int, list[int]] = {}
    wanted = set(memory_ids) if memory_ids is not None else None
    for memory_id, item_id in db.execute(
        "SELECT memory_id, item_id FROM memory_items WHERE picked = 1 AND removed_by_user = 0 "
        "ORDER BY memory_id, rank, item_id"
    ):
        if wanted is None or memory_id in wanted:
            out.setdefault(memory_id, []).append(item_id)
    return out
