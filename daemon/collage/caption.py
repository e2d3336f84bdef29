"""The caption: fonts that can draw the title, a size that fits, and an ellipsis when nothing else does.

Fonts, first that can draw every character wins: the configured ``[export] font`` file, Source Sans Pro
(the ``font-source-sans-pro`` package), DejaVu Sans from the system, then Pillow's bundled scalable font
(which lacks accents). Characters no font has (emoji, most CJK without a system font) are dropped from
the caption only; the file name and the sidecar keep the full title.
"""

from __future__ import annotations

import functools
import os
import unicodedata
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from homeroll.daemon.memories import titles

__all__ = ["date_range_text", "fit_text", "font_candidates", "pick_font"]

_SYSTEM_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")
ELLIPSIS = "…"

FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _packaged(name: str) -> str | None:
    try:
        import importlib.resources

        path = importlib.resources.files("font_source_sans_pro") / "files" / name
        return str(path) if path.is_file() else None
    except (ImportError, ModuleNotFoundError, OSError):
        return None


def font_candidates(weight: str, custom: str | None = None) -> list[str | None]:
    """Font files to try in order for ``weight`` ('title' or 'text'); None is Pillow's bundled font."""
    found: list[str | None] = []
    if custom:
        found.append(custom)
    found.append(_packaged("SourceSansPro-Semibold.ttf" if weight == "title" else "SourceSansPro-Regular.ttf"))
    dejavu = "DejaVuSans-Bold.ttf" if weight == "title" else "DejaVuSans.ttf"
    found.extend(os.path.join(d, dejavu) for d in _SYSTEM_DIRS)
    return [f for f in found if f and os.path.isfile(f)] + [None]


@functools.lru_cache(maxsize=64)
def _font(path: str | None, size: int) -> FontT:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)


def _glyph(font: FontT, ch: str) -> bytes:
    box = font.getbbox(ch)
    w, h = max(1, int(box[2] - box[0]) + 2), max(1, int(box[3] - box[1]) + 2)
    img = Image.new("L", (w, h))
    ImageDraw.Draw(img).text((-box[0] + 1, -box[1] + 1), ch, font=font, fill=255)
    return img.tobytes() + bytes(str((w, h)), "ascii")


@functools.lru_cache(maxsize=4096)
def _has_glyph(path: str | None, ch: str) -> bool:
    """True if the font draws ``ch`` as something other than its 'missing glyph' box."""
    if ch.isspace() or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return True
    font = _font(path, 32)
    return _glyph(font, ch) != _glyph(font, "\ue000") and _glyph(font, ch) != _glyph(font, "\U0010fffd")


def pick_font(text: str, weight: str, custom: str | None = None) -> tuple[str | None, str]:
    """(font file, text it can draw): the first font covering every character, else the one covering
    the most, with the characters it lacks removed."""
    chars = {c for c in text if not c.isspace()}
    best: tuple[int, str | None] | None = None
    for path in font_candidates(weight, custom):
        try:
            missing = sum(1 for c in chars if not _has_glyph(path, c))
        except OSError:
            continue
        if missing == 0:
            return path, text
        if best is None or missing < best[0]:
            best = (missing, path)
    assert best is not None
    path = best[1]
    kept = "".join(c if c.isspace() or _has_glyph(path, c) else " " for c in text)
    return path, " ".join(kept.split())


def fit_text(text: str, path: str | None, size: int, max_width: int, min_size: int) -> tuple[FontT, str]:
    """The largest size between ``size`` and ``min_size`` at which ``text`` fits ``max_width``; if even
    ``min_size`` is too wide, the text is cut (at a word if that loses little) and ends with an ellipsis."""
    size = max(1, size)
    for candidate in range(size, max(1, min_size) - 1, -max(1, size // 40)):
        font = _font(path, candidate)
        if font.getlength(text) <= max_width:
            return font, text
    font = _font(path, max(1, min_size))
    ellipsis = ELLIPSIS if _has_glyph(path, ELLIPSIS) else "..."
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid].rstrip() + ellipsis) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    space = cut.rfind(" ")
    if space > 0.7 * len(cut):
        cut = cut[:space]
    return font, (cut.rstrip(" ,.-·–") + ellipsis) if cut.strip() else ""


def date_range_text(start: str | None, end: str | None) -> str:
    """'June 6, 2024', 'June 6–9, 2024', 'June 28–July 2, 2024' (memories' own wording, months in full)."""
    first, last = titles.iso_day(start), titles.iso_day(end)
    if first is None:
        return ""
    return titles.day_span(first, last or first, months=titles.LONG_MONTHS)


def join_subtitle(parts: Sequence[str | None]) -> str:
    return " · ".join(p for p in parts if p)
