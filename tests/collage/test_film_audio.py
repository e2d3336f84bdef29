"""The film's sound with real files: music chosen per memory and stable, decoded from every allowed format,
faded, and ducked under a clip's sound."""

from __future__ import annotations

import numpy as np
import pytest

from homeroll.daemon.collage import film_audio
from homeroll.daemon.collage.encoder import SAMPLE_RATE
from homeroll.demo.media import write_clip, write_tone


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


@pytest.fixture
def music_dir(tmp_path):
    folder = tmp_path / "music"
    for i, name in enumerate(["a.m4a", "b.mp3", "sub/c.ogg", "d.flac"]):
        write_tone(folder / name, 1.0, 220 + 110 * i)
    (folder / "notes.txt").write_text("not music")
    write_tone(folder / ".hidden" / "e.flac", 1.0)
    return folder


def test_music_choice_is_deterministic_and_spread(music_dir):
    names = {p.relative_to(music_dir).as_posix() for p in film_audio.music_candidates(music_dir, "x")}
    assert names == {"a.m4a", "b.mp3", "sub/c.ogg", "d.flac"}  # no text file, nothing hidden
    keys = [f"trip:{i}" for i in range(40)]
    first = {k: film_audio.music_candidates(music_dir, k)[0] for k in keys}
    assert first == {k: film_audio.music_candidates(music_dir, k)[0] for k in keys}
    assert len(set(first.values())) >= 3  # memories do not all get the same song


def test_adding_a_song_moves_only_the_memories_that_now_rank_it_first(music_dir):
    keys = [f"trip:{i}" for i in range(40)]
    before = {k: film_audio.music_candidates(music_dir, k)[0] for k in keys}
    new = write_tone(music_dir / "new.flac", 1.0, 990)
    after = {k: film_audio.music_candidates(music_dir, k)[0] for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert moved and all(after[k] == new for k in moved)


def test_no_folder_means_no_music(tmp_path):
    assert film_audio.music_candidates(None, "k") == []
    assert film_audio.music_candidates(tmp_path / "absent", "k") == []


@pytest.mark.parametrize("name", ["t.m4a", "t.mp3", "t.ogg", "t.flac"])
def test_decode_every_music_format(tmp_path, name):
    path = write_tone(tmp_path / name, 2.0, 440)
    samples = film_audio.decode_audio(path, 0.5, 1.0)
    assert samples.shape == (2, SAMPLE_RATE)
    assert _rms(samples) == pytest.approx(0.4 / np.sqrt(2), rel=0.1)


def test_clip_sound_silence_and_broken(tmp_path):
    loud = write_clip(tmp_path / "loud.mp4", 2.0, tone_hz=500)
    mute = write_clip(tmp_path / "mute.mp4", 2.0)
    assert film_audio.decode_audio(loud, 0.0, 1.0).shape == (2, SAMPLE_RATE)
    assert film_audio.has_audio(loud) and not film_audio.has_audio(mute)
    assert film_audio.decode_audio(mute, 0.0, 1.0) is None
    broken = tmp_path / "broken.m4a"
    broken.write_bytes(b"\0" * 100)
    with pytest.raises(film_audio.AudioError):
        film_audio.decode_audio(broken, 0.0, 1.0)


def test_music_fades_and_ducks_under_a_clip(tmp_path):
    music = film_audio.decode_audio(write_tone(tmp_path / "m.flac", 8.0, 220), 0.0, 8.0)
    mix = film_audio.Mix(8.0, music)
    clip = np.zeros((2, 2 * SAMPLE_RATE), np.float32)  # silent clip sound: what is left is the music's gain
    mix.add_clip(4.0, clip, 0.3)
    out = np.concatenate([mix.take(t) for t in np.arange(0.5, 8.5, 0.5)], axis=1)
    assert out.shape == (2, 8 * SAMPLE_RATE)

    def level(a: float, b: float) -> float:
        return _rms(out[:, round(a * SAMPLE_RATE):round(b * SAMPLE_RATE)])

    assert level(0.0, 0.05) < 0.02 * level(2.0, 3.0)          # faded in
    assert level(7.95, 8.0) < 0.02 * level(2.0, 3.0)          # faded out
    ducked = level(4.5, 5.5) / level(2.0, 3.0)
    assert ducked == pytest.approx(film_audio.DUCKED_GAIN / film_audio.MUSIC_GAIN, rel=0.05)
    assert level(3.0, 3.5) > 0.9 * level(2.0, 3.0)            # the ramp starts only just before the clip
