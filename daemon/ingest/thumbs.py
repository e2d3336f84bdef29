"""Thumbnails (long side ~512 px, orientation applied) and the quality signals memories use later.

The source is decoded once, with Pillow's draft mode (JPEG decodes at 1/2, 1/4 or 1/8 scale directly; a
HEIC with an embedded thumbnail at least the stored size decodes that instead of its 12-MP HEVC image),
and the quality signals and phash are computed on the thumbnail, so a 12-MP photo never becomes 12 MP
of pixels here. The draft box is the photo's own aspect with the long side at DRAFT_SLACK of the thumbnail
size: asking for a square box would refuse a 512x384 embedded thumbnail (and a 1/8 JPEG scale) that is big
enough, so a "512 px" thumbnail may be 486-512 px on its long side.
What stays is the JPEG's entropy decoding, which no DCT scale skips (bench/ingest.py, "thumbnail path").
Decoding is also what proves a file complete: a truncated file fails here and is skipped ("truncated"),
to be retried when it changes.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image, ImageOps

from homeroll.daemon.ingest.metadata import SkipFile
from homeroll.daemon.store import fsutil

ORIENTATION = 0x0112
#: A reduced decode down to this share of the thumbnail size is kept as it is (never upscaled): a 12-MP
#: JPEG's 1/8 DCT scale (500-510 px) serves a 512-px thumbnail, which costs about a quarter less decoding than
#: the 1/4 scale (1000 px) and its resize. faces/detect.py imports it for its pre-pass's draft decode.
DRAFT_SLACK = 0.95


def decode_for_thumbnail(image: Image.Image, size: int) -> Image.Image:
    """Draft-decode, apply EXIF orientation, convert to RGB, shrink to ``size`` on the long side."""
    try:
        image.draft("RGB", draft_box(image.size, round(size * DRAFT_SLACK)))
        image.load()
    except OSError as exc:
        text = str(exc)
        if "truncated" in text or "broken data stream" in text or "premature end" in text.lower():
            raise SkipFile("truncated (incomplete file)") from None
        raise SkipFile(f"cannot decode ({text[:120]})") from None
    except (ValueError, SyntaxError, EOFError, IndexError, TypeError, struct.error) as exc:
        raise SkipFile(f"cannot decode ({type(exc).__name__})") from None
    except Image.DecompressionBombError as exc:
        raise SkipFile(f"decompression bomb ({exc})") from None
    oriented = image
    try:
        if image.getexif().get(ORIENTATION, 1) != 1:  # exif_transpose copies even upright images: ~10 ms at 12 MP
            oriented = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - broken orientation data: keep the stored pixels
        oriented = image
    if oriented.mode not in ("RGB", "L"):
        if oriented.mode in ("RGBA", "LA", "PA") or (oriented.mode == "P" and "transparency" in oriented.info):
            background = Image.new("RGB", oriented.size, (255, 255, 255))
            rgba = oriented.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            oriented = background
        else:
            oriented = oriented.convert("RGB")
    oriented.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return oriented.convert("RGB")


def draft_box(stored: tuple[int, int], size: int) -> tuple[int, int]:
    """The smallest box of the stored image's aspect whose long side is ``size`` (what the thumbnail keeps).

    Orientation does not matter here: a rotation swaps both sides, and the long side stays the long side.
    """
    width, height = stored
    if width >= height:
        return size, max(1, -(-size * height // max(width, 1)))
    return max(1, -(-size * width // max(height, 1))), size


def quality_signals(thumb: Image.Image) -> dict[str, float | str]:
    """Sharpness (variance of the Laplacian), exposure (0..1, 1 = well exposed), a base quality, and a phash."""
    gray = np.asarray(thumb.convert("L"), dtype=np.float32)
    if gray.shape[0] >= 3 and gray.shape[1] >= 3:
        lap = (gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * gray[1:-1, 1:-1])
        sharpness = float(lap.var())
    else:
        sharpness = 0.0
    mean = float(gray.mean()) / 255.0
    clipped = float(((gray < 8) | (gray > 247)).mean())
    exposure = max(0.0, 1.0 - abs(mean - 0.5) * 1.6 - clipped * 1.5)
    sharp_score = min(1.0, np.log1p(sharpness) / np.log1p(1500.0))
    quality = round(0.6 * sharp_score + 0.4 * exposure, 4)
    return {
        "sharpness": round(sharpness, 2),
        "exposure": round(exposure, 4),
        "quality": quality,
        "phash": str(imagehash.phash(thumb)),
    }


def thumb_relpath(content_hash: str) -> str:
    return f"thumbs/{content_hash[:2]}/{content_hash}.jpg"


def write_thumbnail(thumb: Image.Image, data_dir: Path, content_hash: str) -> str:
    """Write atomically under the data dir (never next to the photo), so the TUI never shows half a
    thumbnail. Returns the path relative to data_dir."""
    rel = thumb_relpath(content_hash)
    target = Path(data_dir) / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=82, optimize=True)
    fsutil.write_atomic(target, buf.getvalue())
    return rel


def sweep_temps(data_dir: Path) -> int:
    """Remove the temp files killed writers left in the thumbnail folders (and the data dir itself).

    O_TMPFILE leaves nothing behind, but a share without it gets a named temp that a kill between its
    write and its rename would strand. The service runs this once at start: one listing per folder.
    """
    thumbs = Path(data_dir) / "thumbs"
    folders = [Path(data_dir)]
    try:
        folders += [thumbs / name for name in sorted(os.listdir(thumbs))]
    except OSError:
        pass
    return sum(fsutil.sweep_stale_temps(folder) for folder in folders)
