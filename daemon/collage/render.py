"""Pixels: a page of the chosen size and style, photos cropped around faces into the layout's tiles,
and a caption that always fits.

``render_collage`` returns the image together with every tile's crop rectangle (normalised to the
source photo), so tests and the TUI can check and show exactly what each tile kept. ``encode_collage``
turns the page into the bytes of a JPEG or PNG file.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageColor, ImageDraw, ImageOps

from homeroll.daemon.collage import caption as captions
from homeroll.daemon.collage.crop import Box, centre_of_interest, face_aware_crop
from homeroll.daemon.collage.layout import MAX_PICKS, Rect, choose_layout, compute_layout
from homeroll.daemon.collage.sources import Probed, Source, SourceError, decode_for_tile, probe

log = logging.getLogger(__name__)

__all__ = ["PRESETS", "STYLES", "Caption", "Collage", "Placement", "Style", "encode_collage", "render_collage"]

#: name -> (width, height, dpi). A4 is 210 x 297 mm at 300 dpi.
PRESETS: dict[str, tuple[int, int, int]] = {
    "square": (2160, 2160, 72),
    "landscape": (3840, 2160, 72),
    "portrait": (2160, 2700, 72),
    "a4": (2480, 3508, 300),
}


@dataclass(frozen=True)
class Style:
    background: str
    text: str
    muted: str
    grayscale: bool = False
    polaroid: bool = False


STYLES: dict[str, Style] = {
    "clean": Style("#ffffff", "#1d1d1f", "#76767b"),
    "dark": Style("#131313", "#f2f2f2", "#a0a0a0"),
    "polaroid": Style("#f6f3ec", "#2a2724", "#7d766b", polaroid=True),
    "bw": Style("#ffffff", "#111111", "#6b6b6b", grayscale=True),
}


@dataclass
class Caption:
    title: str
    subtitle: str = ""   # dates and place, e.g. "Lisbon · 6–9 June 2024"


@dataclass
class Placement:
    """What one tile shows: source ``index`` into the sources given, the tile on the page, the crop
    (left, top, right, bottom) normalised to the displayed photo, its face boxes, and the size the
    photo was decoded at (proof that draft scaling happened)."""

    index: int
    path: str
    tile: Rect
    crop: Box
    faces: list[Box]
    decoded_size: tuple[int, int]


@dataclass
class Collage:
    image: Image.Image
    layout: str
    size: str
    style: str
    dpi: int
    placements: list[Placement] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def _rgb(value: str) -> tuple[int, int, int]:
    try:
        return ImageColor.getrgb(value)[:3]
    except ValueError:
        raise ValueError(f"unknown colour {value!r} (use a name or #rrggbb)") from None


def render_collage(
    sources: Sequence[Source],
    *,
    layout: str | None = None,
    size: str = "landscape",
    style: str = "clean",
    caption: Caption | None = None,
    gutter: float = 0.012,
    margin: float = 0.035,
    background: str | None = None,
    font: str | None = None,
) -> Collage:
    """Render the picks (rank order, cover first) into one page. Unusable picks are skipped and
    reported in ``Collage.skipped``; ValueError if none is usable or a name is unknown."""
    if size not in PRESETS:
        raise ValueError(f"unknown size {size!r} (choose from {', '.join(PRESETS)})")
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r} (choose from {', '.join(STYLES)})")
    look = STYLES[style]
    width, height, dpi = PRESETS[size]
    short = min(width, height)
    bg = _rgb(background or look.background)

    skipped: list[tuple[str, str]] = []
    limit = max(MAX_PICKS.values()) if layout in (None, "auto") else MAX_PICKS.get(layout, 16)
    usable, origin = _probe_usable(sources, limit, skipped)
    chosen = layout if layout not in (None, "auto") else choose_layout([p.aspect for p in usable])
    area, band_rect = _page_areas(width, height, look, caption is not None, max(0, round(short * margin)))
    gutter_px = max(2, round(short * gutter)) if gutter > 0 else 0
    canvas, placements = _fill((width, height), bg, chosen, usable, origin, area, gutter_px, look, skipped)
    if caption is not None and band_rect is not None:
        _draw_caption(canvas, band_rect, caption, look, font, short)
    return Collage(canvas, chosen, size, style, dpi, placements, skipped)


def encode_collage(collage: Collage, fmt: str, quality: int) -> bytes:
    """The page as PNG or JPEG bytes carrying the preset's dpi, so an A4 page prints at its size. From
    JPEG quality 92 up, colour keeps full resolution (4:4:4) too."""
    buf = io.BytesIO()
    if fmt == "PNG":
        collage.image.save(buf, "PNG", dpi=(collage.dpi, collage.dpi))
    else:
        collage.image.save(buf, "JPEG", quality=quality, dpi=(collage.dpi, collage.dpi), optimize=False,
                           progressive=False, subsampling="4:2:0" if quality < 92 else "4:4:4")
    return buf.getvalue()


def _probe_usable(sources: Sequence[Source], limit: int,
                  skipped: list[tuple[str, str]]) -> tuple[list[Probed], list[int]]:
    """Up to ``limit`` picks that open, and where each came from (usable[i] is sources[origin[i]]).

    More picks than the page holds (a year in review has 40) are taken evenly over the list, which is in time
    order, so the page shows the whole year and not its first months; the others stand in for any that fail."""
    usable: list[Probed] = []
    origin: list[int] = []
    spread = sorted({round(i * (len(sources) - 1) / max(1, limit - 1)) for i in range(limit)}) \
        if len(sources) > limit else list(range(len(sources)))
    order = spread + [i for i in range(len(sources)) if i not in set(spread)]
    for position in order:
        src = sources[position]
        if len(usable) >= limit:
            break
        try:
            usable.append(probe(src))
            origin.append(position)
        except SourceError as exc:
            log.warning("collage: skipping %s: %s", src.path, exc)
            skipped.append((src.path, str(exc)))
    if not usable:
        raise ValueError(f"none of the photos can be used ({_first_reason(skipped)})")
    kept = sorted(range(len(origin)), key=origin.__getitem__)  # back in the memory's own order
    return [usable[k] for k in kept], [origin[k] for k in kept]


def _page_areas(width: int, height: int, look: Style, captioned: bool, margin_px: int) -> tuple[Rect, Rect | None]:
    """The area the photos fill and the caption band (None without a caption; polaroid always has one)."""
    short = min(width, height)
    if look.polaroid:
        band = round(short * 0.16)
        side = max(margin_px, round(short * 0.045))
        area = Rect(side, side, width - 2 * side, height - 2 * side - band + side)
        return area, Rect(side, area.bottom, width - 2 * side, height - area.bottom)
    if captioned:
        band = round(short * 0.085)
        area = Rect(margin_px, margin_px, width - 2 * margin_px, height - 2 * margin_px - band)
        return area, Rect(margin_px, area.bottom, width - 2 * margin_px, band + margin_px // 3)
    return Rect(margin_px, margin_px, width - 2 * margin_px, height - 2 * margin_px), None


def _fill(page: tuple[int, int], bg: tuple[int, int, int], chosen: str, usable: list[Probed], origin: list[int],
          area: Rect, gutter_px: int, look: Style,
          skipped: list[tuple[str, str]]) -> tuple[Image.Image, list[Placement]]:
    """Place every usable pick on a fresh page. A pick that opens but fails to decode is dropped
    and the page laid out again (rare). Placement indexes refer to the caller's sources."""
    while True:
        canvas = Image.new("RGB", page, bg)
        placements: list[Placement] = []
        failed = None
        for tile in compute_layout(chosen, [p.aspect for p in usable], area, gutter_px):
            try:
                placements.append(_place(canvas, usable[tile.index], tile.rect, look))
            except SourceError as exc:
                failed = (tile.index, str(exc))
                break
        if failed is None:
            break
        bad = usable.pop(failed[0])
        origin.pop(failed[0])
        log.warning("collage: skipping %s: %s", bad.source.path, failed[1])
        skipped.append((bad.source.path, failed[1]))
        if not usable:
            raise ValueError(f"none of the photos can be used ({_first_reason(skipped)})")
    for placement in placements:
        placement.index = origin[placement.index]
    return canvas, placements


def _first_reason(skipped: list[tuple[str, str]]) -> str:
    if not skipped:
        return "no photos"
    path, reason = skipped[0]
    more = f", and {len(skipped) - 1} more" if len(skipped) > 1 else ""
    return f"{os.path.basename(path) or path}: {reason}{more}"


def _place(canvas: Image.Image, probed: Probed, tile: Rect, look: Style) -> Placement:
    img = decode_for_tile(probed, tile.w, tile.h)
    faces_px = [(left * img.width, top * img.height, right * img.width, bottom * img.height)
                for left, top, right, bottom in probed.source.faces]
    interest = None
    if not faces_px:
        fx, fy = centre_of_interest(img)
        interest = (fx * img.width, fy * img.height)
    box = face_aware_crop(img.width, img.height, tile.aspect, faces_px, interest)
    piece = img.resize((tile.w, tile.h), Image.Resampling.LANCZOS, box=box, reducing_gap=2.0)
    if look.grayscale:
        piece = ImageOps.autocontrast(ImageOps.grayscale(piece), cutoff=0.3).convert("RGB")
    if probed.source.kind == "video":
        _play_badge(piece)
    canvas.paste(piece, (tile.x, tile.y))
    crop = (box[0] / img.width, box[1] / img.height, box[2] / img.width, box[3] / img.height)
    return Placement(0, probed.source.path, tile, crop, list(probed.source.faces), img.size)


def _play_badge(piece: Image.Image) -> None:
    """A small translucent play button in the corner marks a video's poster frame."""
    d = max(24, round(min(piece.size) * 0.13))
    pad = max(8, d // 3)
    overlay = Image.new("RGBA", (d, d), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    draw.ellipse((0, 0, d - 1, d - 1), fill=(0, 0, 0, 110), outline=(255, 255, 255, 200), width=max(2, d // 24))
    tri = [(d * 0.40, d * 0.30), (d * 0.40, d * 0.70), (d * 0.72, d * 0.50)]
    draw.polygon(tri, fill=(255, 255, 255, 230))
    x, y = pad, piece.height - pad - d
    region = piece.crop((x, y, x + d, y + d)).convert("RGBA")
    piece.paste(Image.alpha_composite(region, overlay).convert("RGB"), (x, y))


def _draw_caption(canvas: Image.Image, band: Rect, caption: Caption, look: Style, font: str | None,
                  short: int) -> None:
    draw = ImageDraw.Draw(canvas)
    title_path, title = captions.pick_font(caption.title, "title", font)
    sub_path, subtitle = captions.pick_font(caption.subtitle, "text", font)
    if look.polaroid:
        title_size = round(band.h * 0.26)
        sub_size = round(band.h * 0.15)
        title_font, title = captions.fit_text(title, title_path, title_size, band.w, round(title_size * 0.6))
        sub_font, subtitle = captions.fit_text(subtitle, sub_path, sub_size, band.w, round(sub_size * 0.75))
        gap = round(band.h * 0.07) if title and subtitle else 0
        th = _text_height(title_font, title)
        sh = _text_height(sub_font, subtitle)
        top = band.y + (band.h - th - gap - sh) // 2
        if title:
            draw.text((band.x + band.w // 2, top), title, font=title_font, fill=look.text, anchor="mt")
        if subtitle:
            draw.text((band.x + band.w // 2, top + th + gap), subtitle, font=sub_font, fill=look.muted,
                      anchor="mt")
        return
    title_size = round(short * 0.034)
    sub_size = round(short * 0.021)
    spacing = round(short * 0.03)
    sub_font, subtitle = captions.fit_text(subtitle, sub_path, sub_size, int(band.w * 0.45), round(sub_size * 0.8))
    sub_width = int(sub_font.getlength(subtitle)) if subtitle else 0
    room = band.w - (sub_width + spacing if subtitle else 0)
    title_font, title = captions.fit_text(title, title_path, title_size, room, round(title_size * 0.65))
    baseline = band.y + round(band.h * 0.62)
    if title:
        draw.text((band.x, baseline), title, font=title_font, fill=look.text, anchor="ls")
    if subtitle:
        draw.text((band.right, baseline), subtitle, font=sub_font, fill=look.muted, anchor="rs")


def _text_height(font: captions.FontT, text: str) -> int:
    if not text:
        return 0
    box = font.getbbox("Ag", anchor="lt")
    return int(box[3] - box[1])
