"""The family's own occasions as memories: "Lea's graduation, Jun 28, 2025", "Our 10th wedding anniversary".

The household named these days (store.occasions), so the photos on them need no other reason to be a
memory: an occasion's days with at least ``occasion_min_photos`` moments make one, and a gathering or a
holiday on the same day yields to it (select.propose). Days are outing days, as for every day rule: a
photo at 1 am belongs to the evening before, so the party that ran past midnight is still the party, and a
session that goes on past 4 am keeps its late photos (for at most a day after the occasion's last day).

A yearly occasion is one memory per year the library has photos of it, from the year of its first date
on. Its title counts the years since that first date, placed where a person would put the number:

- a title with "anniversary" gets the ordinal before the words that lead to it, after a possessive or
  article at its start: "Our wedding anniversary" -> "Our 10th wedding anniversary", "Lea & Ben's
  anniversary" -> "Lea & Ben's 10th anniversary", "Wedding anniversary" -> "10th wedding anniversary";
- any other title says which anniversary it is: "Moving day" -> "Moving day, 10th anniversary";
- the first date itself (year 0) is the occasion as it happened, without "anniversary" where the words
  before it say what it is: "Our wedding anniversary" -> "Our wedding, Jun 21, 2014" (but "Lea & Ben's
  anniversary, Jun 21, 2014" keeps it: "Lea & Ben's" alone says nothing).

Keys are ``occasion:<id>:<year>``, so editing an occasion's title or people (or re-importing its
calendar) updates the same memory, and removing it lets selection drop its suggestions.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.memories.hidden import selection_text
from homeroll.daemon.memories.library import Library, moments, ordinal_to_date
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.titles import day_span, ordinal, plural
from homeroll.daemon.store import occasions as store_occasions

__all__ = ["add_and_select", "find_occasions", "first_title", "occasion_title", "remove_and_select", "select_after",
           "source_of"]

#: Words that may lead a title before the ordinal goes in: "Our 10th…", "The 10th…", "Lea's 10th…".
_LEADS = {"our", "my", "your", "their", "his", "her", "the"}
_POSSESSIVE = re.compile(r"^\S+(?:['’]s|s['’])$", re.IGNORECASE)


def occasion_title(title: str, years: int) -> str:
    """The title of a yearly occasion ``years`` after its first date (see the module docstring)."""
    words = title.split()
    lower = [w.casefold() for w in words]
    at = next((i for i, w in enumerate(lower) if w.startswith("anniversar")), None)
    if at is None:
        return f"{title}, {ordinal(years)} anniversary"
    lead = 0
    for i in range(at):
        if lower[i] in _LEADS or _POSSESSIVE.match(words[i]):
            lead = i + 1
    rest = words[lead:]
    if lead == 0 and rest[0][:1].isupper() and all(not w[:1].isupper() for w in rest[1:]):
        rest = [rest[0][:1].lower() + rest[0][1:], *rest[1:]]  # sentence case: "10th wedding anniversary"
    return " ".join([*words[:lead], ordinal(years), *rest])


def first_title(title: str) -> str:
    """The title of a yearly occasion on its first date: the day itself, not its anniversary."""
    words = title.split()
    if len(words) >= 2 and words[-1].casefold() == "anniversary":
        before = words[-2]
        if before.casefold() not in _LEADS and not _POSSESSIVE.match(before):
            return " ".join(words[:-1])
    return title


def _in_year(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


class _Days:
    """Rows by outing day, sorted once: each occasion and year is then two binary searches, not a scan."""

    def __init__(self, lib: Library, session_of: np.ndarray) -> None:
        self.order = np.argsort(lib.outing_day, kind="stable")
        self.sorted = lib.outing_day[self.order]
        self.session_of = session_of

    def rows(self, first: date, last: date) -> np.ndarray:
        lo, hi = first.toordinal(), last.toordinal()
        a, b, c = np.searchsorted(self.sorted, [lo, hi + 1, hi + 2])
        rows = np.sort(self.order[a:b])
        if len(rows) and c > b:
            # the party that went on past 4 am: its session's later photos, up to a day after
            later = self.order[b:c]
            later = later[np.isin(self.session_of[later], self.session_of[rows])]
            rows = np.union1d(rows, later)
        return rows


def _people_line(lib: Library, rows: np.ndarray, names: list[str]) -> tuple[list[str], str]:
    """(names for the memory: the occasion's own first, then the others named in its photos; ", Lea in 18")."""
    ids_of: dict[str, list[int]] = {}
    for pid, person in lib.people.items():  # a hidden person is no longer in lib.people (household.leave_out)
        if person.get("name"):
            ids_of.setdefault(person["name"].casefold(), []).append(pid)
    counts = []
    for name in names:
        shown = np.zeros(len(rows), dtype=bool)
        for pid in ids_of.get(name.casefold(), ()):
            shown |= np.isin(rows, lib.person_rows.get(pid, np.zeros(0, dtype=np.int64)))
        if shown.any():
            counts.append((name, int(np.count_nonzero(shown))))
    own = [n for n, _ in counts]
    others = sorted({lib.named(p) for r in rows.tolist() for p in lib.row_people.get(r, ())} - {None, *own})
    return own + others, "".join(f", {n} in {number}" for n, number in counts)


def find_occasions(lib: Library, session_of: np.ndarray, occasions: list[dict[str, Any]],
                   settings: dict[str, Any]) -> list[Candidate]:
    """One candidate per occasion (and per year of a yearly one) whose days hold enough moments."""
    if not occasions or len(lib) == 0:
        return []
    days = _Days(lib, session_of)
    burst, needed = float(settings["burst_seconds"]), int(settings["occasion_min_photos"])
    first_year = ordinal_to_date(int(days.sorted[0])).year
    last_year = ordinal_to_date(int(days.sorted[-1])).year
    found: list[Candidate] = []
    for occasion in occasions:
        first = date.fromisoformat(occasion["date"])
        years = range(max(first.year, first_year), last_year + 1) if occasion["yearly"] else [first.year]
        for year in years:
            start = _in_year(year, first.month, first.day)
            end = start + timedelta(days=int(occasion["days"]) - 1)
            rows = days.rows(start, end)
            count = moments(lib, rows, burst)
            if count < needed:
                continue
            found.append(_candidate(lib, occasion, first, start, end, rows, count))
    return found


def _candidate(lib: Library, occasion: dict[str, Any], first: date, start: date, end: date, rows: np.ndarray,
               count: int) -> Candidate:
    span = day_span(start, end)
    years = start.year - first.year
    if occasion["yearly"] and years > 0:
        title = occasion_title(occasion["title"], years)
        said = f"{occasion['title']}, {span}, {plural(years, 'year')} since {day_span(first, first)}"
    else:
        title = said = f"{first_title(occasion['title']) if occasion['yearly'] else occasion['title']}, {span}"
    names, who = _people_line(lib, rows, list(occasion.get("people") or []))
    reason = f"{said}: {plural(len(rows), 'photo')}{who}"
    score = min(1.0, 0.8 + 0.15 * min(1.0, count / 30))
    members_end = ordinal_to_date(int(lib.day[rows].max()))
    return Candidate("occasion", f"occasion:{occasion['id']}:{start.year}", title, start, max(end, members_end),
                     rows, score, reason, people=names, match_by_overlap=False)


# -- a change, then the selection -------------------------------------------------------------------
def _memories_text(db: Database, occasion_id: int, title: str, min_photos: int) -> str:
    made = store_occasions.memories_of(db).get(occasion_id, [])
    if not made:
        return f"no memory of {title!r} yet: fewer than {min_photos} photos on its days"
    if len(made) == 1:
        return f"{made[0]['title']!r} is memory {made[0]['id']} ({made[0]['status']})"
    shown = ", ".join(repr(m["title"]) for m in made[:2]) + (", …" if len(made) > 2 else "")
    return f"{title!r} is {len(made)} memories ({shown})"


def select_after(db: Database, cfg: Config, today: date | None = None) -> dict[str, Any]:
    """Re-select after an occasion changed: suggestions follow at once (approved and exported memories
    keep their picks, as always). The DB comes first, so the TUI can run it as ``backend.call(...)``."""
    from homeroll.daemon.memories.select import run_selection  # select -> this module: import on use

    return run_selection(cfg, db, today=today)


def add_and_select(db: Database, cfg: Config, title: str, day: date | str, *, days: int = 1, yearly: bool = False,
                   people: list[str] | None = None, source: str = "cli",
                   today: date | None = None) -> dict[str, Any]:
    """Add an occasion, re-select; {occasion, selection (the run's summary), text (one line)}."""
    occasion_id = store_occasions.add_occasion(db, title, day, days=days, yearly=yearly, people=people,
                                               source=source)
    summary = select_after(db, cfg, today)
    occasion = store_occasions.get_occasion(db, occasion_id)
    memories = _memories_text(db, occasion_id, occasion["title"], int(cfg["memories"]["occasion_min_photos"]))
    text = f"added occasion {occasion_id}; selection: {selection_text(summary)}; {memories}"
    return {"occasion": occasion, "selection": summary, "text": text}


def remove_and_select(db: Database, cfg: Config, occasion_id: int, today: date | None = None) -> dict[str, Any]:
    """Remove an occasion, re-select; {occasion (as it was), selection, text}."""
    occasion = store_occasions.remove_occasion(db, occasion_id)
    summary = select_after(db, cfg, today)
    text = f"removed occasion {occasion_id} ({occasion['title']!r}); selection: {selection_text(summary)}"
    return {"occasion": occasion, "selection": summary, "text": text}


def source_of(path: Path | str) -> str:
    """The ``source`` column of an imported occasion: the file's name, not its path (that is the user's)."""
    return f"ics:{Path(path).name}"
