"""The film's sound: each clip's own audio where it plays, and the user's music under it.

Music is the household's own (``[export] music_dir``); homeroll never ships or fetches any. The track
is chosen by rendezvous hashing of the memory's key with each file's name, so a memory keeps its track
on every re-export and adding a song to the folder only moves the memories that now rank it first. The
music fades in and out and is ducked (lowered, with short ramps) wherever a clip's own sound plays,
because people talking in a clip matter more than the song.

Audio is small beside video (a 60 s stereo track is 23 MB of floats), so the music is decoded once up
front; clip sound is added when the clip's shot starts, and the writer takes the mix in order a little
behind the picture, so a shot that moves never leaves its sound behind.
"""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path

import numpy as np

from homeroll.daemon.collage.encoder import SAMPLE_RATE

log = logging.getLogger(__name__)

__all__ = ["MUSIC_SUFFIXES", "AudioError", "Mix", "decode_audio", "music_candidates"]

MUSIC_SUFFIXES = frozenset({".mp3", ".m4a", ".ogg", ".oga", ".opus", ".flac"})
MUSIC_GAIN = 0.6        # under nothing: music sits below full scale
DUCKED_GAIN = 0.15      # under a clip's sound
DUCK_RAMP = 0.35        # seconds the music takes to go down and back up
FADE_IN = 1.5
FADE_OUT = 3.0


class AudioError(Exception):
    """Sound that cannot be decoded, with a reason a person can read."""


def music_candidates(music_dir: Path | None, key: str) -> list[Path]:
    """The music files in ``music_dir`` (recursively, hidden ones skipped), best first for ``key``: the
    caller plays the first that decodes."""
    if music_dir is None or not Path(music_dir).is_dir():
        if music_dir is not None:
            log.warning("video: music folder %s is not a folder; no music", music_dir)
        return []
    root = Path(music_dir)
    files = [p for p in root.rglob("*") if p.suffix.lower() in MUSIC_SUFFIXES and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]

    def weight(path: Path) -> bytes:
        return hashlib.sha256(f"{key}\0{path.relative_to(root).as_posix()}".encode()).digest()

    return sorted(files, key=weight, reverse=True)


def _seek(container, stream, start: float) -> None:
    if start > 0.5 and stream.time_base:
        container.seek(int(start / stream.time_base), stream=stream, backward=True, any_frame=False)


def decode_audio(path: str | Path, start: float, seconds: float) -> np.ndarray | None:
    """(2, n) float32 samples at SAMPLE_RATE of ``seconds`` from ``start`` (fewer if the file ends first),
    or None when the file has no sound. Raises AudioError if the sound cannot be decoded."""
    import av

    want = max(0, round(seconds * SAMPLE_RATE))
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            _seek(container, stream, start)
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
            parts: list[np.ndarray] = []
            have, skip = 0, None
            for frame in container.decode(stream):
                if skip is None:  # the first frame after a seek starts at or before ``start``
                    skip = max(0, round((start - (frame.time or 0.0)) * SAMPLE_RATE))
                for out in resampler.resample(frame):
                    have += _take(out.to_ndarray(), parts)
                if have - (skip or 0) >= want:
                    break
    except Exception as exc:  # noqa: BLE001 - PyAV raises many types; all mean "unusable sound"
        raise AudioError(f"cannot decode sound ({type(exc).__name__}: {exc})") from None
    if not parts:
        return np.zeros((2, 0), np.float32)
    samples = np.concatenate(parts, axis=1)[:, skip or 0:]
    return np.ascontiguousarray(samples[:, :want], dtype=np.float32)


def _take(block: np.ndarray, parts: list[np.ndarray]) -> int:
    """Append a resampled block as (2, n) float32 (mono doubled); returns its length."""
    block = np.asarray(block, dtype=np.float32)
    if block.ndim == 1:
        block = block[None, :]
    if block.shape[0] == 1:
        block = np.repeat(block, 2, axis=0)
    parts.append(block[:2])
    return block.shape[1]


def _ramp(n: int, rising: bool) -> np.ndarray:
    """A raised-cosine ramp of n samples: no click at either end."""
    if n <= 0:
        return np.ones(0, np.float32)
    curve = 0.5 - 0.5 * np.cos(np.linspace(0, math.pi, n, dtype=np.float32))
    return curve if rising else curve[::-1]


def _fade_edges(samples: np.ndarray, fade_in: float, fade_out: float) -> np.ndarray:
    n = samples.shape[1]
    head = min(n // 2, round(fade_in * SAMPLE_RATE))
    tail = min(n // 2, round(fade_out * SAMPLE_RATE))
    samples = samples.copy()
    samples[:, :head] *= _ramp(head, True)
    if tail:
        samples[:, n - tail:] *= _ramp(tail, False)
    return samples


class Mix:
    """The film's track, built as the film goes: music laid down at once, clip sound as clips start."""

    def __init__(self, seconds: float, music: np.ndarray | None = None) -> None:
        self.length = max(1, round(seconds * SAMPLE_RATE))
        self.music = None
        if music is not None and music.shape[1]:
            music = music[:, :self.length]
            self.music = _fade_edges(music, FADE_IN, FADE_OUT)
        self.clips: np.ndarray | None = None
        self.ducks: list[tuple[int, int]] = []
        self.position = 0

    def add_clip(self, at: float, samples: np.ndarray, fade: float) -> None:
        """Lay a clip's sound from ``at`` seconds, faded over ``fade`` at both ends (the crossfade)."""
        start = max(0, round(at * SAMPLE_RATE))
        if start < self.position:
            log.debug("video: clip sound at %.2f s starts before the written sound", at)
            start = self.position
        samples = _fade_edges(samples, fade, fade)[:, :max(0, self.length - start)]
        if samples.shape[1] == 0:
            return
        if self.clips is None:
            self.clips = np.zeros((2, self.length), np.float32)
        self.clips[:, start:start + samples.shape[1]] += samples
        self.ducks.append((start, start + samples.shape[1]))

    def _music_gain(self, lo: int, hi: int) -> np.ndarray:
        t = np.arange(lo, hi, dtype=np.float64)
        ramp = DUCK_RAMP * SAMPLE_RATE
        duck = np.zeros(hi - lo)
        for start, end in self.ducks:
            inside = np.minimum((t - (start - ramp)) / ramp, ((end + ramp) - t) / ramp)
            duck = np.maximum(duck, np.clip(inside, 0.0, 1.0))
        return (MUSIC_GAIN - (MUSIC_GAIN - DUCKED_GAIN) * duck).astype(np.float32)

    def take(self, until: float | None = None) -> np.ndarray:
        """The mixed samples from where the last call stopped to ``until`` seconds (None: the end)."""
        hi = self.length if until is None else min(self.length, max(0, round(until * SAMPLE_RATE)))
        lo = self.position
        if hi <= lo:
            return np.zeros((2, 0), np.float32)
        out = np.zeros((2, hi - lo), np.float32)
        if self.music is not None and lo < self.music.shape[1]:
            part = self.music[:, lo:min(hi, self.music.shape[1])]
            out[:, :part.shape[1]] += part * self._music_gain(lo, lo + part.shape[1])
        if self.clips is not None:
            out += self.clips[:, lo:hi]
        self.position = hi
        return np.clip(out, -1.0, 1.0, out=out)


def has_audio(path: str | Path) -> bool:
    """True if the file has a sound stream (a clip without one plays silently)."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except Exception:  # noqa: BLE001 - a file that does not open has no sound to offer
        return False
