"""Trips and days out: consecutive days away from home.

A day is *away* when one of its GPS photos is more than ``trip_min_km`` from that day's home (days
are local days where the photo was taken; a night counts to the evening before, so a party abroad
that ends at 1 am is one day). Away days separated by at most ``trip_max_gap_days`` days without
evidence (no photos, or none with GPS) form one run; a day with GPS photos only at home ends it.
A run over two or more days is a trip; a single day away is a "day out". Photos without GPS belong to
the run when they fall between the last photo at home before it and the first photo at home after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from homeroll.daemon.memories.library import Library, moments, ordinal_to_date
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.titles import PlaceNamer, day_span, join_names, month_span, number, plural


@dataclass
class Run:
    first_day: int
    last_day: int


def _runs(away_days: np.ndarray, home_days: set[int], max_gap: int) -> Iterator[Run]:
    run: Run | None = None
    for d in away_days.tolist():
        if run is not None:
            gap = d - run.last_day - 1
            if gap <= max_gap and not any(h in home_days for h in range(run.last_day + 1, d)):
                run.last_day = d
                continue
            yield run
        run = Run(d, d)
    if run is not None:
        yield run


def find_trips(lib: Library, dist: np.ndarray, namer: PlaceNamer, home_cc_for: Callable[[int], str | None],
               settings: dict[str, Any]) -> tuple[list[Candidate], list[Candidate]]:
    """(trips, days out). ``home_cc_for(ordinal)`` gives the home country code of a day."""
    min_km = float(settings["trip_min_km"])
    max_gap = int(settings["trip_max_gap_days"])
    burst = float(settings["burst_seconds"])
    gps = ~np.isnan(dist)
    away = gps & (dist > min_km)
    at_home = gps & (dist <= min_km)
    away_days = np.unique(lib.outing_day[away])
    home_only_days = set(np.unique(lib.outing_day[at_home]).tolist()) - set(away_days.tolist())
    home_times = lib.t[at_home]
    no_gps = ~gps

    trips: list[Candidate] = []
    outs: list[Candidate] = []
    for run in _runs(away_days, home_only_days, max_gap):
        in_span = (lib.outing_day >= run.first_day) & (lib.outing_day <= run.last_day)
        away_rows = np.flatnonzero(in_span & away)
        t0, t1 = lib.t[away_rows[0]], lib.t[away_rows[-1]]
        i = np.searchsorted(home_times, t0)
        left = home_times[i - 1] if i > 0 else -np.inf
        j = np.searchsorted(home_times, t1, side="right")
        right = home_times[j] if j < len(home_times) else np.inf
        loose = np.flatnonzero(in_span & no_gps & (lib.t > left) & (lib.t < right))
        rows = np.union1d(away_rows, loose)
        start, end = ordinal_to_date(lib.day[rows].min()), ordinal_to_date(lib.day[rows].max())
        is_trip = run.last_day > run.first_day
        minimum = int(settings["trip_min_photos"] if is_trip else settings["day_out_min_photos"])
        count = moments(lib, rows, burst)
        if count < minimum:
            continue
        home_cc = home_cc_for(run.first_day)
        place_title, place_field, names = namer.describe(away_rows, home_cc)
        lo_km, hi_km = float(np.nanmin(dist[away_rows])), float(np.nanmax(dist[away_rows]))
        n_days = run.last_day - run.first_day + 1
        km = f"{number(lo_km)}–{number(hi_km)} km" if hi_km - lo_km >= 10 else f"{number(hi_km)} km"
        where = f" in {join_names(names, 'and')}" if names else ""
        no_gps_note = f" ({number(len(loose))} without GPS)" if len(loose) else ""
        if is_trip:
            title = f"{place_title or 'Trip'}, {month_span(start, end)}"
            reason = (f"trip: {plural(n_days, 'day')} away ({day_span(start, end)}), {km} from home, "
                      f"{plural(len(rows), 'photo')}{where}{no_gps_note}")
            score = min(1.0, 0.55 + 0.05 * min(n_days, 5) + 0.2 * min(1.0, count / 150))
            trips.append(Candidate("trip", f"trip:{start.isoformat()}", title, start, end, rows, score, reason,
                                   place=place_field))
        else:
            title = f"Day out{' in ' + place_title if place_title else ''}, {day_span(start, start)}"
            reason = (f"day out: one day away ({day_span(start, end)}), {km} from home, "
                      f"{plural(len(rows), 'photo')}{where}{no_gps_note}")
            score = min(1.0, 0.35 + 0.3 * min(1.0, count / 60))
            outs.append(Candidate("day_out", f"day_out:{start.isoformat()}", title, start, end, rows, score,
                                  reason, place=place_field))
    return trips, outs
