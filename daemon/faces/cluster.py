"""Grouping face encodings into people with numpy only: blockwise, O(n) memory, no Python loop over pairs.

Two jobs, both on 128-d dlib encodings compared by Euclidean distance:

* ``assign`` (incremental): a new face joins the person owning the nearest *face* within the threshold
  (every face of the person counts, not a mean, so a person seen as a baby and as an adult still
  matches both), and two faces of one photo never join the same person.
* ``cluster`` (the unassigned pool): a density-peak clustering (exact up to 20,000 faces, above that
  within k-means cells and their nearest cells, like an IVF index). Each face counts its neighbours within
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
    threshold_sq = np.float32(threshold * threshold)
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
    cand_people[cand_sq >= threshold_sq] = -1
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
    threshold_sq = np.float32(threshold * threshold)
    counts = np.zeros(n, dtype=np.int64)
    step = _block_rows(n)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        mask = rows[lo:hi] @ cols[:, lo:] < threshold_sq
        counts[lo:hi] += np.count_nonzero(mask, axis=1)
        counts[hi:] += np.count_nonzero(mask[:, hi - lo:], axis=0)
    return counts


#: Up to this many faces, clustering compares every pair exactly; above it, faces are first split into
#: cells (k-means) and each cell is compared with its nearest cells only (an IVF index, as in faiss).
EXACT_LIMIT = 20_000
#: Cells each cell is compared with (itself included) above EXACT_LIMIT.
PROBE_CELLS = 8


def cluster(x: np.ndarray, items: np.ndarray, threshold: float, min_size: int = 3,
            exact_limit: int = EXACT_LIMIT) -> np.ndarray:
    """Label each face with a new-person number 0..k-1, or -1 if it stays unassigned."""
    n = len(x)
    labels = np.full(n, -1, dtype=np.int64)
    if n < min_size:
        return labels
    x = np.ascontiguousarray(x, dtype=np.float32)
    rows, cols = _augment(x)
    threshold_sq = np.float32(threshold * threshold)
    cells = None if n <= exact_limit else _cells(x)
    counts = neighbour_counts(x, threshold) if cells is None else _cell_counts(rows, cols, cells, threshold_sq)
    core = np.flatnonzero(counts >= min_size)
    if len(core) == 0:
        return labels
    # Cores in one strict order, densest first: a face points to the first core of that order within
    # reach, so pointers only go forward in density and the pointer graph has no cycles.
    core_sorted = core[np.lexsort((core, -counts[core]))]
    rank = np.full(n, n, dtype=np.int64)
    rank[core_sorted] = np.arange(len(core_sorted))
    seekers = counts >= 2  # a face alone in its neighbourhood can join nothing
    parent = np.full(n, -1, dtype=np.int64)
    for row_ids, col_ids in ([(np.arange(n), np.arange(n))] if cells is None else cells):
        seek = row_ids[seekers[row_ids]]
        targets = col_ids[rank[col_ids] < n]
        if len(seek) == 0 or len(targets) == 0:
            continue
        targets = targets[np.argsort(rank[targets], kind="stable")]
        target_cols = np.ascontiguousarray(cols[:, targets])
        step = _block_rows(len(targets))
        for lo in range(0, len(seek), step):
            chunk = seek[lo:lo + step]
            mask = rows[chunk] @ target_cols < threshold_sq
            first = mask.argmax(axis=1)
            found = mask[np.arange(len(chunk)), first]
            parent[chunk[found]] = targets[first[found]]
    # Follow the pointers to the roots (cores that point to themselves).
    core_parent = parent.copy()
    while True:
        nxt = np.where(core_parent >= 0, core_parent[np.maximum(core_parent, 0)], -1)
        if np.array_equal(nxt, core_parent):
            break
        core_parent = nxt
    if cells is not None:
        core_parent = _merge_close_roots(x, core_parent, rank, threshold_sq)
    members = np.flatnonzero(core_parent >= 0)
    by_root = members[np.argsort(core_parent[members], kind="stable")]
    boundaries = np.flatnonzero(np.r_[True, np.diff(core_parent[by_root]) != 0, True])
    next_label = 0
    for a, b in zip(boundaries[:-1], boundaries[1:], strict=True):
        group = by_root[a:b]
        if len(group) < min_size:
            continue
        kept = _one_face_per_photo(x, items, group, int(core_parent[group[0]]))
        if len(kept) >= min_size and _has_mutual_core(x[kept], threshold, min_size):
            labels[kept] = next_label
            next_label += 1
    return labels


def _merge_close_roots(x: np.ndarray, root_of: np.ndarray, rank: np.ndarray, threshold_sq: np.float32) -> np.ndarray:
    """With cells, one person's faces can end in trees whose roots never saw each other; roots within the
    threshold are joined (as the exact pass would have done), the densest root heading the group."""
    roots = np.unique(root_of[root_of >= 0])
    roots = roots[np.argsort(rank[roots], kind="stable")]  # densest first
    head = np.arange(len(roots))
    rows, cols = _augment(x[roots])
    step = _block_rows(len(roots))
    for lo in range(0, len(roots), step):
        close = rows[lo:lo + step] @ cols < threshold_sq
        for i, j in zip(*np.nonzero(close), strict=True):
            a, b = _find(head, lo + int(i)), _find(head, int(j))
            if a != b:
                head[max(a, b)] = min(a, b)
    final = np.array([_find(head, i) for i in range(len(roots))], dtype=np.int64)
    mapping = np.full(len(root_of), -1, dtype=np.int64)
    mapping[roots] = roots[final]
    out = np.full_like(root_of, -1)
    has = root_of >= 0
    out[has] = mapping[root_of[has]]
    return out


def _find(head: np.ndarray, i: int) -> int:
    while head[i] != i:
        head[i] = head[head[i]]
        i = int(head[i])
    return i


def _cells(x: np.ndarray, iterations: int = 6, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """k-means cells (k about sqrt(n)) and, for each, its members and the members of its nearest cells."""
    n = len(x)
    k = max(2, int(np.sqrt(n)))
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(n, size=min(n, 40 * k), replace=False)]
    centroids = sample[rng.choice(len(sample), size=k, replace=False)].copy()
    for _ in range(iterations):
        nearest = _nearest(sample, centroids)
        sums = np.zeros_like(centroids)
        np.add.at(sums, nearest, sample)
        sizes = np.bincount(nearest, minlength=k)
        filled = sizes > 0
        centroids[filled] = sums[filled] / sizes[filled, None]
    cell_of = _nearest(x, centroids)
    order = np.argsort(cell_of, kind="stable")
    bounds = np.searchsorted(cell_of[order], np.arange(k + 1))
    members = [order[bounds[c]:bounds[c + 1]] for c in range(k)]
    probes = np.argsort(pairwise_sq(centroids, centroids), axis=1)[:, :PROBE_CELLS]
    return [(members[c], np.concatenate([members[q] for q in probes[c]])) for c in range(k) if len(members[c])]


def _nearest(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    out = np.empty(len(x), dtype=np.int64)
    rows, _ = _augment(x)
    _, cols = _augment(centroids)
    step = _block_rows(len(centroids))
    for lo in range(0, len(x), step):
        out[lo:lo + step] = (rows[lo:lo + step] @ cols).argmin(axis=1)
    return out


def _cell_counts(rows: np.ndarray, cols: np.ndarray, cells: list[tuple[np.ndarray, np.ndarray]],
                 threshold_sq: np.float32) -> np.ndarray:
    counts = np.zeros(rows.shape[0], dtype=np.int64)
    for row_ids, col_ids in cells:
        cell_cols = np.ascontiguousarray(cols[:, col_ids])
        step = _block_rows(len(col_ids))
        for lo in range(0, len(row_ids), step):
            chunk = row_ids[lo:lo + step]
            counts[chunk] = np.count_nonzero(rows[chunk] @ cell_cols < threshold_sq, axis=1)
    return counts


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
    threshold_sq = np.float32(threshold * threshold)
    step = _block_rows(cols.shape[1])
    for lo in range(0, len(query), step):
        hit |= (rows[lo:lo + step] @ cols < threshold_sq).any(axis=0)
    return hit
