"""What the household's say takes back from memories already stored.

Selection re-curates every suggestion a rule still proposes from the library without the left-out photos,
so those are clean. Two kinds of stored rows are not re-curated and could still show a hidden person or
an excluded day: a suggestion the user edited that no rule proposes any more (kept, not dropped), and the
photos *offered* to an approved memory before the hiding or the exclusion. This takes the left-out photos
out of both, and never touches an approved or exported memory's own picks: those stay the household's.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database

__all__ = ["withdraw"]


def withdraw(db: Database, memory_id: int, item_ids: Iterable[int], *, offered_only: bool) -> int:
    """Remove these photos from the memory (only its offered ones with ``offered_only``); returns how many went.

    A suggestion left with no pick is deleted; one whose cover went gets its best remaining pick as cover."""
    ids = [int(i) for i in item_ids]
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    offered = " AND offered = 1 AND picked = 0" if offered_only else ""
    with db.atomic():
        gone = db.execute(f"DELETE FROM memory_items WHERE memory_id = ? AND item_id IN ({marks}){offered}",
                          [memory_id, *ids]).rowcount
        if gone and not offered_only:
            _repair(db, memory_id, ids)
    return gone


def _repair(db: Database, memory_id: int, removed: list[int]) -> None:
    first = db.execute("SELECT item_id FROM memory_items WHERE memory_id = ? AND picked = 1 AND removed_by_user = 0 "
                       "ORDER BY rank LIMIT 1", [memory_id]).fetchone()
    if first is None:
        db.execute("DELETE FROM memories WHERE id = ?", [memory_id])
        return
    cover, user_cover = db.execute("SELECT cover_item, user_cover_item FROM memories WHERE id = ?",
                                   [memory_id]).fetchone()
    db.execute("UPDATE memories SET cover_item = ?, user_cover_item = ? WHERE id = ?",
               [first[0] if cover in removed else cover, None if user_cover in removed else user_cover, memory_id])
