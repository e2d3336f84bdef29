"""The thumbnail path's one reduced decode: it must show what a full decode shows (same orientation, same
picture) at the stored size, for every EXIF orientation and for a HEIC whether or not its embedded
thumbnail is big enough to be used instead of the HEVC image."""

from __future__ import annotations

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageDraw, ImageOps

from homeroll.daemon.ingest.metadata import open_photo
from homeroll.daemon.ingest.thumbs import DRAFT_SLACK, decode_for_thumbnail, draft_box, quality_signals
from homeroll.demo.media import build_exif, scene


def _marked(size: tuple[int, int]) -> Image.Image:
    """A scene with a white block in the top-left corner, so any wrong rotation or mirror shows."""
    image = scene(7, size)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(255, 255, 255))
    return image


def _difference(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)).mean())


def test_draft_box_keeps_the_aspect_with_the_long_side_at_the_size():
    assert draft_box((4000, 3000), 512) == (512, 384)
    assert draft_box((3000, 4000), 512) == (384, 512)
    assert draft_box((4096, 2304), 512) == (512, 288)
    assert draft_box((1, 9000), 512) == (1, 512)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_reduced_decode_matches_a_full_decode_for_every_orientation(tmp_path, orientation):
    path = tmp_path / f"o{orientation}.jpg"
    _marked((2400, 1800)).save(path, "JPEG", quality=90, exif=build_exif(taken=None, orientation=orientation))
    image, info = open_photo(str(path))
    with image:
        thumb = decode_for_thumbnail(image, 512)
    with Image.open(path) as full:
        expected = ImageOps.exif_transpose(full.convert("RGB"))
    expected.thumbnail((512, 512), Image.Resampling.BICUBIC)
    assert thumb.size == expected.size == ((384, 512) if orientation >= 5 else (512, 384))
    assert thumb.size[0] < thumb.size[1] if info.displayed_size[0] < info.displayed_size[1] else True
    assert _difference(thumb, expected) < 4.0
    # the white corner lands where the oriented full decode has it
    corner = np.asarray(thumb.convert("L"))[:40, :40].mean()
    assert corner > 230 if np.asarray(expected.convert("L"))[:40, :40].mean() > 230 else corner < 230


def test_a_12mp_jpeg_thumbnail_is_within_the_size_bound_and_its_signals_are_sane(tmp_path):
    path = tmp_path / "big.jpg"
    scene(1, (4000, 3000)).save(path, "JPEG", quality=90)
    image, _ = open_photo(str(path))
    with image:
        thumb = decode_for_thumbnail(image, 512)
        assert image.size == (500, 375), "a 1/8-scale DCT decode, not 12 MP of pixels (nor the 1/4 scale)"
    assert thumb.size == (500, 375)  # within DRAFT_SLACK of 512: kept, never upscaled
    signals = quality_signals(thumb)
    assert signals["sharpness"] > 0 and 0 <= signals["exposure"] <= 1 and 0 <= signals["quality"] <= 1
    assert len(signals["phash"]) == 16


@pytest.mark.parametrize("embedded, uses_it", [(512, True), (256, False)])
def test_heic_uses_its_embedded_thumbnail_only_when_it_is_big_enough(tmp_path, embedded, uses_it):
    pillow_heif.register_heif_opener()
    path = tmp_path / f"t{embedded}.heic"
    source = _marked((1600, 1200))
    source.save(path, "HEIF", quality=70, enc_params={"preset": "ultrafast"}, thumbnails=[embedded])
    image, _ = open_photo(str(path))
    with image:  # what decode_for_thumbnail asks for: the draft picks the pixels that get decoded
        image.draft("RGB", draft_box(image.size, round(512 * DRAFT_SLACK)))
        assert image.size == ((512, 384) if uses_it else (1600, 1200))
    image, _ = open_photo(str(path))
    with image:
        thumb = decode_for_thumbnail(image, 512)
    assert thumb.size == (512, 384)
    expected = source.copy()
    expected.thumbnail((512, 512), Image.Resampling.BICUBIC)
    assert _difference(thumb, expected) < 8.0
