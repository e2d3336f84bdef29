"""Hidden people: the household's "never feature this person", kept on the person's own row.

Hiding is a say about memories, not about faces: the faces, crops and encodings stay (only ``forget``
deletes them), so the person is still recognised, and a later photo of them is left out too instead of
becoming a new, unknown person. ``people.hidden_at`` / ``hidden_by`` (schema step m005) hold when and by
whom, at the DB's clock and with the Unix user as every household decision (store/decisions.py); both
NULL means shown. Being columns of ``people``, the state goes wherever the DB goes: backups, restores.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.errors import UserError
from homeroll.daemon.store import decisions
from homeroll.daemon.store import items as store_items

__all__ = ["hidden_ids", "hidden_people", "hide", "state", "unhide"]

log = logging.getLogger(__name__)


def hidden_ids(db: Database) -> set[int]:
    return {row[0] for row in db.execute("SELECT id FROM people WHERE hidden_at IS NOT NULL")}


def hidden_people(db: Database) -> dict[int, dict[str, Any]]:
    """person id -> {hidden_at, hidden_by} for everyone hidden (the people lists mark them)."""
    return {pid: {"hidden_at": at, "hidden_by": by}
            for pid, at, by in db.execute("SELECT id, hidden_at, hidden_by FROM people WHERE hidden_at IS NOT NULL")}


def state(db: Database, person_id: int) -> dict[str, Any]:
    """{hidden, hidden_at, hidden_by} of one person; an unknown id is the user's mistake, in one line."""
    row = db.execute("SELECT hidden_at, hidden_by FROM people WHERE id = ?", [person_id]).fetchone()
    if row is None:
        raise UserError(f"no person with id {person_id} (see `homeroll people`)")
    return {"hidden": row[0] is not None, "hidden_at": row[0], "hidden_by": row[1]}


def hide(db: Database, person_id: int) -> bool:
    """Hide a person from new memories; False when they were hidden already (the first hiding stands)."""
    with db.atomic():
        if state(db, person_id)["hidden"]:
            return False
        db.execute("UPDATE people SET hidden_at = ?, hidden_by = ? WHERE id = ?",
                   [store_items.now_iso(), decisions.actor(), person_id])
    return True


def unhide(db: Database, person_id: int) -> bool:
    """Show a person in new memories again; False when they were not hidden.

    The row keeps no trace of the unhiding (NULL is "shown", m005), so who did it goes to the log.
    """
    with db.atomic():
        before = state(db, person_id)
        if not before["hidden"]:
            return False
        db.execute("UPDATE people SET hidden_at = NULL, hidden_by = NULL WHERE id = ?", [person_id])
    log.info("person %d shown in memories again by %s at %s (hidden since %s by %s)", person_id,
             decisions.actor(), store_items.now_iso(), before["hidden_at"], before["hidden_by"])
    return True
