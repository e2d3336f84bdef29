"""Who decided what about a memory: the household shares one DB, so each decision keeps its Unix user.

Approve, reject, rename, a photo taken out, a cover chosen and the export each add one row to
``memory_decisions`` (schema step m003) inside the transaction that makes the change, so a change that
rolls back leaves no record and a record never describes a change that did not happen. The selection's
own updates are not decisions and are not recorded, nor is a decision that repeats the standing one
(approving what is approved, the same title or cover again); a re-export is a new export and is recorded.

The user is the process's own: the account whose uid runs it (the service records its exports as the
service user). Run through sudo as another account, it is ``"alice (as homeroll)"``, because the uid
alone would credit the service account with alice's decision. ``SUDO_USER`` is what sudo says, not
proof: anyone who can write the DB can write any row, so this is a household's record, not an audit.
"""

from __future__ import annotations

import os
import pwd
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.store import items as store_items

__all__ = ["ACTIONS", "actor", "history", "record", "summary"]

#: What a row's ``action`` can be; approved, rejected and exported are also the status they set.
ACTIONS = ("approved", "rejected", "renamed", "removed_item", "cover", "exported")


def actor() -> str:
    """The Unix user running this process (its uid as a number if it has no name), and who sudo'd to it."""
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (a container, a deleted account)
        name = str(uid)
    invoker = os.environ.get("SUDO_USER")
    return f"{invoker} (as {name})" if invoker and invoker != name else name


def record(db: Database, memory_id: int, action: str, detail: Any = None) -> None:
    """One decision, by ``actor()`` at the DB's clock; the caller holds ``db.atomic()`` around the change."""
    if action not in ACTIONS:
        raise ValueError(f"unknown decision {action!r}")
    text = None if detail is None else str(detail)
    with db.atomic():  # a savepoint in the caller's transaction: the change and its record commit together
        if _repeats(db, memory_id, action, text):
            return
        db.execute('INSERT INTO memory_decisions (memory_id, at, "by", action, detail) VALUES (?, ?, ?, ?, ?)',
                   [memory_id, store_items.now_iso(), actor(), action, text])


#: Decisions that undo each other: approving again what the latest of them approved changes nothing.
_SAME_QUESTION = {"approved": ("approved", "rejected"), "rejected": ("approved", "rejected"),
                  "renamed": ("renamed",), "cover": ("cover",)}


def _repeats(db: Database, memory_id: int, action: str, detail: str | None) -> bool:
    """The same decision as the standing one (approve what is approved, the same title or cover again, a
    photo taken out twice): nothing changed, nothing to record. Every export is a new export."""
    if action == "removed_item":
        return db.execute("SELECT 1 FROM memory_decisions WHERE memory_id = ? AND action = ? AND detail = ?",
                          [memory_id, action, detail]).fetchone() is not None
    group = _SAME_QUESTION.get(action)
    if group is None:
        return False
    marks = ", ".join("?" for _ in group)
    last = db.execute(f"SELECT action, detail FROM memory_decisions WHERE memory_id = ? AND action IN ({marks}) "
                      "ORDER BY id DESC LIMIT 1", [memory_id, *group]).fetchone()
    return last == (action, detail)


def history(db: Database, memory_id: int) -> list[dict[str, Any]]:
    """Every decision about a memory, oldest first (in the order they were made, whatever the clock said)."""
    rows = db.execute('SELECT at, "by", action, detail FROM memory_decisions WHERE memory_id = ? ORDER BY id',
                      [memory_id]).fetchall()
    return [{"at": at, "by": by, "action": action, "detail": detail} for at, by, action, detail in rows]


def summary(db: Database, memory_id: int) -> dict[str, Any]:
    """``decisions`` (the history) and ``decided_by``: who made the latest approve or reject, the one the
    status stands on (an export keeps its approver), or None (none yet, or decided before m003)."""
    decisions = history(db, memory_id)
    decided_by = next((d["by"] for d in reversed(decisions) if d["action"] in ("approved", "rejected")), None)
    return {"decided_by": decided_by, "decisions": decisions}
