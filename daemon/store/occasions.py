"""STUB (issue 14, part 3): the family's own occasions."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database


def list_occasions(db: Database) -> list[dict[str, Any]]:
    return [dict(r) for r in db["occasions"].rows_where(order_by="id")]
