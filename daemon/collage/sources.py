"""Opening the picks: probe each file's displayed size cheaply, then decode only as much as a tile needs.

JPEGs are decoded with ``Image.draft`` (libjpeg's DCT scaling: 1/2, 1/4, 1/8), so a 12 MP photo headed
for a 1280 px tile is decoded at 3 MP or less. HEIC has no scaled decode in libheif; it is decoded once and
reduced straight away. A video contributes a poster frame (PyAV), taken a third of the way in because
first frames are often black or blurred. Every failure becomes a SourceError with a one-line reason.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from homeroll.daemon.collage.crop import Box

try:  # HEIC/HEIF support; without it those files are skipped with a reason
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - a declared dependency
    pillow_heif = None

log = logging.getLogger(__name__)

__all__ = ["Probed", "Source", "SourceError", "decode_for_tile", "probe"]

#: EXIF orientations whose stored image is transposed (width and height swap on display).
_TRANSPOSED = {5, 6, 7, 8}


class SourceError(Exception):
    """A pick that cannot be used, with a reason a person can read."""


@dataclass
class Source:
    """One pick: its file, its kind, and its face boxes (left, top, right, bottom), normalised 0..1 to
    the displayed image."""

    path: str
    kind: str = "photo"
    faces: list[Box] = field(default_factory=list)
    item_id: int | None = None


@dataclass
class Probed:
    source: Source
    width: int                      # displayed (orientation applied)
    height: int
    orientation: int = 1
    poster: Image.Image | None = None  # video only: the decoded poster frame

    @property
    def aspect(self) -> float:
        return self.width / self.height


def _is_video(source: Source) -> bool:
    return source.kind == "video"


def probe(source: Source) -> Probed:
    """Read just enough to know the displayed size; raises SourceError for anything unusable."""
    if not os.path.isfile(source.path):
        raise SourceError("file is missing")
    if _is_video(source):
        poster = _poster_frame(source.path)
        return Probed(source, poster.width, poster.height, 1, poster)
    try:
        with Image.open(source.path) as img:
            width, height = img.size
            orientation = _orientation(img)
    except Image.DecompressionBombError as exc:
        raise SourceError(f"too many pixels ({exc})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise SourceError(f"cannot open image ({exc})") from None
    if width < 1 or height < 1:
        raise SourceError("image has no pixels")
    if orientation in _TRANSPOSED:
        width, height = height, width
    return Probed(source, width, height, orientation)


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - broken EXIF means "as stored"
        return 1
    return value if 1 <= value <= 8 else 1


def _to_rgb(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB for pasting: transparency flattened onto ``background``, CMYK/palette/16-bit converted."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, background)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return img.point(lambda v: v / 256).convert("L").convert("RGB")
    return img.convert("RGB")


def _convert_icc(img: Image.Image, icc: bytes | None) -> Image.Image:
    """Wide-gamut phone photos (Display P3) look washed out unless converted to sRGB for the JPEG."""
    if not icc or img.mode != "RGB":
        return img
    try:
        import io

        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode="RGB") or img
    except Exception:  # noqa: BLE001 - a broken profile is ignored, the pixels are still fine
        return img


def decode_for_tile(probed: Probed, tile_w: int, tile_h: int) -> Image.Image:
    """The displayed image (RGB, sRGB) at no less than the scale a ``tile_w`` x ``tile_h`` cover-crop
    needs, and not much more: JPEG DCT scaling, else an early reduce."""
    scale = max(tile_w / probed.width, tile_h / probed.height)
    need_w = max(1, math.ceil(probed.width * scale))
    need_h = max(1, math.ceil(probed.height * scale))
    if probed.poster is not None:
        img = probed.poster.copy()
    else:
        try:
            with Image.open(probed.source.path) as opened:
                stored = (need_h, need_w) if probed.orientation in _TRANSPOSED else (need_w, need_h)
                if opened.format == "JPEG":
                    opened.draft("RGB", stored)
                opened.load()
                icc = opened.info.get("icc_profile")
                # exif_transpose copies the whole image even when nothing turns: only call it if needed
                img = ImageOps.exif_transpose(opened) if probed.orientation != 1 else opened
                img.info["icc_profile"] = icc
        except Image.DecompressionBombError as exc:
            raise SourceError(f"too many pixels ({exc})") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise SourceError(f"cannot decode image ({exc})") from None
    icc = img.info.get("icc_profile")
    # shrink by whole factors first (cheap, keeps memory low), the final resize happens per tile
    factor = int(min(img.width / need_w, img.height / need_h))
    if factor >= 2:
        img = img.reduce(factor)
    img = _to_rgb(img)
    return _convert_icc(img, icc)


def _poster_frame(path: str) -> Image.Image:
    """A frame a third of the way into the first video stream, rotated as the phone recorded it."""
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise SourceError("video has no picture stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            duration = None
            if stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / 1_000_000
            target = (duration or 0) / 3
            if target > 0.5:
                container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
            chosen = None
            for count, frame in enumerate(container.decode(stream)):
                chosen = frame
                if frame.time is None or frame.time >= target or count > 120:
                    break
            if chosen is None:
                raise SourceError("video has no decodable frame")
            img = chosen.to_image()
            rotation = chosen.rotation or 0
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises many types; all mean "unusable video"
        raise SourceError(f"cannot decode video ({type(exc).__name__}: {exc})") from None
    if rotation % 360:
        img = img.rotate(rotation, expand=True)
    return img
