"""Rendering real files: presets, face boxes never cut, HEIC, EXIF rotation, video posters, draft decoding."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from homeroll.daemon.collage.render import PRESETS, STYLES, Caption, encode_collage, render_collage
from homeroll.daemon.collage.sources import Source, decode_for_tile, probe
from tests.collage.conftest import FACE_PHOTOS, dlib_faces

EPS = 1e-6


BOXES = Path(__file__).with_name("face_boxes.json")


@pytest.fixture(scope="module")
def face_sources(corpus):
    """Corpus face photos with the boxes dlib's HOG detector found on them (face_boxes.json was made with
    tests.collage.conftest.dlib_faces; test_reference_box_matches_manifest re-measures one live)."""
    boxes = json.loads(BOXES.read_text())
    out = []
    for rel in FACE_PHOTOS:
        faces = [tuple(b) for b in boxes[rel]]
        assert faces, f"no face recorded for {rel}"
        out.append(Source(str(corpus / rel), "photo", faces))
    return out


def test_reference_box_matches_manifest(corpus):
    """The dlib helper reproduces the corpus' ground truth for obama.jpg, so the boxes below are real."""
    path = corpus / "face_recognition/examples/obama.jpg"
    with Image.open(path) as img:
        w, h = img.size
    measured = dlib_faces(path)
    assert [list(map(lambda v: round(v, 5), b)) for b in measured] == json.loads(BOXES.read_text())[
        "face_recognition/examples/obama.jpg"]
    (left, top, right, bottom), = measured
    # MANIFEST: HOG box (top, right, bottom, left) = (142, 617, 409, 349) in pixels
    assert abs(left * w - 349) < 0.04 * w and abs(right * w - 617) < 0.04 * w
    assert abs(top * h - 142) < 0.04 * h and abs(bottom * h - 409) < 0.04 * h


@pytest.mark.parametrize("size", list(PRESETS))
def test_preset_dimensions_and_format(corpus, size):
    photos = [corpus / "exif-samples/jpg/gps/DSCN0010.jpg", corpus / "face_recognition/examples/obama.jpg"]
    collage = render_collage([Source(str(p)) for p in photos], size=size, style="clean",
                             caption=Caption("Dimensions", "1 June 2024"))
    width, height, dpi = PRESETS[size]
    data = encode_collage(collage, "JPEG", 90)
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        assert img.mode == "RGB"
        assert img.size == (width, height)
        assert round(img.info["dpi"][0]) == dpi
    if size == "a4":
        assert (width, height) == (2480, 3508)


def _check_faces_whole(collage):
    checked = 0
    for p in collage.placements:
        if not p.faces:
            continue
        left, top, right, bottom = p.crop
        union = (min(f[0] for f in p.faces), min(f[1] for f in p.faces),
                 max(f[2] for f in p.faces), max(f[3] for f in p.faces))
        fits = (union[2] - union[0] <= right - left + EPS) and (union[3] - union[1] <= bottom - top + EPS)
        inside = [f for f in p.faces if f[0] >= left - EPS and f[2] <= right + EPS and f[1] >= top - EPS
                  and f[3] <= bottom + EPS]
        if fits:
            assert len(inside) == len(p.faces), f"{p.path}: a face is cut although all fit in {p.crop}"
        elif any(f[2] - f[0] <= right - left + EPS and f[3] - f[1] <= bottom - top + EPS for f in p.faces):
            assert inside, f"{p.path}: no whole face kept in {p.crop} although one fits"
        else:  # no face fits the tile: along the axis the crop slides, it is centred on the biggest face
            big = max(p.faces, key=lambda f: (f[2] - f[0]) * (f[3] - f[1]))
            if top <= EPS and bottom >= 1 - EPS:
                assert big[0] - EPS <= (left + right) / 2 <= big[2] + EPS
            else:
                assert big[1] - EPS <= (top + bottom) / 2 <= big[3] + EPS
        checked += 1
    return checked


@pytest.mark.parametrize(("layout", "size"), [("grid", "landscape"), ("mosaic", "portrait"), ("hero", "square"),
                                              ("strip", "landscape"), ("hero", "a4"), ("grid", "portrait")])
def test_no_face_box_crosses_a_tile_edge(face_sources, layout, size):
    collage = render_collage(face_sources, layout=layout, size=size, caption=None)
    assert not collage.skipped
    assert _check_faces_whole(collage) == len(collage.placements)


def test_face_check_can_fail(face_sources):
    """The check above is not vacuous: centre crops of the same size would cut faces that ours keep."""
    collage = render_collage(face_sources, layout="grid", size="portrait", caption=None)
    rescued = 0
    for p in collage.placements:
        left, top, right, bottom = p.crop
        w, h = right - left, bottom - top
        naive = (0.5 - w / 2, 0.5 - h / 2, 0.5 + w / 2, 0.5 + h / 2)
        def whole(box, f):
            return box[0] - EPS <= f[0] and f[2] <= box[2] + EPS and box[1] - EPS <= f[1] and f[3] <= box[3] + EPS
        if any(whole(p.crop, f) and not whole(naive, f) for f in p.faces):
            rescued += 1
    assert rescued >= 1


@pytest.mark.parametrize("style", list(STYLES))
def test_styles_render(corpus, style):
    photos = [corpus / "face_recognition/examples/biden.jpg"]
    collage = render_collage([Source(str(p)) for p in photos], size="square", style=style,
                             caption=Caption("Style", "Arezzo"))
    corner = collage.image.getpixel((2, 2))
    expected = Image.new("RGB", (1, 1), STYLES[style].background).getpixel((0, 0))
    assert corner == expected
    if style == "bw":
        middle = collage.image.crop((500, 500, 1500, 1500))
        r, g, b = middle.split()
        assert ImageChops.difference(r, g).getbbox() is None and ImageChops.difference(g, b).getbbox() is None


def test_caption_never_overflows_the_page(corpus):
    title = "Ünïcødé holiday with an absurdly long title that goes on " * 10
    collage = render_collage([Source(str(corpus / "face_recognition/examples/biden.jpg"))], size="square",
                             style="clean", caption=Caption(title, "Somewhere · 1–30 June 2024"))
    img = collage.image
    margin = round(2160 * 0.035)
    band = img.crop((0, 2160 - margin - round(2160 * 0.085), 2160, 2160))
    left_strip = band.crop((0, 0, margin - 2, band.height))
    right_strip = band.crop((band.width - margin + 2, 0, band.width, band.height))
    for strip in (left_strip, right_strip):
        assert ImageStat.Stat(strip.convert("L")).extrema[0][0] == 255, "text ran into the margin"
    # and the caption is actually drawn (the test can fail)
    assert ImageStat.Stat(band.convert("L")).extrema[0][0] < 128


def test_heic_rotated_and_video_sources(corpus):
    heic = corpus / "exif-samples/heic/IMG_5195.HEIC"
    rotated = [corpus / f"exif-samples/jpg/orientation/portrait_{n}.jpg" for n in (1, 6, 8)]
    video = corpus / "face_recognition/examples/short_hamilton_clip.mp4"
    sources = [Source(str(heic)), *[Source(str(p)) for p in rotated], Source(str(video), "video")]
    collage = render_collage(sources, layout="mosaic", size="landscape", caption=None)
    assert not collage.skipped
    assert len(collage.placements) == 5
    # orientation applied: every portrait_N is displayed portrait
    for p in rotated:
        info = probe(Source(str(p)))
        assert info.height > info.width, p.name
    poster = probe(Source(str(video), "video"))
    assert (poster.width, poster.height) == (640, 360)
    assert ImageStat.Stat(poster.poster.convert("L")).mean[0] > 5  # a real picture, not a black frame


def test_exif_orientation_matches_upright_original(corpus):
    """landscape_6 and landscape_8 decode to the same picture as landscape_1; a wrong rotation would not."""
    folder = corpus / "exif-samples/jpg/orientation"
    upright = decode_for_tile(probe(Source(str(folder / "landscape_1.jpg"))), 300, 200).resize((150, 100))
    for n in (3, 6, 8):
        other = decode_for_tile(probe(Source(str(folder / f"landscape_{n}.jpg"))), 300, 200).resize((150, 100))
        diff = ImageStat.Stat(ImageChops.difference(upright, other).convert("L")).mean[0]
        assert diff < 12, f"landscape_{n} differs from landscape_1 by {diff}"
    wrong = upright.transpose(Image.Transpose.ROTATE_180)
    assert ImageStat.Stat(ImageChops.difference(upright, wrong).convert("L")).mean[0] > 12


def test_heic_decodes(corpus):
    info = probe(Source(str(corpus / "exif-samples/heic/IMG_5195.HEIC")))
    img = decode_for_tile(info, 400, 300)
    assert img.mode == "RGB" and min(img.size) >= 300


def test_twelve_megapixel_sources_are_drafted(tmp_path, corpus):
    big = tmp_path / "big.jpg"
    with Image.open(corpus / "exif-samples/jpg/gps/DSCN0010.jpg") as img:
        img.convert("RGB").resize((4000, 3000)).save(big, quality=85)
    collage = render_collage([Source(str(big))] * 9, layout="grid", size="landscape", caption=None)
    for p in collage.placements:
        assert p.decoded_size[0] * p.decoded_size[1] <= 4000 * 3000 / 4, p.decoded_size
        assert p.decoded_size[0] >= p.tile.w and p.decoded_size[1] >= p.tile.h


def test_unreadable_pick_is_skipped_with_reason(tmp_path, corpus):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = corpus / "face_recognition/examples/biden.jpg"
    collage = render_collage([Source(str(broken)), Source(str(tmp_path / "gone.jpg")), Source(str(good))],
                             size="square", caption=None)
    assert [p.path for p in collage.placements] == [str(good)]
    reasons = dict(collage.skipped)
    assert "cannot open" in reasons[str(broken)] and reasons[str(tmp_path / "gone.jpg")] == "file is missing"
