"""Grouping face encodings into people with numpy only: blockwise, O(n) memory, no Python loop over pairs.

Two jobs, both on 128-d dlib encodings compared by Euclidean distance:

* ``assign`` (incremental): a new face joins the person owning the nearest *face* within the threshold
  (every face of the person counts, not a mean, so a person seen as a baby and as an adult still
  matches both), and two faces of one photo never join the same person.
* ``cluster`` (the unassigned pool): a density-peak clustering. Each face counts its neighbours within
  the threshold; faces with at least ``min_size`` (themselves included) are cores; every face points to
  the densest core within reach and the pointers are followed to a root. A group becomes a person only
  if, keeping one face per photo, it still has ``min_size`` faces that are all mutually close.

Squared distances come from a single matrix product on augmented vectors,
``[x, |x|², 1] · [-2y, 1, |y|²] = |x - y|²``, computed a block of rows at a time so 100,000 faces need
tens of megabytes, not 40 GB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Assignment", "assign", "cluster", "distances", "near_any", "neighbour_counts", "pairwise_sq"]

#: Bytes of float32 distance block to compute at once (rows x columns x 4).
BLOCK_BYTES = 48 * 1024 * 1024


def _augment(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.einsum("ij,ij->i", x, x)[:, None]
    ones = np.ones_like(norms)
    return np.hstack([x, norms, ones]), np.ascontiguousarray(np.hstack([-2.0 * x, ones, norms]).T)


def _block_rows(columns: int) -> int:
    return int(max(16, min(4096, BLOCK_BYTES // max(1, 4 * columns))))


def pairwise_sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances between two small sets (for checks on a few dozen faces)."""
    rows, _ = _augment(a)
    _, cols = _augment(b)
    return np.maximum(rows @ cols, 0.0)


def distances(query: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Euclidean distances from one encoding to many."""
    return np.linalg.norm(np.asarray(others, dtype=np.float32) - np.asarray(query, dtype=np.float32), axis=1)


# -- incremental assignment ----------------------------------------------------------------------------
@dataclass
class Assignment:
    """person_ids[i] is the person face i joins, or -1; dist[i] the distance to that person's nearest face."""

    person_ids: np.ndarray
    dist: np.ndarray


def assign(new: np.ndarray, new_items: np.ndarray, known: np.ndarray, known_people: np.ndarray,
           threshold: float, busy: dict[int, set[int]] | None = None, max_candidates: int = 5) -> Assignment:
    """Match new faces to existing people by their nearest face.

    ``busy`` maps an item id to the people already present in that photo (assigned earlier or by the
    user); within one photo the closest face-person pairs are taken first, so the same person is never
    given two faces of one picture.
    """
    m = len(new)
    result = Assignment(np.full(m, -1, dtype=np.int64), np.full(m, np.inf, dtype=np.float32))
    if m == 0 or len(known) == 0:
        return result
    order = np.argsort(known_people, kind="stable")
    people_sorted = np.asarray(known_people)[order]
    starts = np.flatnonzero(np.r_[True, people_sorted[1:] != people_sorted[:-1]])
    people = people_sorted[starts]
    rows, _ = _augment(new)
    _, cols = _augment(np.asarray(known)[order])
    thr2 = np.float32(threshold * threshold)
    k = min(max_candidates, len(people))
    cand_people = np.full((m, k), -1, dtype=np.int64)
    cand_sq = np.full((m, k), np.inf, dtype=np.float32)
    step = _block_rows(cols.shape[1])
    for lo in range(0, m, step):
        block = rows[lo:lo + step] @ cols                      # squared distance to every known face
        per_person = np.minimum.reduceat(block, starts, axis=1)  # nearest face of each person
        if k < per_person.shape[1]:
            top = np.argpartition(per_person, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(k), (per_person.shape[0], k))
        top_sq = np.take_along_axis(per_person, top, axis=1)
        sort = np.argsort(top_sq, axis=1)
        cand_sq[lo:lo + step] = np.take_along_axis(top_sq, sort, axis=1)
        cand_people[lo:lo + step] = people[np.take_along_axis(top, sort, axis=1)]
    cand_people[cand_sq >= thr2] = -1
    # Within a photo: closest (face, person) pairs first; a person takes one face per photo.
    taken: dict[int, set[int]] = {int(i): set(v) for i, v in (busy or {}).items()}
    face_idx, rank = np.nonzero(cand_people >= 0)
    pair_sq = cand_sq[face_idx, rank]
    for pos in np.argsort(pair_sq, kind="stable"):
        i, r = int(face_idx[pos]), int(rank[pos])
        if result.person_ids[i] >= 0:
            continue
        person = int(cand_people[i, r])
        item_people = taken.setdefault(int(new_items[i]), set())
        if person in item_people:
            continue
        item_people.add(person)
        result.person_ids[i] = person
        result.dist[i] = float(np.sqrt(max(pair_sq[pos], 0.0)))
    return result


# -- clustering of the unassigned pool -----------------------------------------------------------------
def neighbour_counts(x: np.ndarray, threshold: float) -> np.ndarray:
    """How many faces (itself included) lie within ``threshold`` of each face.

    Distance is symmetric, so only the upper triangle of blocks is computed: each block adds its row
    sums to its own faces and its column sums to the later faces (half the work of the full square).
    """
    rows, cols = _augment(x)
    n = len(x)
    thr2 = np.float32(threshold * threshold)
    counts = np.zeros(n, dtype=np.int64)
    step = _block_rows(n)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        mask = rows[lo:hi] @ cols[:, lo:] < thr2
        counts[lo:hi] += np.count_nonzero(mask, axis=1)
        counts[hi:] += np.count_nonzero(mask[:, hi - lo:], axis=0)
    return counts


def cluster(x: np.ndarray, items: np.ndarray, threshold: float, min_size: int = 3) -> np.ndarray:
    """Label each face with a new-person number 0..k-1, or -1 if it stays unassigned."""
    n = len(x)
    labels = np.full(n, -1, dtype=np.int64)
    if n < min_size:
        return labels
    x = np.ascontiguousarray(x, dtype=np.float32)
    counts = neighbour_counts(x, threshold)
    core = np.flatnonzero(counts >= min_size)
    if len(core) == 0:
        return labels
    # Cores sorted densest first: the first True in a row of the neighbour mask is the densest core in reach.
    core_sorted = core[np.lexsort((core, -counts[core]))]
    rows, _ = _augment(x)
    _, cols = _augment(x[core_sorted])
    thr2 = np.float32(threshold * threshold)
    parent_pos = np.full(n, -1, dtype=np.int64)
    # A face alone in its neighbourhood can join nothing: only faces with a neighbour look for a core.
    seekers = np.flatnonzero(counts >= 2)
    step = _block_rows(cols.shape[1])
    for lo in range(0, len(seekers), step):
        chunk = seekers[lo:lo + step]
        mask = rows[chunk] @ cols < thr2
        first = mask.argmax(axis=1)
        found = mask[np.arange(mask.shape[0]), first]
        parent_pos[chunk] = np.where(found, first, -1)
    # Pointers among cores go to an earlier (denser) position; follow them to the roots.
    core_parent = parent_pos[core_sorted]
    while True:
        nxt = core_parent[core_parent]
        if np.array_equal(nxt, core_parent):
            break
        core_parent = nxt
    root_pos = np.full(n, -1, dtype=np.int64)
    has_parent = parent_pos >= 0
    root_pos[has_parent] = core_parent[parent_pos[has_parent]]
    members = np.flatnonzero(root_pos >= 0)
    by_root = members[np.argsort(root_pos[members], kind="stable")]
    boundaries = np.flatnonzero(np.r_[True, np.diff(root_pos[by_root]) != 0, True])
    next_label = 0
    for a, b in zip(boundaries[:-1], boundaries[1:], strict=True):
        group = by_root[a:b]
        if len(group) < min_size:
            continue
        root = core_sorted[root_pos[group[0]]]
        kept = _one_face_per_photo(x, items, group, root)
        if len(kept) >= min_size and _has_mutual_core(x[kept], threshold, min_size):
            labels[kept] = next_label
            next_label += 1
    return labels


def _one_face_per_photo(x: np.ndarray, items: np.ndarray, group: np.ndarray, root: int) -> np.ndarray:
    """Two faces of one photo are never the same person: keep the one closest to the group's root."""
    dist = distances(x[root], x[group])
    ordered = group[np.argsort(dist, kind="stable")]
    _, first = np.unique(items[ordered], return_index=True)
    return ordered[np.sort(first)]


def _has_mutual_core(x: np.ndarray, threshold: float, min_size: int, sample: int = 48) -> bool:
    """True if ``min_size`` faces are pairwise within the threshold (greedy, from the closest faces)."""
    candidates = x[:sample]
    close = pairwise_sq(candidates, candidates) < threshold * threshold
    for seed in range(len(candidates)):
        clique = [seed]
        for j in np.flatnonzero(close[seed]):
            if j != seed and all(close[j, c] for c in clique):
                clique.append(int(j))
                if len(clique) >= min_size:
                    return True
    return False


def near_any(query: np.ndarray, pool: np.ndarray, threshold: float) -> np.ndarray:
    """Mask over ``pool``: True where a pool face is within the threshold of at least one query face."""
    hit = np.zeros(len(pool), dtype=bool)
    if len(query) == 0 or len(pool) == 0:
        return hit
    rows, _ = _augment(query)
    _, cols = _augment(pool)
    thr2 = np.float32(threshold * threshold)
    step = _block_rows(cols.shape[1])
    for lo in range(0, len(query), step):
        hit |= (rows[lo:lo + step] @ cols < thr2).any(axis=0)
    return hit
