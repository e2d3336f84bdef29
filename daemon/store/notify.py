"""Which suggestions a digest has told the household about (schema step m005, ``notifications``).

A digest names each new suggestion once: a row here means "told about", written only after a send
succeeded, so a digest that failed leaves its memories for the next one. A suggestion the household has
decided (approved, rejected) is no longer waiting and is never told about, row or not; a memory that
selection drops takes its row with it (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.store import items as store_items

__all__ = ["mark_notified", "notified_ids", "waiting"]

_WAITING_SQL = """
SELECT m.id, COALESCE(m.user_title, m.title), m.start, m."end", m.reason,
       (SELECT COUNT(*) FROM memory_items mi WHERE mi.memory_id = m.id AND mi.picked = 1
            AND mi.removed_by_user = 0),
       (SELECT i.thumb FROM items i WHERE i.id = COALESCE(m.user_cover_item, m.cover_item))
FROM memories m
WHERE m.status = 'suggested' AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.memory_id = m.id)
ORDER BY m.start DESC, m.id DESC
"""


def waiting(db: Database) -> list[dict[str, Any]]:
    """The suggestions no digest has told about yet, newest first; ``cover_thumb`` is relative to the data dir."""
    return [
        {"id": memory_id, "title": title, "start": start, "end": end, "reason": reason, "picks": picks,
         "cover_thumb": thumb}
        for memory_id, title, start, end, reason, picks, thumb in db.execute(_WAITING_SQL).fetchall()
    ]


def mark_notified(db: Database, memory_ids: Iterable[int], at: str | None = None) -> int:
    """Record that a digest told about these memories (at the DB's clock unless ``at``); returns how many
    were new. A memory selection dropped meanwhile is skipped rather than failing the whole mark."""
    stamp = at or store_items.now_iso()
    ids = sorted(set(memory_ids))
    with db.atomic():
        before = db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0]
        db.conn.executemany(
            "INSERT OR IGNORE INTO notifications (memory_id, sent_at) SELECT id, ? FROM memories WHERE id = ?",
            [(stamp, memory_id) for memory_id in ids])
        after = db.execute("SELECT COUNT(*) FROM notifications").fetchone()[0]
    return after - before


def notified_ids(db: Database) -> set[int]:
    """Every memory a digest has told about (for tests and `homeroll notify --json`)."""
    return {row[0] for row in db.execute("SELECT memory_id FROM notifications")}
