"""Ken Burns plans: no face box ever leaves the frame at any point of a shot, portraits are fitted, never
stretched, and a shot without faces still moves."""

from __future__ import annotations

import random

import pytest

from homeroll.daemon.collage.kenburns import (
    COVER_MIN_ASPECT,
    FIT_SCALE,
    fit_needed,
    placement_at,
    plan_motion,
    project_box,
)

W, H = 1920, 1080
EPS = 1e-6
STEPS = [i / 20 for i in range(21)]


def _inside(rect, width=W, height=H) -> bool:
    return rect[0] >= -EPS and rect[1] >= -EPS and rect[2] <= width + EPS and rect[3] <= height + EPS


def _random_faces(rng: random.Random, count: int) -> list[tuple[float, float, float, float]]:
    faces = []
    for _ in range(count):
        w, h = rng.uniform(0.03, 0.25), rng.uniform(0.04, 0.3)
        left, top = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        faces.append((left, top, left + w, top + h))
    return faces


@pytest.mark.parametrize("seed", range(60))
def test_faces_stay_inside_every_frame(seed):
    rng = random.Random(seed)
    aspect = rng.choice([0.56, 0.75, 1.0, 1.33, 1.5, 1.78, 2.4, 3.5])
    faces = _random_faces(rng, rng.randint(0, 4))
    for index in (0, 1):
        motion = plan_motion(aspect, W / H, faces, index)
        for p in STEPS:
            crop, dest = placement_at(motion, p, W, H)
            assert 0 - EPS <= crop[0] < crop[2] <= 1 + EPS and 0 - EPS <= crop[1] < crop[3] <= 1 + EPS
            assert _inside(dest)
            for face in faces:
                assert _inside(project_box(face, crop, dest)), (aspect, face, motion, p)


def test_face_at_the_edge_of_a_landscape_is_kept_whole_and_zoomed_towards():
    face = (0.01, 0.35, 0.12, 0.55)  # a centred 16:9 crop of a 4:3 photo would keep it; a tight one would not
    motion = plan_motion(4 / 3, W / H, [face], index=0)
    assert motion.mode == "cover"
    assert motion.end[2] - motion.end[0] < motion.start[2] - motion.start[0]  # even shots zoom in
    assert motion.end[0] <= face[0] + EPS  # the tight crop slid left to keep the face
    for p in STEPS:
        crop, dest = placement_at(motion, p, W, H)
        assert _inside(project_box(face, crop, dest))


def test_faces_too_far_apart_for_a_crop_show_the_whole_photo():
    faces = [(0.0, 0.1, 0.1, 0.4), (0.9, 0.6, 1.0, 0.95)]  # a panorama: a 16:9 crop keeps one of them
    assert fit_needed(2.4, W / H, faces)
    motion = plan_motion(2.4, W / H, faces, 0)
    assert motion.mode == "fit" and motion.start == motion.end == (0.0, 0.0, 1.0, 1.0)


@pytest.mark.parametrize("aspect", [0.5625, 0.75, 1.0, 1.2])
def test_portraits_and_squares_are_fitted_not_stretched(aspect):
    assert aspect < COVER_MIN_ASPECT
    motion = plan_motion(aspect, W / H, [], 1)
    assert motion.mode == "fit"
    sizes = []
    for p in STEPS:
        _, dest = placement_at(motion, p, W, H)
        w, h = dest[2] - dest[0], dest[3] - dest[1]
        assert abs(w / h - aspect) < 1e-9  # the photo's own shape at every step
        assert abs((dest[0] + dest[2]) / 2 - W / 2) < 1e-6 and _inside(dest)
        sizes.append(h)
    assert sizes[0] == pytest.approx(H) and sizes[-1] == pytest.approx(H * FIT_SCALE)  # odd shots pull back


def test_a_photo_without_faces_still_moves_around_its_interest():
    still = plan_motion(1.5, W / H, [], 0, interest=(0.8, 0.3))
    assert still.start != still.end
    tight = still.end
    assert (tight[0] + tight[2]) / 2 > 0.5  # drawn towards the interesting right-hand side
    out = plan_motion(1.5, W / H, [], 1, interest=(0.8, 0.3))
    assert out.start == tight and out.end == still.start  # odd shots run the same plan backwards


def test_smallest_crop_tells_the_decode_size():
    motion = plan_motion(4 / 3, W / H, [], 0)
    assert motion.smallest_crop == pytest.approx(1 / 1.12, rel=1e-6)
