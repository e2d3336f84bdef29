"""Highlight films rendered from real files (demo/media.py writers and Pillow) and decoded back with PyAV:
length, size, rate, streams, the title card, faces inside every sampled frame, portraits, odd clips,
broken picks, music and the encoder fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageColor, ImageDraw

from homeroll.daemon.collage import encoder as encoders
from homeroll.daemon.collage import film_audio
from homeroll.daemon.collage.kenburns import Motion, placement_at, project_box
from homeroll.daemon.collage.sources import Source, probe
from homeroll.daemon.collage.video import CROSSFADE, FilmSettings, plan, render_film
from homeroll.demo.media import scene, write_clip, write_jpeg, write_tone

MAGENTA = (255, 0, 255)
CARD = ImageColor.getrgb("#131313")


def _photo(folder: Path, name: str, seed: int, size=(800, 600), face=None) -> Source:
    img = scene(seed, size)
    faces = []
    if face is not None:  # a magenta "face": the test can find it in the decoded frames
        w, h = size
        ImageDraw.Draw(img).rectangle((face[0] * w, face[1] * h, face[2] * w - 1, face[3] * h - 1), fill=MAGENTA)
        faces = [face]
    return Source(str(write_jpeg(folder / name, img, taken=None)), "photo", faces)


def _render(tmp_path: Path, sources, title="Summer in Arezzo", subtitle="June 1–3, 2024 · Arezzo", key="k",
            **settings):
    settings.setdefault("height", 144)
    out = tmp_path / "film.mp4"
    with open(out, "w+b") as fh:
        info = render_film(sources, title, subtitle, fh, FilmSettings(**settings), key=key)
    return info, out


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _streams(path: Path) -> dict[str, av.stream.Stream]:
    with av.open(str(path)) as container:
        return {s.type: (s.codec_context.name, s.frames, s.average_rate, s.codec_context.width,
                         s.codec_context.height, s.codec_context.format.name) if s.type == "video"
                else (s.codec_context.name, s.frames, s.codec_context.sample_rate) for s in container.streams}


def test_length_size_rate_and_streams(tmp_path):
    sources = [_photo(tmp_path, f"p{i}.jpg", i) for i in range(3)]
    sources.insert(1, Source(str(write_clip(tmp_path / "clip.mp4", 2.0, fps=25, tone_hz=600)), "video"))
    info, out = _render(tmp_path, sources, seconds=8, fps=24)
    streams = _streams(out)
    assert streams["video"][:5] == ("h264", 192, 24, 256, 144) and streams["video"][5] == "yuv420p"
    assert streams["audio"][0] == "aac"
    with av.open(str(out)) as container:
        assert container.duration / 1e6 == pytest.approx(8.0, abs=0.1)
    assert (info.duration, info.width, info.height, info.fps, info.encoder) == (8.0, 256, 144, 24, "libx264")
    assert info.sources == [s.path for s in sources]
    assert info.clips == [{"path": sources[1].path, "start": 0.0, "seconds": 2.0}]
    assert info.audio and info.music is None and info.skipped == []


def test_opening_card_shows_title_on_its_background(tmp_path):
    info, out = _render(tmp_path, [_photo(tmp_path, "p.jpg", 1)], seconds=6, fps=10)
    frames = _frames(out)
    card = frames[6]  # 0.6 s: faded in, the photo not yet crossfading in
    near_bg = np.all(np.abs(card.astype(int) - CARD) < 12, axis=2)
    assert near_bg.mean() > 0.85
    band = card[int(card.shape[0] * 0.3):int(card.shape[0] * 0.6)]
    assert (band.min(axis=2) > 180).sum() > 40  # light title text in the middle band
    assert frames[0].mean() < card.mean()       # faded in from black
    assert frames[-1].max() < 40  # the closing card fades to black
    assert info.shots[0]["kind"] == "card" and info.shots[-1]["kind"] == "card"


def test_face_boxes_lie_inside_sampled_frames(tmp_path):
    face = (0.02, 0.30, 0.17, 0.52)  # near the left edge of a 4:3 photo
    sources = [_photo(tmp_path, "edge.jpg", 3, (1200, 900), face),
               _photo(tmp_path, "edge2.jpg", 4, (1200, 900), (0.78, 0.05, 0.97, 0.3))]
    info, out = _render(tmp_path, sources, height=240, seconds=8, fps=10)
    frames = _frames(out)
    height, width = frames[0].shape[:2]
    checked = 0
    for shot in (s for s in info.shots if s["kind"] == "photo"):
        motion = Motion(**{k: tuple(v) if isinstance(v, list) else v for k, v in shot["motion"].items()})
        assert motion.mode == "cover"
        box = next(s.faces[0] for s in sources if s.path == shot["path"])
        first = int(np.ceil((shot["start"] + CROSSFADE) * 10))
        last = int((shot["start"] + shot["seconds"] - CROSSFADE) * 10)
        for k in range(first, last + 1):  # the frames where this photo alone is on screen
            crop, dest = placement_at(motion, (k / 10 - shot["start"]) / shot["seconds"], width, height)
            x0, y0, x1, y1 = project_box(box, crop, dest)
            assert 0 <= x0 and 0 <= y0 and x1 <= width and y1 <= height
            magenta = ((frames[k][..., 0] > 200) & (frames[k][..., 1] < 80) & (frames[k][..., 2] > 200))
            ys, xs = np.nonzero(magenta)
            assert abs(xs.min() - x0) <= 3 and abs(xs.max() + 1 - x1) <= 3, (k, xs.min(), xs.max(), x0, x1)
            assert abs(ys.min() - y0) <= 3 and abs(ys.max() + 1 - y1) <= 3
            assert magenta.sum() > 0.8 * (x1 - x0) * (y1 - y0)  # whole, not cut by the frame's edge
            checked += 1
    assert checked >= 20


def test_portrait_photo_is_fitted_over_a_blurred_fill(tmp_path):
    img = Image.new("RGB", (540, 960), (120, 120, 120))
    ImageDraw.Draw(img).rectangle((0, 0, 539, 959), outline=(255, 255, 255), width=12)
    path = tmp_path / "portrait.jpg"
    img.save(path, quality=95)
    info, out = _render(tmp_path, [Source(str(path))], height=240, seconds=6, fps=10)
    shot = info.shots[1]
    assert shot["motion"]["mode"] == "fit"
    frame = _frames(out)[round((shot["start"] + shot["seconds"] / 2) * 10)]
    white = frame.min(axis=2) > 225
    cols, rows = np.nonzero(white.any(axis=0))[0], np.nonzero(white.any(axis=1))[0]
    shown_w, shown_h = cols.max() - cols.min() + 1, rows.max() - rows.min() + 1
    assert shown_w / shown_h == pytest.approx(540 / 960, abs=0.03)  # its own shape, never stretched
    side = frame[:, : max(1, cols.min() - 4)]
    assert 25 < side.mean() < 120  # not black bars: the photo itself, blurred and dimmed


def test_rotated_vfr_and_ten_bit_clips_play(tmp_path):
    rotated = write_clip(tmp_path / "portrait.mp4", 2.0, size=(320, 180), rotation=90, tone_hz=440)
    vfr = write_clip(tmp_path / "vfr.mp4", 2.0, fps=20, variable_rate=True)
    hdr = write_clip(tmp_path / "hdr.mp4", 2.0, ten_bit=True, seed=3)
    sources = [Source(str(p), "video") for p in (rotated, vfr, hdr)]
    info, out = _render(tmp_path, sources, height=144, seconds=8, fps=30, clip_seconds=1.5)
    assert _streams(out)["video"][1:3] == (240, 30)
    frames = _frames(out)
    clip_shots = [s for s in info.shots if s["kind"] == "clip"]
    assert [s["path"] for s in clip_shots] == [str(rotated), str(vfr), str(hdr)]
    mid = [frames[round((s["start"] + s["seconds"] / 2) * 30)] for s in clip_shots]
    bar = mid[0].min(axis=2) > 235  # the moving bar: vertical as stored, horizontal as the phone showed it
    ys, xs = np.nonzero(bar)
    assert xs.max() - xs.min() > 3 * (ys.max() - ys.min() + 1)
    assert xs.max() - xs.min() + 1 == pytest.approx(144 * 180 / 320, abs=3)  # fitted portrait, not cropped
    assert mid[2].mean() > 40  # the 10-bit frames came out as pictures, not black or green
    assert info.audio  # the rotated clip's sound


def test_broken_and_missing_picks_are_skipped_with_reasons(tmp_path):
    good = [_photo(tmp_path, f"ok{i}.jpg", i) for i in range(2)]
    truncated = tmp_path / "truncated.jpg"
    data = Path(_photo(tmp_path, "full.jpg", 7, (1200, 900)).path).read_bytes()
    truncated.write_bytes(data[: len(data) // 3])  # the header reads, the pixels do not
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not a jpeg at all" * 10)
    sources = [good[0], Source(str(truncated)), Source(str(tmp_path / "gone.jpg")), Source(str(garbage)), good[1]]
    info, out = _render(tmp_path, sources, seconds=6, fps=10)
    reasons = dict(info.skipped)
    assert set(reasons) == {str(truncated), str(tmp_path / "gone.jpg"), str(garbage)}
    assert reasons[str(tmp_path / "gone.jpg")] == "file is missing"
    assert "cannot decode" in reasons[str(truncated)] and "cannot open" in reasons[str(garbage)]
    assert info.sources == [good[0].path, good[1].path]
    assert _streams(out)["video"][1] == 60 and info.shots[-1]["start"] + info.shots[-1]["seconds"] == pytest.approx(6)
    with pytest.raises(ValueError, match="none of the picks"):
        _render(tmp_path, [Source(str(garbage)), Source(str(tmp_path / "gone.jpg"))], seconds=6)


def test_music_is_chosen_by_key_and_silence_writes_no_audio(tmp_path):
    music = tmp_path / "music"
    for i in range(4):
        write_tone(music / f"song{i}.m4a", 3.0, 200 + 100 * i)
    photos = [_photo(tmp_path, "p.jpg", 2)]
    first, out = _render(tmp_path, photos, seconds=5, fps=10, music_dir=music, key="trip:lisbon")
    again, _ = _render(tmp_path, photos, seconds=5, fps=10, music_dir=music, key="trip:lisbon")
    assert first.music == again.music == str(film_audio.music_candidates(music, "trip:lisbon")[0])
    assert first.audio and _streams(out)["audio"][0] == "aac"
    with av.open(str(out)) as container:
        sound = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    rate = encoders.SAMPLE_RATE
    assert np.sqrt(np.mean(sound[:, 2 * rate:int(2.5 * rate)] ** 2)) > 0.05  # music plays in the middle
    mute_clip = Source(str(write_clip(tmp_path / "mute.mp4", 1.5)), "video")
    silent, out = _render(tmp_path, [*photos, mute_clip], seconds=5, fps=10)
    assert not silent.audio and silent.music is None and "audio" not in _streams(out)


def test_hardware_encoder_falls_back_to_libx264(tmp_path, caplog):
    if encoders._probe_encoder("h264_v4l2m2m", 256, 144, 30) is None:
        pytest.skip("this machine's h264_v4l2m2m hardware encoder works (a Pi), so there is no fallback to "
                    "libx264 to show")
    assert encoders.choose_encoder("auto", 256, 144, 30) == "libx264"
    with caplog.at_level(logging.WARNING):
        info, out = _render(tmp_path, [_photo(tmp_path, "p.jpg", 5)], seconds=4, fps=10, encoder="h264_v4l2m2m")
    assert info.encoder == "libx264" and "h264_v4l2m2m does not work here" in caplog.text
    assert _streams(out)["video"][0] == "h264"
    with pytest.raises(ValueError, match="unknown video encoder"):
        encoders.choose_encoder("nvenc", 256, 144, 30)


def test_automatic_length_and_photos_left_out_of_a_short_film(tmp_path):
    photo = _photo(tmp_path, "p.jpg", 1)
    probed = probe(photo)
    for count, expected in ((2, 20.0), (40, 60.0)):
        total, shots = plan([probed] * count, "t", "s", FilmSettings(), [])
        assert total == expected
        assert shots[-1].end == pytest.approx(total)
        assert all(b.start == pytest.approx(a.end - CROSSFADE) for a, b in zip(shots, shots[1:], strict=False))
    skipped: list[tuple[str, str]] = []
    total, shots = plan([probed] * 30, "t", "s", FilmSettings(seconds=20), skipped)
    photos = [s for s in shots if s.kind == "photo"]
    assert len(photos) + len(skipped) == 30 and min(s.seconds for s in photos) >= 1.8
    assert skipped[0][1] == "left out: no room in a 20 s film"


@pytest.mark.parametrize("target", ["unnamed", "write-only", "memory"])
def test_index_first_into_any_seekable_file(tmp_path, target):
    """The export hands an unnamed O_TMPFILE: +faststart must move the index without reopening by name."""
    import io
    import os

    if target == "unnamed":
        out = os.fdopen(os.open(tmp_path, os.O_TMPFILE | os.O_RDWR, 0o600), "w+b")
    elif target == "write-only":
        out = open(tmp_path / "film.mp4", "wb")  # noqa: SIM115 - closed below
    else:
        out = io.BytesIO()
    info = render_film([_photo(tmp_path, "p.jpg", 6)], "Index", "", out, FilmSettings(height=144, seconds=4, fps=10),
                       key="k")
    out.flush()
    data = out.getvalue() if target == "memory" else os.pread(os.open(f"/proc/self/fd/{out.fileno()}", os.O_RDONLY),
                                                              10**8, 0)
    out.close()
    assert data.index(b"moov") < data.index(b"mdat")
    with av.open(io.BytesIO(data)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 40 == round(info.duration * 10)
