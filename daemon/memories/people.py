"""People memories, once faces are named: "Anna through the years" and "You and Ben".

- Through the years: a named person photographed in at least ``people_min_years`` different years;
  picks are spread across the years.
- Pairs: two named people on at least ``pair_min_photos`` photos together (the top ``pair_max``
  pairs). When ``me`` names one of them, the title is "You and Ben".
Without named people (no faces, or none named yet) there are no people memories and nothing else changes.
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Any

import numpy as np

from homeroll.daemon.memories.library import Library, ordinal_to_date
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.titles import join_names, plural


def _years(lib: Library, rows: np.ndarray) -> list[int]:
    return sorted({ordinal_to_date(d).year for d in np.unique(lib.day[rows]).tolist()})


def find_people(lib: Library, settings: dict[str, Any]) -> list[Candidate]:
    found: list[Candidate] = []
    named = {pid: lib.named(pid) for pid in lib.person_rows if lib.named(pid)}
    min_years = int(settings["people_min_years"])
    for pid, name in named.items():
        rows = lib.person_rows[pid]
        years = _years(lib, rows)
        if len(years) < min_years or len(rows) < int(settings["min_picks"]):
            continue
        start, end = ordinal_to_date(lib.day[rows].min()), ordinal_to_date(lib.day[rows].max())
        reason = (f"people: {plural(len(rows), 'photo')} of {name} over {len(years)} years "
                  f"({years[0]}–{years[-1]})")
        score = min(1.0, 0.5 + 0.05 * len(years) + 0.2 * min(1.0, len(rows) / 300))
        found.append(Candidate("people", f"person:{pid}", f"{name} through the years", start, end, rows, score,
                               reason, people=[name], spread="year", match_by_overlap=False))

    together: Counter[tuple[int, int]] = Counter()
    for pids in lib.row_people.values():
        present = [p for p in pids if p in named]
        for pair in combinations(sorted(present), 2):
            together[pair] += 1
    me = settings["me"].strip().casefold()
    pairs = [(pair, n) for pair, n in together.most_common() if n >= int(settings["pair_min_photos"])]
    for (a, b), n in pairs[: int(settings["pair_max"])]:
        rows = np.intersect1d(lib.person_rows[a], lib.person_rows[b])
        names = [named[a], named[b]]
        if me and me in (names[0].casefold(), names[1].casefold()):
            other = names[1] if names[0].casefold() == me else names[0]
            title = f"You and {other}"
        else:
            title = join_names(names)
        years = _years(lib, rows)
        start, end = ordinal_to_date(lib.day[rows].min()), ordinal_to_date(lib.day[rows].max())
        reason = (f"people: {plural(n, 'photo')} of {join_names(names, 'and')} together "
                  f"over {plural(len(years), 'year')} ({years[0]}–{years[-1]})")
        score = min(1.0, 0.45 + 0.2 * min(1.0, n / 100) + 0.05 * min(len(years), 4))
        found.append(Candidate("people", f"pair:{a}:{b}", title, start, end, rows, score, reason, people=names,
                               spread="year", match_by_overlap=False))
    return found
