"""Gatherings: an unusually dense burst of photos in a few hours, at or near home.

Photos at home (GPS within ``trip_min_km`` of home, or no GPS, and not part of a trip or day out)
form sessions: a gap longer than ``gathering_gap_minutes`` starts a new one. A session's size is
counted in *moments* (a burst of frames counts once). The library's usual session is the 75th
percentile of session sizes; a gathering needs at least ``gathering_min_photos`` moments and
``gathering_rate_factor`` times the usual session. At most ``gathering_max_per_year`` per year are
kept, the most significant first, so a library gets tens of gatherings a year, not hundreds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from homeroll.daemon.memories.library import Library, ordinal_to_date, sessions
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.titles import day_span, join_names, plural


def _duration(seconds: float) -> str:
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d} min" if rest else f"{hours} h"


def find_gatherings(lib: Library, dist: np.ndarray, taken: np.ndarray, settings: dict[str, Any]) -> list[Candidate]:
    min_km = float(settings["trip_min_km"])
    gap = float(settings["gathering_gap_minutes"]) * 60
    burst = float(settings["burst_seconds"])
    near_home = np.isnan(dist) | (dist <= min_km)
    eligible = np.flatnonzero(near_home & ~taken)
    if len(eligible) == 0:
        return []
    times = lib.t[eligible]
    session = sessions(times, gap)
    new_moment = np.concatenate(([True], np.diff(times) > burst))
    new_moment |= np.concatenate(([True], np.diff(session) != 0))
    sizes = np.bincount(session, weights=new_moment.astype(np.float64)).astype(np.int64)
    usual = max(3.0, float(np.percentile(sizes, 75)))
    threshold = max(float(settings["gathering_min_photos"]), float(settings["gathering_rate_factor"]) * usual)
    bounds = np.searchsorted(session, np.arange(len(sizes) + 1))

    found: list[Candidate] = []
    for s in np.flatnonzero(sizes >= threshold):
        rows = eligible[bounds[s]:bounds[s + 1]]
        people_ids = {p for r in rows.tolist() for p in lib.row_people.get(r, ())}
        names = sorted({lib.named(p) for p in people_ids} - {None})
        ratio = sizes[s] / usual
        score = 0.35 + 0.35 * min(1.0, (sizes[s] - threshold) / (2 * threshold) + 0.3)
        if len(people_ids) >= 2:
            score += 0.15
        score = min(1.0, score)
        start = ordinal_to_date(lib.outing_day[rows[0]])
        end = ordinal_to_date(lib.day[rows[-1]])
        title = f"Get-together, {day_span(start, start)}"
        who = f", {plural(len(people_ids), 'person')}" if people_ids else ""
        if len(people_ids) != 1 and people_ids:
            who = f", {len(people_ids)} people"
        reason = (f"gathering: {plural(int(sizes[s]), 'photo')} in {_duration(lib.t[rows[-1]] - lib.t[rows[0]])} "
                  f"at home on {day_span(start, start)} ({ratio:.0f}x the usual {usual:.0f}-photo session, "
                  f"threshold {threshold:.0f}){who}")
        if names:
            reason += f" with {join_names(names[:4], 'and')}"
        found.append(Candidate("gathering", f"gathering:{start.isoformat()}", title, start, end, rows, score,
                               reason, place="home", people=names))
    # the most significant per year, no more than the cap
    cap = int(settings["gathering_max_per_year"])
    kept: list[Candidate] = []
    for year in sorted({c.start.year for c in found}):
        of_year = sorted((c for c in found if c.start.year == year), key=lambda c: (-c.score, -len(c.rows)))
        kept.extend(of_year[:cap])
    return sorted(kept, key=lambda c: c.start)
