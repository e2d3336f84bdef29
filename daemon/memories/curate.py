"""Curation: the handful of best photos of a memory, without doubles, spread over its days, places and people.

1. Score every member: indexing's quality (sharpness as variance of the Laplacian, exposure) plus
   faces (any, their size) and named people on it.
2. Near-duplicates and bursts collapse to their best frame: consecutive photos within
   ``burst_seconds`` whose perceptual hashes differ by at most ``burst_hamming`` bits (or have no hash).
3. Pick ``clamp(2.5 * sqrt(moments), min_picks, max_picks)`` greedily by score, with a penalty for
   each pick already taken from the same day and place (or year) and of the same person.
A memory with fewer distinct moments than ``min_picks`` is not proposed. The cover is the best pick
with a face when there is one.

A year in review (``spread="review"``, ``review_picks``) shows a whole year, where one great holiday
could fill every pick: it takes up to ``max_picks`` (no square-root curve, a year has moments enough),
no month more than its even share plus one and no day more than ``REVIEW_DAY_SHARE`` of the picks
(``review_shares``), each named person's best photo first, then the best of the rest with a penalty
for each pick already from that month. Which photo is on which trip or at which gathering only the
rules know: memories.year_review passes them as groups (each shown once, none above its cap) and
proposes the picks themselves, which this mode then keeps as they are.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from homeroll.daemon.memories.library import Library

SAME_BUCKET_PENALTY = 0.3
SAME_PERSON_PENALTY = 0.1
#: A year in review: one day gives at most this share of the picks (at least 2), and each pick already
#: from a month costs the next one from it this much (scores are 0..~1.3).
REVIEW_DAY_SHARE = 0.075
REVIEW_MONTH_PENALTY = 0.15


@dataclass
class Curation:
    picks: list[int]    # rows, chronological
    cover: int          # row
    moments: int        # distinct moments after collapsing near-duplicates


def item_scores(lib: Library, rows: np.ndarray) -> np.ndarray:
    scores = lib.quality[rows].astype(np.float64)
    scores += 0.12 * (lib.faces[rows] > 0)
    scores += 0.10 * np.minimum(1.0, lib.face_size[rows] * 4)
    if lib.named_count is not None:
        scores += 0.08 * np.minimum(lib.named_count[rows], 2)
    return scores


def collapse(lib: Library, rows: np.ndarray, scores: np.ndarray, burst_seconds: float,
             burst_hamming: int) -> np.ndarray:
    """Indices (into rows) of the best frame of every group of near-duplicates."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.int64)
    times = lib.t[rows].tolist()
    hashes = [int(h) for h in lib.phash[rows]]
    best: list[int] = []        # per group: index of its best frame
    first_hash: list[int] = []  # per group: the hash of its first frame
    last_time: list[float] = []
    open_groups: list[int] = []  # groups whose last frame is within burst_seconds
    for i, t in enumerate(times):
        open_groups = [g for g in open_groups if t - last_time[g] <= burst_seconds]
        h = hashes[i]
        joined = None
        # another phone's photo may fall between two frames of a burst: look at every open group
        for g in reversed(open_groups):
            g_hash = first_hash[g]
            if (h and g_hash and (h ^ g_hash).bit_count() <= burst_hamming) or (
                    (not h or not g_hash) and g == open_groups[-1]):
                joined = g
                break
        if joined is None:
            joined = len(best)
            best.append(i)
            first_hash.append(h)
            last_time.append(t)
            open_groups.append(joined)
            continue
        last_time[joined] = t
        if scores[i] > scores[best[joined]]:
            best[joined] = i
    return np.asarray(best, dtype=np.int64)


def pick_count(moments: int, min_picks: int, max_picks: int) -> int:
    return min(moments, max_picks, max(min_picks, round(2.5 * math.sqrt(moments))))


def review_shares(picks: int, months: int) -> tuple[int, int]:
    """(most picks from one month, most from one day) of a year in review of ``picks`` over ``months`` months."""
    return math.ceil(picks / max(1, months)) + 1, max(2, math.ceil(REVIEW_DAY_SHARE * picks))


def month_numbers(days: np.ndarray) -> np.ndarray:
    """year * 12 + month - 1 of each day ordinal: one number per calendar month."""
    dates = [date.fromordinal(int(d)) for d in days.tolist()]
    return np.array([d.year * 12 + d.month - 1 for d in dates], dtype=np.int64)


def curate(lib: Library, rows: np.ndarray, settings: dict[str, Any], *, spread: str = "day",
           removed_rows: set[int] | None = None) -> Curation | None:
    """``spread``: "day" (days and places), "year" (years, for people and on this day) or "review" (a year)."""
    if removed_rows:
        rows = rows[~np.isin(rows, list(removed_rows))]
    rows = rows[np.argsort(lib.t[rows], kind="stable")]
    scores = item_scores(lib, rows)
    reps = collapse(lib, rows, scores, float(settings["burst_seconds"]), int(settings["burst_hamming"]))
    min_picks, max_picks = int(settings["min_picks"]), int(settings["max_picks"])
    if len(reps) < min_picks:
        return None
    candidates = rows[reps]
    cand_scores = scores[reps]
    if spread == "review":
        # the shares of the review's size, not of what is left: a photo the household took out must
        # not lower a month's or a day's share and take another pick with it
        chosen = review_picks(lib, candidates, cand_scores, min(len(reps), max_picks), share_of=max_picks)
    else:
        chosen = _spread_picks(lib, candidates, cand_scores, pick_count(len(reps), min_picks, max_picks), spread)
    chosen.sort(key=lambda i: lib.t[candidates[i]])
    picks = [int(candidates[i]) for i in chosen]
    with_face = [i for i in chosen if lib.faces[candidates[i]] > 0]
    cover_i = max(with_face or chosen, key=lambda i: cand_scores[i])
    return Curation(picks=picks, cover=int(candidates[cover_i]), moments=len(reps))


def _spread_picks(lib: Library, candidates: np.ndarray, cand_scores: np.ndarray, k: int, spread: str) -> list[int]:
    """k indices into candidates, greedily by score, less of a day and place (or year) and person already picked."""
    if spread == "year":
        bucket_key = np.array([d // 365 for d in lib.day[candidates].tolist()], dtype=np.int64)
    else:
        bucket_key = lib.day[candidates].astype(np.int64) * 10_000_000 + (lib.place[candidates] % 10_000_000)
    _, bucket = np.unique(bucket_key, return_inverse=True)
    main_person = np.array([(lib.row_people.get(int(r)) or (-1,))[0] for r in candidates], dtype=np.int64)
    _, person = np.unique(main_person, return_inverse=True)
    has_person = main_person >= 0
    bucket_used = np.zeros(bucket.max() + 1)
    person_used = np.zeros(person.max() + 1)
    available = np.ones(len(candidates), dtype=bool)
    chosen: list[int] = []
    for _ in range(k):
        value = (cand_scores - SAME_BUCKET_PENALTY * bucket_used[bucket]
                 - SAME_PERSON_PENALTY * np.where(has_person, person_used[person], 0.0))
        value[~available] = -np.inf
        i = int(np.argmax(value))
        chosen.append(i)
        available[i] = False
        bucket_used[bucket[i]] += 1
        if has_person[i]:
            person_used[person[i]] += 1
    return chosen


class _ReviewShares:
    """What a year in review has picked so far per month, day, group and named person, and what still fits."""

    def __init__(self, lib: Library, candidates: np.ndarray, share_of: int, group: np.ndarray | None,
                 group_caps: np.ndarray | None) -> None:
        self.named = [tuple(p for p in lib.row_people.get(int(r), ()) if lib.named(p)) for r in candidates]
        _, self.month = np.unique(month_numbers(lib.outing_day[candidates]), return_inverse=True)
        _, self.day = np.unique(lib.outing_day[candidates], return_inverse=True)
        self.month_cap, self.day_cap = review_shares(share_of, int(self.month.max()) + 1)
        self.month_used = np.zeros(self.month.max() + 1)
        self.day_used = np.zeros(self.day.max() + 1)
        self.group = np.full(len(candidates), -1, dtype=np.int64) if group is None else group
        self.group_caps = np.zeros(0, dtype=np.int64) if group_caps is None else group_caps
        self.group_used = np.zeros(len(self.group_caps))
        self.person_rows: dict[int, list[int]] = {}
        for i, names in enumerate(self.named):
            for pid in names:
                self.person_rows.setdefault(pid, []).append(i)
        self.person_used: Counter[int] = Counter()
        self.crowd = np.zeros(len(candidates))  # per candidate: picks already of the person on it most picked
        self.available = np.ones(len(candidates), dtype=bool)

    def fits(self) -> np.ndarray:
        ok = self.available & (self.month_used[self.month] < self.month_cap) & (self.day_used[self.day] < self.day_cap)
        grouped = self.group >= 0
        ok[grouped] &= self.group_used[self.group[grouped]] < self.group_caps[self.group[grouped]]
        return ok

    def take(self, i: int) -> None:
        self.available[i] = False
        self.month_used[self.month[i]] += 1
        self.day_used[self.day[i]] += 1
        if self.group[i] >= 0:
            self.group_used[self.group[i]] += 1
        for pid in self.named[i]:
            self.person_used[pid] += 1
            theirs = self.person_rows[pid]
            self.crowd[theirs] = np.maximum(self.crowd[theirs], self.person_used[pid])

    def to_show(self) -> list[np.ndarray]:
        """Indices of each named person's photos (the most photographed first, so a rarely photographed
        person still finds a month with room), then of each group's (the largest first)."""
        people = [np.asarray(rows, dtype=np.int64)
                  for _, rows in sorted(self.person_rows.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
        sizes = Counter(int(g) for g in self.group.tolist() if g >= 0)
        groups = [np.flatnonzero(self.group == g) for g, _ in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))]
        return people + groups


def review_picks(lib: Library, candidates: np.ndarray, cand_scores: np.ndarray, k: int,
                 group: np.ndarray | None = None, group_caps: np.ndarray | None = None, *,
                 share_of: int | None = None) -> list[int]:
    """Up to k indices into candidates: each named person and each group once, then the best within the shares.

    ``group``: per candidate the index of its group (a trip, a gathering) or -1; ``group_caps``: per group
    the most picks it may give; ``share_of``: the review size the month and day shares are of (k's own by
    default). Fewer than k when the shares are full: rather that than one month too many.
    """
    shares = _ReviewShares(lib, candidates, k if share_of is None else share_of, group, group_caps)
    chosen: list[int] = []
    for members in shares.to_show():
        if len(chosen) >= k:
            break
        if shares.available[members].all():  # not on a pick yet
            fit = members[shares.fits()[members]]
            if len(fit):
                i = int(fit[np.argmax(cand_scores[fit])])
                chosen.append(i)
                shares.take(i)
    while len(chosen) < k:
        fits = shares.fits()
        if not fits.any():
            break
        value = (cand_scores - REVIEW_MONTH_PENALTY * shares.month_used[shares.month]
                 - SAME_PERSON_PENALTY * shares.crowd)
        value[~fits] = -np.inf
        i = int(np.argmax(value))
        chosen.append(i)
        shares.take(i)
    return chosen
