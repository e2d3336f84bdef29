"""STUB (issue 14, part 2): excluded periods and places."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database


def list_exclusions(db: Database) -> list[dict[str, Any]]:
    return [dict(r) for r in db["exclusions"].rows_where(order_by="id")]
