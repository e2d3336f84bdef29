"""The family's own occasions (schema step m005): days the household names before any photo is taken.

A graduation, a wedding, the first day of school: one-off or yearly, typed in (``homeroll occasions add``,
the TUI) or read from a calendar file (``memories.ics``). They are the household's decisions like a hidden
person, so each row keeps who added it and when (the Unix user, as ``store.decisions`` records it), and
they live in the DB that backups copy.

An imported event keeps its calendar UID, and a re-import updates the row with that UID instead of adding
a second one: exporting the calendar again every month must not double every anniversary. People are kept
by name (the names ``homeroll people`` shows), checked when the occasion is written.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.errors import UserError
from homeroll.daemon.store import decisions as store_decisions
from homeroll.daemon.store import items as store_items

__all__ = ["MAX_DAYS", "add_occasion", "check_people", "get_occasion", "list_occasions", "memories_of",
           "remove_occasion", "upsert_occasion"]

#: An occasion is a day or a few (a wedding weekend, a week of moving); a month is a period, not an occasion.
MAX_DAYS = 31
#: What a re-import compares: the rest (who, when, the file's name) is bookkeeping, not a change.
_CONTENT = ("title", "date", "days", "yearly", "people")
_COLUMNS = ("id", "uid", "title", "date", "days", "yearly", "people", "source", "created_at", "created_by",
            "updated_at")


def _public(row: tuple) -> dict[str, Any]:
    occasion = dict(zip(_COLUMNS, row, strict=True))
    occasion["yearly"] = bool(occasion["yearly"])
    occasion["people"] = json.loads(occasion["people"] or "[]")
    return occasion


def list_occasions(db: Database) -> list[dict[str, Any]]:
    """Every occasion, oldest id first; ``people`` is a list of names and ``yearly`` a bool."""
    cols = ", ".join(_COLUMNS)
    return [_public(r) for r in db.execute(f"SELECT {cols} FROM occasions ORDER BY id").fetchall()]


def get_occasion(db: Database, occasion_id: int) -> dict[str, Any] | None:
    cols = ", ".join(_COLUMNS)
    row = db.execute(f"SELECT {cols} FROM occasions WHERE id = ?", [occasion_id]).fetchone()
    return _public(row) if row else None


def check_people(db: Database, names: list[str]) -> list[str]:
    """The names as ``homeroll people`` spells them (matched without regard to case); an unknown one is a UserError."""
    named = {name.casefold(): name for (name,) in db.execute("SELECT name FROM people WHERE name IS NOT NULL")}
    out: list[str] = []
    for name in names:
        found = named.get(name.strip().casefold())
        if found is None:
            raise UserError(f"no person named {name.strip()!r} (see `homeroll people`)")
        if found not in out:
            out.append(found)
    return out


def _fields(db: Database, title: str, day: date | str, days: int, yearly: bool,
            people: list[str] | None) -> dict[str, Any]:
    """The content columns, checked: one line for each thing a user can get wrong."""
    title = (title or "").strip()
    if not title:
        raise UserError("an occasion needs a title, e.g. \"Lea's graduation\"")
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day.strip())
        except ValueError:
            raise UserError(f"{day!r} is not a date: use YYYY-MM-DD, e.g. 2025-06-28") from None
    if not 1 <= int(days) <= MAX_DAYS:
        raise UserError(f"an occasion lasts 1 to {MAX_DAYS} days, not {days}")
    return {"title": title, "date": day.isoformat(), "days": int(days), "yearly": int(bool(yearly)),
            "people": json.dumps(check_people(db, people or []), ensure_ascii=False)}


def add_occasion(db: Database, title: str, day: date | str, *, days: int = 1, yearly: bool = False,
                 people: list[str] | None = None, source: str = "cli") -> int:
    """A new occasion typed in by the household; returns its id. The same title on the same day twice is
    refused: a script run twice must not make two memories of one graduation."""
    fields = _fields(db, title, day, days, yearly, people)
    with db.atomic():
        twin = db.execute("SELECT id FROM occasions WHERE title = ? AND date = ?",
                          [fields["title"], fields["date"]]).fetchone()
        if twin is not None:
            raise UserError(f"occasion {twin[0]} is already {fields['title']!r} on {fields['date']} "
                            f"(see `homeroll occasions`)")
        return db.execute(
            "INSERT INTO occasions (uid, title, date, days, yearly, people, source, created_at, created_by) "
            "VALUES (NULL, :title, :date, :days, :yearly, :people, :source, :at, :by)",
            {**fields, "source": source, "at": store_items.now_iso(), "by": store_decisions.actor()}).lastrowid


def upsert_occasion(db: Database, uid: str, title: str, day: date | str, *, days: int = 1, yearly: bool = False,
                    people: list[str] | None = None, source: str) -> tuple[int, str]:
    """An imported event by its UID: (id, "added" | "updated" | "unchanged").

    An occasion typed in by hand with the same title and date takes the UID (it is the same day, and two
    rows would make two memories of it).

    ``updated_at`` and ``source`` move only when the content did, so "unchanged" is also true of the row.
    """
    if not uid:
        raise ValueError("an imported occasion needs its UID")
    fields = _fields(db, title, day, days, yearly, people)
    with db.atomic():
        cols = ", ".join(_CONTENT)
        row = db.execute(f"SELECT id, {cols} FROM occasions WHERE uid = ?", [uid]).fetchone()
        if row is None:
            # the one typed in by hand before the calendar came: the same occasion, not a second memory
            row = db.execute(f"SELECT id, {cols} FROM occasions WHERE uid IS NULL AND title = ? AND date = ?",
                             [fields["title"], fields["date"]]).fetchone()
            if row is not None:
                db.execute("UPDATE occasions SET uid = ? WHERE id = ?", [uid, row[0]])
        if row is None:
            new_id = db.execute(
                "INSERT INTO occasions (uid, title, date, days, yearly, people, source, created_at, created_by) "
                "VALUES (:uid, :title, :date, :days, :yearly, :people, :source, :at, :by)",
                {**fields, "uid": uid, "source": source, "at": store_items.now_iso(),
                 "by": store_decisions.actor()}).lastrowid
            return new_id, "added"
        occasion_id, old = row[0], dict(zip(_CONTENT, row[1:], strict=True))
        if old == fields:
            return occasion_id, "unchanged"
        db.execute("UPDATE occasions SET title = :title, date = :date, days = :days, yearly = :yearly, "
                   "people = :people, source = :source, updated_at = :at WHERE id = :id",
                   {**fields, "source": source, "at": store_items.now_iso(), "id": occasion_id})
        return occasion_id, "updated"


def remove_occasion(db: Database, occasion_id: int) -> dict[str, Any]:
    """Delete one occasion and return it. Its approved or exported memories stay (selection never drops
    those); a suggestion made of it goes at the next selection."""
    with db.atomic():
        occasion = get_occasion(db, occasion_id)
        if occasion is None:
            raise UserError(f"no occasion with id {occasion_id} (see `homeroll occasions`)")
        db.execute("DELETE FROM occasions WHERE id = ?", [occasion_id])
    return occasion


def memories_of(db: Database) -> dict[int, list[dict[str, Any]]]:
    """occasion id -> its memories ({id, title, status, start}), by the key selection gives them
    (``occasion:<id>:<year>``, family_occasions)."""
    rows = db.execute(
        "SELECT id, stable_key, COALESCE(user_title, title), status, start FROM memories "
        "WHERE kind = 'occasion' AND stable_key LIKE 'occasion:%' ORDER BY start, id").fetchall()
    out: dict[int, list[dict[str, Any]]] = {}
    for memory_id, key, title, status, start in rows:
        parts = key.split("#")[0].split(":")
        if len(parts) >= 2 and parts[1].isdigit():
            out.setdefault(int(parts[1]), []).append(
                {"id": memory_id, "title": title, "status": status, "start": (start or "")[:10]})
    return out
