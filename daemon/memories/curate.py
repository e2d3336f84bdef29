"""Curation: the handful of best photos of a memory, without doubles, spread over its days, places and people.

1. Score every member: indexing's quality (sharpness as variance of the Laplacian, exposure) plus
   faces (any, their size) and named people on it.
2. Near-duplicates and bursts collapse to their best frame: consecutive photos within
   ``burst_seconds`` whose perceptual hashes differ by at most ``burst_hamming`` bits (or have no hash).
3. Pick ``clamp(2.5 * sqrt(moments), min_picks, max_picks)`` greedily by score, with a penalty for
   each pick already taken from the same day and place (or year) and of the same person.
A memory with fewer distinct moments than ``min_picks`` is not proposed. The cover is the best pick
with a face when there is one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from homeroll.daemon.memories.library import Library

SAME_BUCKET_PENALTY = 0.3
SAME_PERSON_PENALTY = 0.1


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


def curate(lib: Library, rows: np.ndarray, settings: dict[str, Any], *, spread: str = "day",
           removed_rows: set[int] | None = None) -> Curation | None:
    if removed_rows:
        rows = rows[~np.isin(rows, list(removed_rows))]
    rows = rows[np.argsort(lib.t[rows], kind="stable")]
    scores = item_scores(lib, rows)
    reps = collapse(lib, rows, scores, float(settings["burst_seconds"]), int(settings["burst_hamming"]))
    min_picks, max_picks = int(settings["min_picks"]), int(settings["max_picks"])
    if len(reps) < min_picks:
        return None
    k = pick_count(len(reps), min_picks, max_picks)
    candidates = rows[reps]
    cand_scores = scores[reps]
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
    chosen.sort(key=lambda i: lib.t[candidates[i]])
    picks = [int(candidates[i]) for i in chosen]
    with_face = [i for i in chosen if lib.faces[candidates[i]] > 0]
    cover_i = max(with_face or chosen, key=lambda i: cand_scores[i])
    return Curation(picks=picks, cover=int(candidates[cover_i]), moments=len(reps))
