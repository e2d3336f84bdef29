"""The highlight film: a timeline of cards, photos and clips, drawn one frame at a time into an MP4.

The timeline is planned before any pixel: an opening card (title, dates and place), the picks in the order
given (the export passes them in time order), a closing card, with crossfades between shots. Photos share the
time that the cards and the clips (at most ``clip_seconds`` of each video) leave; a film too short for every
photo leaves some out, evenly spaced, and says so. Frames are streamed to the encoder: a shot is loaded when it
starts and dropped when it ends, so at most two shots' images are held, and each photo is decoded once, at the
size its closest crop needs. A pick that turns out broken when its shot starts is dropped and the shots after
it re-timed, so the film still ends on time; its sound is laid only when a clip starts, for the same reason.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageDraw, ImageFilter

from homeroll.daemon.collage import caption as captions
from homeroll.daemon.collage import film_audio, kenburns
from homeroll.daemon.collage.crop import centre_of_interest
from homeroll.daemon.collage.encoder import ClipError, ClipReader, FilmWriter, choose_encoder, video_length
from homeroll.daemon.collage.render import STYLES
from homeroll.daemon.collage.sources import Probed, Source, SourceError, decode_for_tile, probe

log = logging.getLogger(__name__)

__all__ = ["FilmInfo", "FilmSettings", "render_film"]

CROSSFADE = 0.6          # seconds two shots overlap
PHOTO_SECONDS = 3.5      # a photo's shot when the length is automatic
MIN_PHOTO = 1.8          # below this a photo is a flash, not a memory
MIN_SHOT = 2 * CROSSFADE + 0.2  # so no more than two shots ever overlap
AUTO_RANGE = (20.0, 60.0)
DRAFT_SLACK = 1.1        # photos may be decoded this much smaller than their closest crop needs
AUDIO_LAG = 1.0          # the sound is mixed this far behind the picture, so a clip's ducking can ramp early
LOOK = STYLES["dark"]


@dataclass(frozen=True)
class FilmSettings:
    height: int = 1080              # 720 for slow Pis; width = height * 16 / 9
    fps: int = 30
    seconds: float | None = None    # None: 20-60 s from the number of picks and clips
    clip_seconds: float = 3.0       # at most this much of each of the memory's own videos
    music_dir: Path | None = None   # the user's own mp3/m4a/ogg/flac; None = no music
    font: str | None = None         # as [export] font
    encoder: str = "auto"           # "auto": h264_v4l2m2m where it opens and encodes a test frame, else libx264
    threads: int = 0                # encoder threads, 0 = codec default
    #: Called once a second of film: the service's stop check, which raises to leave a long render.
    on_second: Callable[[], None] | None = field(default=None, compare=False)

    @property
    def size(self) -> tuple[int, int]:
        height = max(2, self.height // 2 * 2)
        return (height * 16 // 9) // 2 * 2, height  # even sides: yuv420p needs them


@dataclass
class FilmInfo:
    duration: float
    width: int
    height: int
    fps: int
    encoder: str
    sources: list[str]              # photo/video paths used, in order
    clips: list[dict]               # {"path", "start", "seconds"} of each video clip used
    music: str | None               # the music file used
    audio: bool                     # an audio stream was written
    skipped: list[tuple[str, str]]  # (path, reason) of picks that could not be used
    shots: list[dict] = field(default_factory=list)  # every shot's kind, path, start, seconds and motion


def blurred_fill(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The photo itself, cover-cropped, blurred and dimmed: what a portrait stands on instead of bars.
    Blurred at a twelfth of the frame, so it costs one small blur and one upscale per shot."""
    width, height = size
    small = (max(2, width // 12), max(2, height // 12))
    aspect = width / height
    if img.width / img.height > aspect:
        w = img.height * aspect
        box = ((img.width - w) / 2, 0, (img.width + w) / 2, img.height)
    else:
        h = img.width / aspect
        box = (0, (img.height - h) * 0.4, img.width, (img.height - h) * 0.4 + h)
    tiny = img.resize(small, Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    tiny = tiny.filter(ImageFilter.GaussianBlur(max(1.0, small[0] / 40)))
    tiny = Image.eval(tiny, lambda v: int(v * 0.55))
    return tiny.resize(size, Image.Resampling.BILINEAR)


@dataclass
class Shot:
    kind: str                       # "card", "photo" or "clip"
    seconds: float
    probed: Probed | None = None
    start: float = 0.0
    clip_start: float = 0.0         # clip: where in its video it starts
    text: tuple[str, str] = ("", "")
    fade: str = ""                  # card: "in" from black or "out" to black
    order: int = 0                  # photo: its place among the photos (even ones zoom in, odd ones out)
    motion: kenburns.Motion | None = None
    # while the shot plays
    image: Image.Image | None = None
    fill: Image.Image | None = None
    reader: ClipReader | None = None

    @property
    def end(self) -> float:
        return self.start + self.seconds

    @property
    def path(self) -> str:
        return self.probed.source.path if self.probed is not None else ""


def _cards(total: float) -> tuple[float, float]:
    return min(3.0, max(MIN_SHOT, 0.1 * total)), min(2.5, max(MIN_SHOT, 0.08 * total))


def _clip_shot(probed: Probed, clip_seconds: float) -> Shot:
    length = video_length(probed.source.path)
    seconds = max(MIN_SHOT, min(clip_seconds, length or clip_seconds))
    # from a third of the way in, like the collage's poster frame, but never running off the end
    begin = max(0.0, min(length / 3, length - seconds)) if length else 0.0
    return Shot("clip", seconds, probed, clip_start=begin)


def _room(total: float, cards: tuple[float, float], body: list[Shot]) -> float:
    """Seconds the body shots get, counting the overlaps they share with their neighbours."""
    return total - sum(cards) + CROSSFADE * (len(body) + 1)


def _keep_evenly(count: int, keep: int) -> set[int]:
    return {math.floor((i + 0.5) * count / keep) for i in range(keep)}


def _fit_body(total: float, cards: tuple[float, float], body: list[Shot], skipped: list[tuple[str, str]]) -> list[Shot]:
    """Shorten clips, then leave out photos evenly, until every photo gets at least MIN_PHOTO."""
    clips = [s for s in body if s.kind == "clip"]
    photos = [s for s in body if s.kind == "photo"]
    clip_total = sum(s.seconds for s in clips)
    share = _room(total, cards, body) * (0.5 if photos else 1.0)
    if clip_total > share and clips:
        for s in clips:
            s.seconds = max(MIN_SHOT, s.seconds * share / clip_total)
        clip_total = sum(s.seconds for s in clips)
    fits = math.floor((total - sum(cards) + CROSSFADE * (len(clips) + 1) - clip_total) / (MIN_PHOTO - CROSSFADE))
    if photos and fits < len(photos):
        kept = _keep_evenly(len(photos), max(0, fits))
        for i, s in enumerate(photos):
            if i not in kept:
                skipped.append((s.path, f"left out: no room in a {total:g} s film"))
        gone = {id(s) for i, s in enumerate(photos) if i not in kept}
        body = [s for s in body if id(s) not in gone]
    if not body or _room(total, cards, body) < clip_total - 1e-6:
        raise ValueError(f"a {total:g} s film is too short for any of the picks")
    return body


def _time(shots: list[Shot], first: int, total: float) -> None:
    """Give the photos from ``first`` on the time left to ``total``, and lay out start times from there."""
    rest = shots[first:]
    fixed = sum(s.seconds for s in rest if s.kind != "photo")
    photos = [s for s in rest if s.kind == "photo"]
    begin = shots[first].start
    room = total - begin + CROSSFADE * (len(rest) - 1) - fixed
    if photos:
        for s in photos:
            s.seconds = room / len(photos)
    else:
        rest[-1].seconds += room  # only the closing card is left to hold the time
    clock = begin
    for s in rest:
        s.start = clock
        clock += s.seconds - CROSSFADE


def plan(usable: list[Probed], title: str, subtitle: str, settings: FilmSettings,
         skipped: list[tuple[str, str]]) -> tuple[float, list[Shot]]:
    """(film seconds, shots) for the usable picks, in their order."""
    body = [_clip_shot(p, settings.clip_seconds) if p.source.kind == "video" else Shot("photo", PHOTO_SECONDS, p)
            for p in usable]
    total = settings.seconds
    if total is None:
        natural = sum(_cards(AUTO_RANGE[1])) + sum(s.seconds for s in body) - CROSSFADE * (len(body) + 1)
        total = min(AUTO_RANGE[1], max(AUTO_RANGE[0], natural))
    if total <= 0:
        raise ValueError("the film needs a length above 0 s")
    cards = _cards(total)
    body = _fit_body(total, cards, body, skipped)
    shots = [Shot("card", cards[0], text=(title, subtitle), fade="in"), *body,
             Shot("card", cards[1], text=(title, subtitle), fade="out")]
    for n, s in enumerate(x for x in shots if x.kind == "photo"):
        s.order = n
    _time(shots, 0, total)
    return total, shots


def _card(size: tuple[int, int], title: str, subtitle: str, font: str | None, closing: bool) -> Image.Image:
    width, height = size
    img = Image.new("RGB", size, LOOK.background)
    draw = ImageDraw.Draw(img)
    title_path, title = captions.pick_font(title, "title", font)
    sub_path, subtitle = captions.pick_font(subtitle, "text", font)
    title_size = round(height * (0.055 if closing else 0.075))
    sub_size = round(height * 0.036)
    title_font, title = captions.fit_text(title, title_path, title_size, int(width * 0.84), round(title_size * 0.55))
    sub_font, subtitle = captions.fit_text(subtitle, sub_path, sub_size, int(width * 0.84), round(sub_size * 0.7))
    middle = height * 0.47
    if title:
        draw.text((width / 2, middle), title, font=title_font, fill=LOOK.text, anchor="ms")
    if subtitle:
        draw.text((width / 2, middle + sub_size * 1.2), subtitle, font=sub_font, fill=LOOK.muted, anchor="mt")
    return img


def _load_photo(shot: Shot, size: tuple[int, int]) -> None:
    probed = shot.probed
    assert probed is not None
    width, height = size
    faces = list(probed.source.faces)
    index = shot.order
    motion = kenburns.plan_motion(probed.aspect, width / height, faces, index)
    if motion.mode == "cover":
        need_w = math.ceil(width / motion.smallest_crop)
    else:
        need_w = math.ceil(min(width, height * probed.aspect))
    need_h = max(1, math.ceil(need_w / probed.aspect))
    # a little short of the closest crop's need lets JPEG draft halve a 12 MP photo: the last frames of a
    # zoom-in are then upscaled by up to DRAFT_SLACK, which motion hides, for a quarter of the pixels
    img = decode_for_tile(probed, math.ceil(need_w / DRAFT_SLACK), math.ceil(need_h / DRAFT_SLACK))
    if img.width > need_w * 1.15:  # the decoder's whole factors leave up to 2x: every frame would pay for it
        img = img.resize((need_w, need_h), Image.Resampling.LANCZOS, reducing_gap=2.0)
    if motion.mode == "fit":
        shot.fill = blurred_fill(img, size)
    elif not faces:
        motion = kenburns.plan_motion(probed.aspect, width / height, faces, index, interest=centre_of_interest(img))
    shot.motion, shot.image = motion, img


def _load(shot: Shot, size: tuple[int, int], settings: FilmSettings, mix: film_audio.Mix) -> None:
    if shot.kind == "card":
        shot.image = _card(size, *shot.text, settings.font, closing=shot.fade == "out")
    elif shot.kind == "photo":
        _load_photo(shot, size)
    else:
        shot.reader = ClipReader(shot.path, shot.clip_start, size, blurred_fill)
        try:
            sound = film_audio.decode_audio(shot.path, shot.clip_start, shot.seconds)
        except film_audio.AudioError as exc:
            log.warning("video: %s plays without sound: %s", shot.path, exc)
            sound = None
        if sound is not None and sound.shape[1] and float(abs(sound).max()) > 1e-4:
            mix.add_clip(shot.start, sound, CROSSFADE)


def _unload(shot: Shot) -> None:
    if shot.reader is not None:
        shot.reader.close()
    shot.image = shot.fill = shot.reader = None


def _draw(shot: Shot, t: float, size: tuple[int, int]) -> Image.Image:
    local = t - shot.start
    if shot.kind == "clip":
        assert shot.reader is not None
        return shot.reader.frame_at(local)
    assert shot.image is not None
    if shot.kind == "card":
        edge = 0.5 if shot.fade == "in" else 0.8
        alpha = local / edge if shot.fade == "in" else (shot.seconds - local) / edge
        if alpha >= 1:
            return shot.image
        return Image.blend(Image.new("RGB", size, (0, 0, 0)), shot.image, max(0.0, alpha))
    assert shot.motion is not None
    crop, dest = kenburns.placement_at(shot.motion, local / shot.seconds, *size)
    img = shot.image
    box = (crop[0] * img.width, crop[1] * img.height, crop[2] * img.width, crop[3] * img.height)
    if shot.motion.mode == "cover":
        return img.resize(size, Image.Resampling.BILINEAR, box=box)
    x0, y0 = round(dest[0]), round(dest[1])
    w, h = min(size[0] - x0, round(dest[2] - dest[0])), min(size[1] - y0, round(dest[3] - dest[1]))
    assert shot.fill is not None
    frame = shot.fill.copy()
    frame.paste(img.resize((max(1, w), max(1, h)), Image.Resampling.BILINEAR), (x0, y0))
    return frame


def _probe_all(sources: list[Source], skipped: list[tuple[str, str]]) -> list[Probed]:
    usable = []
    for src in sources:
        try:
            probed = probe(src)
            probed.poster = None  # the size is known; clips are read by ClipReader, and a 4K poster is 25 MB
            usable.append(probed)
        except SourceError as exc:
            log.warning("video: skipping %s: %s", src.path, exc)
            skipped.append((src.path, str(exc)))
    if not usable:
        first = f" ({skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise ValueError(f"none of the picks can be used for a film{first}")
    return usable


def _music(settings: FilmSettings, key: str, total: float) -> tuple[str | None, film_audio.Mix]:
    for path in film_audio.music_candidates(settings.music_dir, key):
        try:
            samples = film_audio.decode_audio(path, 0.0, total)
        except film_audio.AudioError as exc:
            log.warning("video: skipping music %s: %s", path, exc)
            continue
        if samples is not None and samples.shape[1]:
            return str(path), film_audio.Mix(total, samples)
    return None, film_audio.Mix(total)


def render_film(sources: list[Source], title: str, subtitle: str, out: BinaryIO, settings: FilmSettings,
                *, key: str) -> FilmInfo:
    """Render the picks into an MP4 written to ``out`` (seekable); unusable picks are skipped and reported,
    and ValueError says why when none can be used."""
    size = settings.size
    skipped: list[tuple[str, str]] = []
    total, shots = plan(_probe_all(sources, skipped), title, subtitle, settings, skipped)
    music, mix = _music(settings, key, total)
    audio = music is not None or any(s.kind == "clip" and film_audio.has_audio(s.path) for s in shots)
    encoder = choose_encoder(settings.encoder, *size, settings.fps)
    writer = FilmWriter(out, *size, settings.fps, encoder, threads=settings.threads, audio=audio)
    try:
        _frames(shots, total, size, settings, mix, writer, skipped)
        writer.write_audio(mix.take(None))
        writer.close()
    except BaseException:
        writer.abort()
        for s in shots:
            _unload(s)
        raise
    used = [s for s in shots if s.kind != "card"]
    return FilmInfo(
        duration=writer.frames / settings.fps, width=size[0], height=size[1], fps=settings.fps, encoder=encoder,
        sources=[s.path for s in used],
        clips=[{"path": s.path, "start": round(s.clip_start, 3), "seconds": round(s.seconds, 3)}
               for s in used if s.kind == "clip"],
        music=music, audio=audio, skipped=skipped,
        shots=[{"kind": s.kind, "path": s.path, "start": s.start, "seconds": s.seconds,
                "motion": asdict(s.motion) if s.motion is not None else None} for s in shots])


def _frames(shots: list[Shot], total: float, size: tuple[int, int], settings: FilmSettings,
            mix: film_audio.Mix, writer: FilmWriter, skipped: list[tuple[str, str]]) -> None:
    """Draw and encode every frame; shots are loaded as they start and let go as they end."""
    for k in range(max(1, round(total * settings.fps))):
        t = k / settings.fps
        if settings.on_second is not None and k % settings.fps == 0:
            settings.on_second()
        active = _active(shots, t, total, size, settings, mix, skipped)
        for s in shots:
            if s.end <= t and (s.image is not None or s.reader is not None):
                _unload(s)
        frame = _draw(active[0], t, size)
        if len(active) > 1:
            frame = Image.blend(frame, _draw(active[1], t, size), min(1.0, (t - active[1].start) / CROSSFADE))
        writer.write_video(frame)
        writer.write_audio(mix.take(t - AUDIO_LAG))
    for s in shots:
        _unload(s)


def _active(shots: list[Shot], t: float, total: float, size: tuple[int, int], settings: FilmSettings,
            mix: film_audio.Mix, skipped: list[tuple[str, str]]) -> list[Shot]:
    """The (one or two) shots on screen at ``t``, loaded; a shot that fails to load is dropped and the rest
    re-timed to end at ``total``."""
    while True:
        active = [s for s in shots if s.start <= t + 1e-9 and t < s.end - 1e-9] or [shots[-1]]
        failed = None
        for s in active:
            if s.image is None and s.reader is None:
                try:
                    _load(s, size, settings, mix)
                except (SourceError, ClipError) as exc:
                    failed = (s, str(exc))
                    break
        if failed is None:
            return active[-2:]
        bad, reason = failed
        log.warning("video: skipping %s: %s", bad.path, reason)
        skipped.append((bad.path, reason))
        if not any(s.kind != "card" for s in shots if s is not bad):
            # the title and closing cards alone are not a film: the export fails and is tried again
            raise ValueError(f"none of the photos or clips could be decoded (the last: {reason})")
        index = shots.index(bad)
        shots.pop(index)
        shots[index].start = bad.start
        _time(shots, index, total)

