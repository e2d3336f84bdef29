"""Layout geometry and face-aware crops, on numbers (fast, no pixels)."""

from __future__ import annotations

import itertools

import pytest

from homeroll.daemon.collage.caption import date_range_text, fit_text, font_candidates
from homeroll.daemon.collage.crop import face_aware_crop
from homeroll.daemon.collage.layout import LAYOUTS, MAX_PICKS, Rect, choose_layout, compute_layout

AREA = Rect(100, 80, 3640, 1800)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


@pytest.mark.parametrize("name", LAYOUTS)
@pytest.mark.parametrize("aspects", [[1.5] * 9, [0.75] * 4, [1.33, 0.75, 1.78, 0.66, 1.0, 1.5, 0.8], [1.0],
                                     [1.5, 0.6], [1.33] * 20])
def test_tiles_fill_the_area_without_overlap(name, aspects):
    tiles = compute_layout(name, aspects, AREA, 24)
    assert len(tiles) == min(len(aspects), MAX_PICKS[name])
    assert sorted(t.index for t in tiles) == list(range(len(tiles)))
    for t in tiles:
        assert t.rect.w > 0 and t.rect.h > 0
        assert AREA.x <= t.rect.x and t.rect.right <= AREA.right
        assert AREA.y <= t.rect.y and t.rect.bottom <= AREA.bottom
    for a, b in itertools.combinations(tiles, 2):
        assert not _overlaps(a.rect, b.rect)
    covered = sum(t.rect.w * t.rect.h for t in tiles)
    assert covered > 0.9 * AREA.w * AREA.h  # only gutters are left empty


def test_mosaic_keeps_shapes():
    aspects = [1.5, 0.67, 1.5, 1.5, 0.67, 1.33, 1.78, 0.75]
    tiles = compute_layout("mosaic", aspects, AREA, 24)
    for t in tiles:
        assert 0.6 < t.rect.aspect / aspects[t.index] < 1.6


def test_default_layout_choice():
    assert choose_layout([1.5]) == "hero"
    assert choose_layout([1.5, 1.5]) == "strip"
    assert choose_layout([1.5] * 9) == "grid"
    assert choose_layout([1.5] * 5) == "hero"
    assert choose_layout([1.5, 0.7] * 5) == "mosaic"


def test_crop_keeps_every_face_when_they_fit():
    # a wide photo in a tall tile: the window slides horizontally; faces on the right edge stay whole
    faces = [(3000, 500, 3400, 900), (3500, 600, 3900, 1000)]
    box = face_aware_crop(4000, 3000, 0.5, faces)
    assert box[2] - box[0] == pytest.approx(1500)
    for left, top, right, bottom in faces:
        assert box[0] <= left and right <= box[2] and box[1] <= top and bottom <= box[3]


def test_crop_vertical_puts_faces_high_but_inside():
    faces = [(1000, 2500, 1400, 2900)]  # a face near the bottom of a tall photo
    box = face_aware_crop(3000, 4000, 2.0, faces)
    assert box[1] <= 2500 and 2900 <= box[3]


def test_crop_keeps_most_faces_when_not_all_fit():
    faces = [(100, 100, 500, 500), (600, 100, 1000, 500), (3500, 100, 3900, 500)]
    box = face_aware_crop(4000, 1000, 1.2, faces)  # window 1200 wide: the two left faces fit together
    whole = [f for f in faces if box[0] <= f[0] and f[2] <= box[2]]
    assert len(whole) == 2


def test_crop_without_faces_follows_interest():
    box = face_aware_crop(4000, 1000, 1.0, [], interest=(3800, 500))
    assert box[2] == pytest.approx(4000)


def test_fit_text_never_overflows():
    path = font_candidates("title")[0]
    title = "A very long title about a summer holiday that went on and on " * 8
    font, text = fit_text(title, path, 80, 900, 50)
    assert font.getlength(text) <= 900
    assert text.endswith("…") or text.endswith("...")


def test_date_ranges():
    assert date_range_text("2024-06-06", "2024-06-09") == "June 6–9, 2024"
    assert date_range_text("2024-06-28T10:00", "2024-07-02") == "June 28–July 2, 2024"
    assert date_range_text("2023-12-28", "2024-01-02") == "December 28, 2023–January 2, 2024"
    assert date_range_text("2024-06-06", "2024-06-06") == "June 6, 2024"
    assert date_range_text(None, None) == ""
