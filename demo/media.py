"""Media writers: photo-like pictures and JPEG/HEIC/MP4 files with exact metadata.

The demo roll is made of them, and so are the tests' and benches' media: a test states the EXIF time,
offset, GPS or QuickTime atoms it needs and gets a real file that the real readers parse, so no reader
is ever mocked.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageDraw


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def build_exif(taken: datetime | None, offset: str | None = None, gps: tuple[float, float] | None = None,
               make: str | None = None, model: str | None = None, orientation: int | None = None,
               subsec: str | None = None) -> Image.Exif:
    exif = Image.Exif()
    if make:
        exif[ExifTags.Base.Make] = make
    if model:
        exif[ExifTags.Base.Model] = model
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if taken is not None:
        sub[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
        sub[ExifTags.Base.DateTimeDigitized] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if subsec:
        sub[ExifTags.Base.SubsecTimeOriginal] = subsec
    if offset is not None:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None:
        lat, lon = gps
        g = exif.get_ifd(ExifTags.IFD.GPSInfo)
        g[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        g[ExifTags.GPS.GPSLatitude] = _dms(lat)
        g[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        g[ExifTags.GPS.GPSLongitude] = _dms(lon)
    return exif


def write_jpeg(path: Path, image: Image.Image, **exif) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=85, exif=build_exif(**exif))
    return path


def write_heic(path: Path, image: Image.Image, **exif) -> Path:
    import pillow_heif

    pillow_heif.register_heif_opener()
    path.parent.mkdir(parents=True, exist_ok=True)
    # x265's ultrafast preset: a demo HEIC in well under a second instead of several on a small CPU
    image.save(path, "HEIF", quality=60, enc_params={"preset": "ultrafast"}, exif=build_exif(**exif))
    return path


def write_video(path: Path, frames: int = 20, size: tuple[int, int] = (320, 240), creation_utc: datetime | None = None,
                gps: tuple[float, float] | None = None, apple_local: datetime | None = None,
                apple_offset: str | None = None, seed: int = 0) -> Path:
    """An MP4/MOV with the metadata phones write: UTC creation_time, ISO 6709 location, Apple's local date."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    is_mov = path.suffix.lower() == ".mov"
    options = {"movflags": "use_metadata_tags"} if is_mov else {}
    container = av.open(str(path), "w", format="mov" if is_mov else "mp4", options=options)
    if creation_utc is not None:
        container.metadata["creation_time"] = creation_utc.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    if gps is not None:
        iso = f"{gps[0]:+08.4f}{gps[1]:+09.4f}/"
        container.metadata["com.apple.quicktime.location.ISO6709" if is_mov else "location"] = iso
    if apple_local is not None and is_mov:
        container.metadata["com.apple.quicktime.creationdate"] = apple_local.strftime("%Y-%m-%dT%H:%M:%S") + (
            (apple_offset or "+0000").replace(":", ""))
    stream = container.add_stream("mpeg4", rate=10)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=3)
    for i in range(frames):
        pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        pixels[:] = (base + i * 6) % 255
        pixels[:, (i * 12) % size[0]: (i * 12) % size[0] + 20] = 255
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def scene(seed: int, size: tuple[int, int] = (1600, 1200), palette: str = "home", label: str | None = None) -> Image.Image:
    """A photo-like picture: sky gradient, hills, a sun, texture. Different per seed (distinct hashes)."""
    rng = random.Random(seed)
    w, h = size
    palettes = {
        "home": ((120, 160, 210), (70, 110, 60)),
        "lisbon": ((90, 170, 235), (215, 170, 110)),
        "sintra": ((150, 190, 220), (40, 100, 50)),
        "tokyo": ((245, 190, 200), (90, 90, 110)),
        "kyoto": ((250, 205, 170), (120, 60, 50)),
        "party": ((250, 220, 150), (160, 60, 120)),
        "xmas": ((30, 40, 80), (200, 30, 40)),
    }
    sky, ground = palettes.get(palette, palettes["home"])
    y = np.linspace(0, 1, h)[:, None]
    top = np.array(sky, dtype=np.float32)
    bottom = np.array([min(255, c + 60) for c in sky], dtype=np.float32)
    # One column, then repeated as uint8: the same pixels as repeating the float rows, at a fraction of the cost
    column = (top * (1 - y[..., None]) + bottom * y[..., None]).astype(np.uint8)
    image = Image.fromarray(column.repeat(w, axis=1), "RGB")
    draw = ImageDraw.Draw(image)
    sun_x, sun_y, r = rng.randint(w // 8, w - w // 8), rng.randint(h // 10, h // 3), rng.randint(h // 14, h // 7)
    draw.ellipse((sun_x - r, sun_y - r, sun_x + r, sun_y + r), fill=(255, 236, 170))
    for layer in range(3):
        base_y = h * (0.55 + 0.12 * layer)
        amp, freq, phase = rng.uniform(20, 90), rng.uniform(1.5, 4), rng.uniform(0, 6.28)
        shade = tuple(max(0, min(255, int(c * (1 - 0.18 * layer) + rng.randint(-20, 20)))) for c in ground)
        points = [(x, base_y + amp * math.sin(freq * x / w * 6.28 + phase)) for x in range(0, w + 40, 40)]
        draw.polygon(points + [(w, h), (0, h)], fill=shade)
    for _ in range(rng.randint(3, 9)):
        x, yy, s = rng.randint(0, w), rng.randint(h // 2, h), rng.randint(20, 90)
        draw.rectangle((x, yy - s * 2, x + s, yy), fill=tuple(rng.randint(30, 230) for _ in range(3)))
    # The noise stays the same int64 stream (same pictures as before); adding and clipping in int16 is 6x cheaper
    noise = np.asarray(image, dtype=np.int16) + np.random.default_rng(seed).integers(-9, 10, (h, w, 3)).astype(np.int16)
    return Image.fromarray(np.clip(noise, 0, 255, out=noise).astype(np.uint8), "RGB")


def _tone(seconds: float, hz: float, rate: int, phase: float = 0.0) -> np.ndarray:
    """A stereo sine at ``hz``, quiet enough to mix: (2, n) float32."""
    t = np.arange(round(seconds * rate), dtype=np.float64) / rate
    wave = (0.4 * np.sin(2 * math.pi * hz * t + phase)).astype(np.float32)
    return np.stack([wave, wave])


def _mux_tone(container, stream, samples: np.ndarray, rate: int) -> None:
    import av

    size = stream.codec_context.frame_size or 1024
    layout = "stereo"
    fmt = stream.codec_context.format.name
    for pos in range(0, samples.shape[1], size):
        chunk = samples[:, pos:pos + size]
        if fmt.endswith("p"):
            data = chunk if fmt == "fltp" else (chunk * 32767).astype(np.int16)
        else:  # packed formats (flac's s16) interleave the channels in one plane
            data = (chunk.T.reshape(1, -1) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt, layout=layout)
        frame.sample_rate, frame.pts = rate, pos
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_tone(path: Path, seconds: float = 5.0, hz: float = 440.0, rate: int = 44100) -> Path:
    """A music file of a steady tone (.m4a AAC, .mp3, .ogg Opus or .flac): stands in for a user's music."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    codec, fmt, sample_fmt = {".m4a": ("aac", "ipod", "fltp"), ".mp3": ("libmp3lame", "mp3", "fltp"),
                              ".ogg": ("libopus", "ogg", "s16"), ".flac": ("flac", "flac", "s16")}[path.suffix.lower()]
    rate = 48000 if codec == "libopus" else rate  # Opus runs at 48 kHz only
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        stream.format = sample_fmt
        _mux_tone(container, stream, _tone(seconds, hz, rate), rate)
    return path


def write_clip(path: Path, seconds: float = 2.0, fps: float = 30, size: tuple[int, int] = (320, 180), *,
               rotation: int = 0, variable_rate: bool = False, ten_bit: bool = False, tone_hz: float | None = None,
               seed: int = 0) -> Path:
    """A phone-like clip: H.264 (or 10-bit HEVC tagged BT.2020/HLG with ``ten_bit``), optional AAC tone,
    a display rotation (``rotation`` degrees, as a phone writes for portrait), and with ``variable_rate``
    frame gaps that alternate 1 and 3 ticks of 1/(2 fps). The picture is a bar moving left to right over a
    gradient, so the frame shown at a time can be told from its content."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 48000
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx265" if ten_bit else "libx264", rate=round(fps))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p10le" if ten_bit else "yuv420p"
        stream.options = {"preset": "ultrafast"}
        if ten_bit:
            stream.options["x265-params"] = "log-level=error"
            ctx = stream.codec_context
            ctx.color_primaries, ctx.color_trc, ctx.colorspace = 9, 18, 9  # BT.2020, HLG, BT.2020 NCL
        if variable_rate:
            stream.codec_context.time_base = Fraction(1, round(2 * fps))
        if rotation:
            stream.set_display_rotation(rotation)
        audio = None
        if tone_hz is not None:
            audio = container.add_stream("aac", rate=rate)
            audio.layout = "stereo"
        base = np.random.default_rng(seed).integers(40, 200, size=3)
        w, h = size
        ramp = np.linspace(0, 60, w, dtype=np.float32)[None, :, None]
        tick, n = 0, 0
        end = seconds * (2 * fps if variable_rate else fps)
        while tick < end:
            pixels = np.clip(base[None, None, :] + ramp, 0, 255).astype(np.uint8).repeat(h, axis=0)
            x = int(tick / end * (w - 20))
            pixels[:, x:x + 20] = 255
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = tick
            for packet in stream.encode(frame):
                container.mux(packet)
            n += 1
            tick += (1 if n % 2 else 3) if variable_rate else 1
        for packet in stream.encode():
            container.mux(packet)
        if audio is not None:
            _mux_tone(container, audio, _tone(seconds, tone_hz, rate), rate)
    return path
