"""The clustering rules on synthetic 128-d encodings (fast, no images)."""

from __future__ import annotations

import numpy as np

from homeroll.daemon.faces import cluster

RNG = np.random.default_rng(7)


def _person(n: int, spread: float = 0.02) -> np.ndarray:
    centre = RNG.normal(0, 0.06, 128).astype(np.float32)
    return centre + RNG.normal(0, spread, (n, 128)).astype(np.float32)


def test_three_mutually_close_faces_make_a_person_two_do_not():
    a, b = _person(3), _person(2)
    labels = cluster.cluster(np.vstack([a, b]), np.arange(5), 0.5, 3)
    assert len(set(labels[:3])) == 1 and labels[0] >= 0
    assert (labels[3:] == -1).all()


def test_two_faces_of_one_photo_never_join_one_person():
    a = _person(4)
    labels = cluster.cluster(a, np.array([1, 1, 2, 3]), 0.5, 3)
    assert (labels[:2] >= 0).sum() == 1  # one of the two faces from photo 1 stays out
    result = cluster.assign(a[:2], np.array([9, 9]), a[2:], np.array([5, 5]), 0.5)
    assert sorted(result.person_ids.tolist()) == [-1, 5]


def test_a_chain_is_not_mutually_close():
    # Three faces in a line 0.4 apart: neighbours pairwise, but the ends are 0.8 apart.
    base = np.zeros((3, 128), dtype=np.float32)
    base[1, 0], base[2, 0] = 0.4, 0.8
    assert (cluster.cluster(base, np.arange(3), 0.5, 3) == -1).all()


def test_assignment_uses_the_nearest_face_not_the_mean():
    young = _person(5)  # one person whose faces changed a lot over the years
    old = young.copy()
    old[:, 0] += 1.4
    known = np.vstack([young, old])
    query = old[:1] + 0.001
    mean_distance = np.linalg.norm(known.mean(axis=0) - query[0])
    assert mean_distance > 0.5
    result = cluster.assign(query, np.array([42]), known, np.full(10, 7), 0.5)
    assert result.person_ids.tolist() == [7]


def test_neighbour_counts_match_brute_force():
    x = np.vstack([_person(30), _person(20), RNG.normal(0, 0.06, (50, 128)).astype(np.float32)])
    brute = (np.linalg.norm(x[:, None] - x[None], axis=2) < 0.5).sum(axis=1)
    assert (cluster.neighbour_counts(x, 0.5) == brute).all()


def test_cells_path_finds_the_same_people_as_the_exact_path():
    groups = [_person(40) for _ in range(6)] + [_person(4) for _ in range(10)]
    strangers = RNG.normal(0, 0.06, (300, 128)).astype(np.float32)
    x = np.vstack([*groups, strangers])
    truth = np.concatenate([np.full(len(g), i) for i, g in enumerate(groups)] + [np.full(300, -1)])
    exact = cluster.cluster(x, np.arange(len(x)), 0.5, 3)
    cells = cluster.cluster(x, np.arange(len(x)), 0.5, 3, exact_limit=0)
    for labels in (exact, cells):
        assert labels.max() + 1 == len(groups)
        for k in range(labels.max() + 1):
            assert len(set(truth[labels == k])) == 1  # never two people in one
        assert (labels[truth == -1] == -1).all()
