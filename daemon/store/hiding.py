"""STUB (issue 14, part 1): hidden people."""

from __future__ import annotations

from sqlite_utils import Database


def hidden_ids(db: Database) -> set[int]:
    return {row[0] for row in db.execute("SELECT id FROM people WHERE hidden_at IS NOT NULL")}
