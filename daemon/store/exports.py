"""Exports: which files each memory's export left in the export folder, and what rendering one needs.

Tracking the files lets a re-export replace exactly its own collage, video, album folder and sidecar and
nothing else a person (or another memory) put in the shared folder. Marking a memory exported is a change
of its status, which store.memories owns with the other decisions (approve, reject).
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.store import items as store_items

__all__ = ["exports_for", "memory_for_export", "paths_owned_by_others", "record_export", "record_outputs"]


def record_export(db: Database, memory_id: int, path: str, sidecar: str | None, layout: str, size: str,
                  style: str) -> None:
    """Record the memory's current export as one collage (see :func:`record_outputs`)."""
    record_outputs(db, memory_id, {"collage": str(path)}, sidecar, layout, size, style)


def record_outputs(db: Database, memory_id: int, outputs: dict[str, str], sidecar: str | None,
                   layout: str | None, size: str | None, style: str | None) -> None:
    """Record the memory's current export: one row per output (collage, video, album -> its path), each
    with the sidecar. Earlier rows of the memory are dropped: the caller has already replaced or removed
    those files, and one memory has one export in the folder."""
    now = store_items.now_iso()
    with db.atomic():
        db.execute("DELETE FROM exports WHERE memory_id = ?", [memory_id])
        for output, path in outputs.items():
            db.execute(
                "INSERT INTO exports (memory_id, output, path, sidecar, layout, size, style, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [memory_id, output, str(path), str(sidecar) if sidecar else None, layout, size, style, now],
            )


def exports_for(db: Database, memory_id: int) -> list[dict[str, Any]]:
    """{id, memory_id, output, path, sidecar, layout, size, style, created_at}, newest first (one export's
    rows in the order they were recorded)."""
    cols = ("id", "memory_id", "output", "path", "sidecar", "layout", "size", "style", "created_at")
    rows = db.execute(
        f"SELECT {', '.join(cols)} FROM exports WHERE memory_id = ? ORDER BY created_at DESC, id", [memory_id]
    ).fetchall()
    return [dict(zip(cols, row, strict=True)) for row in rows]


def paths_owned_by_others(db: Database, memory_id: int) -> set[str]:
    """Collage, video, album and sidecar paths recorded for every other memory (never overwritten by this one)."""
    owned: set[str] = set()
    for path, sidecar in db.execute("SELECT path, sidecar FROM exports WHERE memory_id != ?", [memory_id]):
        owned.add(path)
        if sidecar:
            owned.add(sidecar)
    return owned


def _faces(db: Database, item_ids: list[int]) -> dict[int, list[tuple[float, float, float, float]]]:
    out: dict[int, list[tuple[float, float, float, float]]] = {}
    if not item_ids:
        return out
    marks = ", ".join("?" for _ in item_ids)
    for item_id, left, top, right, bottom in db.execute(
        f'SELECT item_id, "left", top, "right", bottom FROM faces WHERE item_id IN ({marks}) AND ignored = 0 '
        "ORDER BY id", item_ids,
    ):
        out.setdefault(item_id, []).append((left, top, right, bottom))
    return out


def memory_for_export(db: Database, memory_id: int) -> dict[str, Any] | None:
    """The memory as the collage needs it, or None if there is no such memory.

    {id, kind, title (the user's title if set), start, end, place, people, status, cover, stable_key,
     picks: [{item_id, path (absolute, None if no file is present), kind, width, height,
              taken (local wall-clock time, or None), taken_utc (for time order), faces}]}.
    Picks are the curated ones (picked, not removed by the user) in rank order with the cover first;
    a memory with no picks falls back to all its members.
    """
    row = db.execute(
        """SELECT id, kind, COALESCE(user_title, title), start, "end", place, people, status,
                  COALESCE(user_cover_item, cover_item), stable_key
           FROM memories WHERE id = ?""", [memory_id]).fetchone()
    if row is None:
        return None
    mid, kind, title, start, end, place, people_json, status, cover, stable_key = row
    try:
        people = json.loads(people_json) if people_json else []
    except ValueError:
        people = []

    def members(where: str) -> list[tuple]:
        return db.execute(
            f"""SELECT mi.item_id, i.kind, i.width, i.height, i.taken_at_local, i.taken_at_utc
                FROM memory_items mi JOIN items i ON i.id = mi.item_id
                WHERE mi.memory_id = ? AND mi.removed_by_user = 0 AND {where}
                ORDER BY mi.rank IS NULL, mi.rank, i.taken_at_utc, i.id""", [memory_id]).fetchall()

    rows = members("mi.picked = 1") or members("mi.offered = 0")
    if cover is not None:
        rows.sort(key=lambda r: r[0] != cover)  # stable: the cover first, the rest keep their ranks
    item_ids = [r[0] for r in rows]
    faces = _faces(db, item_ids)
    paths = store_items.item_paths(db, item_ids)
    picks = [
        {"item_id": item_id, "path": paths.get(item_id), "kind": item_kind, "width": width, "height": height,
         "taken": taken, "taken_utc": taken_utc, "faces": faces.get(item_id, [])}
        for item_id, item_kind, width, height, taken, taken_utc in rows
    ]
    return {"id": mid, "kind": kind, "title": title, "start": start, "end": end, "place": place,
            "people": people, "status": status, "cover": cover, "stable_key": stable_key, "picks": picks}

