"""A memory as the rules propose it, before it meets the store (identity, the user's edits, curation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np


@dataclass
class Candidate:
    kind: str                 # trip | day_out | gathering | holiday | birthday | occasion | on_this_day
                              # | people | period | year_review
    key: str                  # the natural anchor (e.g. "birthday:3:2024"); spans also match by overlap
    title: str
    start: date
    end: date
    rows: np.ndarray          # library rows of every member, ascending time
    score: float
    reason: str
    place: str | None = None
    people: list[str] = field(default_factory=list)
    spread: str = "day"       # how picks are spread: "day" (days and places) or "year"
    #: span kinds may match an existing memory by shared members when the key moved (photos were added)
    match_by_overlap: bool = True
    #: at most this many picks instead of ``[memories] max_picks`` (a year in review shows more)
    max_picks: int | None = None
