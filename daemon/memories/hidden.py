"""A hidden person's photos and name, kept out of every new memory.

Selection takes the person out of the library before any rule runs (household.leave_out), so no rule
needs a check of its own, and a rule added later cannot forget one:

- ``rows_to_drop``: with ``[memories] hide_mode = "photos"`` (the default) the photos they are on; the
  rest of the day stays, so the party without them is still a memory. With ``"days"`` every photo of
  each day they are on, the outing day as the day rules count it (a night belongs to the evening
  before), for a household that wants no trace of those days. A scan dated only to a month or a year
  has no real day: it goes when it shows them, but never takes a whole "1 January" with it.
- ``without_people``: the library no longer knows them, so no pair, "through the years", birthday or
  "with Anna" in a reason can name them, whatever photos are left.

``set_hidden`` is the one way the CLI and the TUI hide or show someone: the change, then a selection
run, so the suggestions are re-selected without them at once (approved and exported memories are
never re-curated by selection, so they keep their picks).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.memories.library import Library
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import hiding as store_hiding

__all__ = ["rows_to_drop", "selection_text", "set_hidden", "without_people"]


def rows_to_drop(lib: Library, hidden_ids: set[int], mode: str) -> np.ndarray:
    """Bool per row: left out because a hidden person is on it (or, in "days" mode, on its day)."""
    drop = np.zeros(len(lib), dtype=bool)
    for pid in hidden_ids:
        rows = lib.person_rows.get(pid)
        if rows is not None:
            drop[rows] = True
    if mode == "days" and drop.any():
        dated = ~lib.imprecise
        days = np.unique(lib.outing_day[drop & dated])
        drop |= dated & np.isin(lib.outing_day, days)
    return drop


def without_people(lib: Library, hidden_ids: set[int]) -> Library:
    """The same rows, with the hidden people gone from people, person_rows, row_people and named_count.

    A new Library: ``subset`` shares the people dict between libraries, so it is never edited in place.
    """
    gone = set(hidden_ids)
    if not gone:
        return lib
    row_people: dict[int, tuple[int, ...]] = {}
    for row, pids in lib.row_people.items():
        kept = tuple(p for p in pids if p not in gone)
        if kept:
            row_people[row] = kept
    out = dataclasses.replace(
        lib, people={pid: p for pid, p in lib.people.items() if pid not in gone},
        person_rows={pid: rows for pid, rows in lib.person_rows.items() if pid not in gone}, row_people=row_people)
    if lib.named_count is not None:
        out.named_count = np.zeros(len(out), dtype=np.int8)
        for row, pids in row_people.items():
            out.named_count[row] = min(100, sum(1 for p in pids if out.named(p)))
    return out


def selection_text(summary: dict[str, Any]) -> str:
    """What a selection run after a household change did, in a few words: '2 re-selected, 1 dropped, 0 new'."""
    text = f"{summary['updated']} re-selected, {summary['dropped']} dropped, {summary['created']} new"
    if summary.get("offered"):
        text += f", {summary['offered']} photos offered to approved memories"
    return text


def set_hidden(db: Database, cfg: Config, person_id: int, hide: bool, today: date | None = None) -> dict[str, Any]:
    """Hide (or show) a person, then re-select; {changed, selection (the run's summary or None), text}.

    Nothing changed (hidden twice, shown while shown) runs no selection: there is nothing to re-select.
    The DB comes first, so the TUI can run it as ``backend.call(set_hidden, cfg, …)``.
    """
    from homeroll.daemon.memories.select import run_selection  # select -> household -> this module

    changed = store_hiding.hide(db, person_id) if hide else store_hiding.unhide(db, person_id)
    person = store_faces.person(db, person_id) or {}
    who = f"{person['name']} (person {person_id})" if person.get("name") else f"person {person_id}"
    if not changed:
        already = "hidden from memories already" if hide else "not hidden"
        return {"changed": False, "selection": None, "text": f"{who} is {already}: nothing changed"}
    summary = run_selection(cfg, db, today=today)
    done = "hidden from new memories" if hide else "shown in new memories again"
    return {"changed": True, "selection": summary, "text": f"{who} is {done}; selection: {selection_text(summary)}"}
