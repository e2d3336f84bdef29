"""A year in review: "2024 in review", the year's best photos, spread so that no one trip or day fills it.

From 1 January the year that just ended is proposed (key ``year:2024``) and stays proposed all year, so
an approval can come any time; the next January proposes the next year and last year's suggestion,
proposed by no rule any more, drops out like every stale suggestion (unless the household edited it).
A year needs photos in ``MIN_MONTHS`` months and ``MIN_MOMENTS_PER_PICK`` distinct moments per pick
(80 for 40 picks), or it would be a second trip memory, not a review.

Only photos dated at least to the day count, never one dated by its file's mtime alone; a night belongs
to the evening before (the New Year's Eve party stays in its year). A clock that reads a date before
nearly all of the library is wrong, and the library's date stands in for it (``_clock_floor``). The household's say is already kept:
hidden people and excluded periods and places left the library before any rule ran (memories.household).

The picks come from curation's own scores and near-duplicate collapse over the whole year, and from its
review mode (curate.review_picks): every named person and every trip, day out, gathering, holiday,
birthday and occasion of the year on at least one pick, no trip above ``TRIP_SHARE`` of the picks, no
other event and no day above a day's share, no month above its even share plus one, then the best.
Only the rules know which photo is on which trip, so this module chooses the picks and proposes them
as the memory's members; the writer's curation (``spread="review"``) keeps them as they are. A photo
the household takes out of the review is therefore not replaced by another.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date
from typing import Any

import numpy as np

from homeroll.daemon.memories.curate import (
    Curation,
    collapse,
    curate,
    item_scores,
    month_numbers,
    review_picks,
    review_shares,
)
from homeroll.daemon.memories.library import PRECISION_DAY, Library
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.titles import number, plural

__all__ = ["find_year_in_review"]

MIN_MONTHS = 3
MIN_MOMENTS_PER_PICK = 2
#: One trip gives at most this share of the picks (6 of 40): a fortnight away is not the whole year.
TRIP_SHARE = 0.15
#: Photos dated after today beyond this share mean today's clock is wrong, not the cameras' (_clock_floor).
FUTURE_SHARE = 0.01

#: The memories whose photos count as one event; their order says which one a photo in two of them is in.
EVENT_KINDS = ("trip", "occasion", "birthday", "holiday", "gathering", "day_out")
_WORDS = {"trip": ("trip", "trips"), "day_out": ("day out", "days out"), "gathering": ("gathering", "gatherings"),
          "holiday": ("holiday", "holidays"), "birthday": ("birthday", "birthdays"),
          "occasion": ("occasion", "occasions")}


def find_year_in_review(lib: Library, candidates: list[Candidate], today: date,
                        settings: dict[str, Any]) -> list[Candidate]:
    """The review of the year before ``today``'s, or nothing; ``candidates`` hold rows of ``lib``."""
    year = max(today, _clock_floor(lib)).year - 1
    picks = int(settings["year_in_review_picks"])
    rows = _year_rows(lib, year)
    if len(rows) == 0:
        return []
    scores = item_scores(lib, rows)
    best = collapse(lib, rows, scores, float(settings["burst_seconds"]), int(settings["burst_hamming"]))
    moments = rows[best]
    months = len(np.unique(month_numbers(lib.outing_day[moments])))
    if months < MIN_MONTHS or len(moments) < MIN_MOMENTS_PER_PICK * picks:
        return []
    events = [c for kind in EVENT_KINDS for c in candidates if c.kind == kind]
    event_of = _event_of(events, len(lib))
    _, day_share = review_shares(picks, 12)
    caps = np.array([max(2, math.ceil(TRIP_SHARE * picks)) if e.kind == "trip" else day_share for e in events],
                    dtype=np.int64)
    chosen = review_picks(lib, moments, scores[best], picks, event_of[moments], caps)
    # what the writer will store: its curation of these rows (the same rows, distinct moments already)
    curation = curate(lib, np.sort(moments[chosen]), {**settings, "max_picks": picks}, spread="review")
    if curation is None:
        return []
    reason, people = _explain(lib, year, len(rows), curation, event_of, events)
    shown_months = len(np.unique(month_numbers(lib.outing_day[curation.picks])))
    score = min(1.0, 0.6 + 0.03 * shown_months)
    return [Candidate("year_review", f"year:{year}", f"{year} in review", date(year, 1, 1), date(year, 12, 31),
                      np.asarray(curation.picks, dtype=np.int64), score, reason, people=people, spread="review",
                      match_by_overlap=False, max_picks=picks)]


def _dated(lib: Library) -> np.ndarray:
    return (lib.precision <= PRECISION_DAY) & ~lib.mtime_only


def _clock_floor(lib: Library) -> date:
    """The day by which all but ``FUTURE_SHARE`` of the dated photos were taken: the earliest today can be.

    A clock before it is wrong (a Pi booted without its real-time clock reads 1970), and a review for
    1969 would drop last year's suggestion; the share keeps one camera with a clock in 2031 from
    moving the year on.
    """
    days = lib.outing_day[_dated(lib)]
    if len(days) == 0:
        return date.min
    return date.fromordinal(int(np.quantile(days, 1 - FUTURE_SHARE, method="lower")))


def _year_rows(lib: Library, year: int) -> np.ndarray:
    """Rows of the year dated at least to the day by more than a file's mtime, ascending time."""
    first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
    return np.flatnonzero(_dated(lib) & (lib.outing_day >= first) & (lib.outing_day <= last))


def _event_of(events: list[Candidate], size: int) -> np.ndarray:
    """Per library row, the index of the first event (in EVENT_KINDS order) it belongs to, else -1."""
    event_of = np.full(size, -1, dtype=np.int64)
    for i in range(len(events) - 1, -1, -1):  # backwards, so the first event writes last and wins
        event_of[events[i].rows] = i
    return event_of


def _explain(lib: Library, year: int, photos: int, curation: Curation, event_of: np.ndarray,
             events: list[Candidate]) -> tuple[str, list[str]]:
    """("2024 in review: 40 of 3,120 photos from 11 months; 3 trips (Lisbon & Sintra, …); Anna in 14", names)."""
    picks = np.asarray(curation.picks, dtype=np.int64)
    months = len(np.unique(month_numbers(lib.outing_day[picks])))
    parts = [f"{year} in review: {number(len(picks))} of {plural(photos, 'photo')} from {plural(months, 'month')}"]
    shown = sorted({int(e) for e in event_of[picks] if e >= 0}, key=lambda e: (events[e].start, e))
    by_kind: dict[str, list[Candidate]] = {}
    for e in shown:
        by_kind.setdefault(events[e].kind, []).append(events[e])
    said = []
    for kind in EVENT_KINDS:
        found = by_kind.get(kind, [])
        if found:
            one, many = _WORDS[kind]
            said.append(f"{len(found)} {one if len(found) == 1 else many}")
            if kind == "trip":  # "Lisbon & Sintra, Aug 2024" -> "Lisbon & Sintra": the year is the review's
                said[-1] += f" ({', '.join(c.title.rsplit(', ', 1)[0] for c in found)})"
    if said:
        parts.append(", ".join(said))
    faces = Counter(p for r in picks.tolist() for p in set(lib.row_people.get(r, ())) if lib.named(p))
    ranked = sorted(faces.items(), key=lambda kv: (-kv[1], lib.named(kv[0]) or ""))
    if ranked:
        parts.append(", ".join(f"{lib.named(pid)} in {n}" for pid, n in ranked))
    return "; ".join(parts), [lib.named(pid) or "" for pid, _ in ranked]
