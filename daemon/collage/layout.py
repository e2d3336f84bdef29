"""Where each photo goes: pure geometry, no pixels.

A layout takes the aspect ratios (width / height, orientation applied) of the picks in rank order and
the rectangle they may fill, and returns one tile per photo it uses. Tiles are integer rectangles with
exactly ``gutter`` pixels between neighbours, so the page looks ruled even after rounding.

Layouts:
  grid    equal cells, rows x columns chosen to crop the photos least; a short last row is stretched.
  mosaic  justified rows (like a photo book): each row keeps the photos' own shapes, rows share the height.
  hero    the first pick (the cover) large, the rest in a small mosaic beside or below it.
  strip   one row (or one column on a tall page) of a few photos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LAYOUTS", "MAX_PICKS", "Rect", "Tile", "choose_layout", "compute_layout"]

LAYOUTS = ("grid", "mosaic", "hero", "strip")

#: How many picks each layout shows at most (the first ones, in rank order). More tiles than this
#: on a 4K page become stamps nobody can see.
MAX_PICKS = {"grid": 16, "mosaic": 16, "hero": 9, "strip": 5}


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def aspect(self) -> float:
        return self.w / self.h if self.h else 1.0

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h


@dataclass(frozen=True)
class Tile:
    """One photo's place on the page: ``index`` into the picks list, and its rectangle in page pixels."""

    index: int
    rect: Rect


def _is_portrait(aspect: float) -> bool:
    return aspect < 0.95


def choose_layout(aspects: Sequence[float]) -> str:
    """The default layout for these picks.

    One photo is a hero; two or three sit side by side in a strip; a set of photos of one orientation
    whose count fills a grid exactly uses the grid; five or seven get a hero (1 + 4 or 1 + 6 fill the
    side panel); anything else, and any mix of portrait and landscape, becomes a justified mosaic,
    which keeps every photo's shape.
    """
    n = len(aspects)
    if n <= 1:
        return "hero"
    if n <= 3:
        return "strip"
    portraits = sum(1 for a in aspects if _is_portrait(a))
    mixed = 0 < portraits < n and min(portraits, n - portraits) / n >= 0.25
    if not mixed and n in (4, 6, 8, 9, 12, 16):
        return "grid"
    if n in (5, 7):
        return "hero"
    return "mosaic"


def compute_layout(name: str, aspects: Sequence[float], area: Rect, gutter: int) -> list[Tile]:
    """Tiles for layout ``name``; photos beyond the layout's MAX_PICKS are left out."""
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}")
    aspects = [max(0.2, min(5.0, a)) for a in aspects[: MAX_PICKS[name]]]
    if not aspects:
        return []
    builder = {"grid": _grid, "mosaic": _mosaic, "hero": _hero, "strip": _strip}[name]
    return builder(list(range(len(aspects))), aspects, area, gutter)


def _split(start: int, total: int, parts: Sequence[float], gutter: int) -> list[tuple[int, int]]:
    """Cut ``total`` pixels into len(parts) spans proportional to ``parts`` with ``gutter`` between."""
    usable = total - gutter * (len(parts) - 1)
    weight = sum(parts)
    spans, pos, acc = [], start, 0.0
    for i, part in enumerate(parts):
        acc += part
        end = start + round(usable * acc / weight) + gutter * i
        spans.append((pos, max(1, end - pos)))
        pos = end + gutter
    return spans


def _crop_cost(tile_aspect: float, photo_aspect: float) -> float:
    """How much of the photo a tile of this shape cuts away (log ratio; 0 = none)."""
    return abs(math.log(tile_aspect / photo_aspect))


def _grid_tiles(idx: list[int], cols: int, area: Rect, gutter: int) -> list[Tile]:
    rows = math.ceil(len(idx) / cols)
    tiles = []
    for r, (y, h) in enumerate(_split(area.y, area.h, [1] * rows, gutter)):
        members = idx[r * cols:(r + 1) * cols]
        for i, (x, w) in zip(members, _split(area.x, area.w, [1] * len(members), gutter), strict=True):
            tiles.append(Tile(i, Rect(x, y, w, h)))
    return tiles


def layout_cost(tiles: Sequence[Tile], aspects: Sequence[float], positions: Sequence[int]) -> float:
    """Mean crop cost of tiles; ``positions`` maps a tile's index to its position in ``aspects``."""
    where = {index: pos for pos, index in enumerate(positions)}
    return sum(_crop_cost(t.rect.aspect, aspects[where[t.index]]) for t in tiles) / max(1, len(tiles))


def _grid(idx: list[int], aspects: list[float], area: Rect, gutter: int) -> list[Tile]:
    """Rows x columns with the least cropping; a short last row is stretched, and penalised for it."""
    n = len(idx)
    best: tuple[float, list[Tile]] | None = None
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        if rows > 1 and n - cols * (rows - 1) < 1:
            continue
        tiles = _grid_tiles(idx, cols, area, gutter)
        cost = layout_cost(tiles, aspects, idx) + 0.25 * (cols * rows - n) / cols
        if best is None or cost < best[0]:
            best = (cost, tiles)
    assert best is not None
    return best[1]


def _partition(aspects: list[float], rows: int) -> list[list[int]]:
    """Split the sequence into ``rows`` consecutive groups with aspect sums as equal as possible (DP)."""
    n = len(aspects)
    prefix = [0.0]
    for a in aspects:
        prefix.append(prefix[-1] + a)
    target = prefix[-1] / rows
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(rows + 1)]
    back = [[0] * (n + 1) for _ in range(rows + 1)]
    cost[0][0] = 0.0
    for r in range(1, rows + 1):
        for end in range(r, n + 1):
            for start in range(r - 1, end):
                prev = cost[r - 1][start]
                if prev == inf:
                    continue
                c = prev + (prefix[end] - prefix[start] - target) ** 2
                if c < cost[r][end]:
                    cost[r][end], back[r][end] = c, start
    groups, end = [], n
    for r in range(rows, 0, -1):
        start = back[r][end]
        groups.append(list(range(start, end)))
        end = start
    return groups[::-1]


def _mosaic(idx: list[int], aspects: list[float], area: Rect, gutter: int) -> list[Tile]:
    """Justified rows. For each row count, partition evenly, then score how far each tile's shape is
    from its photo once the rows are stretched to fill the area; keep the best row count."""
    n = len(aspects)
    best: tuple[float, list[list[int]]] | None = None
    for rows in range(1, n + 1):
        groups = _partition(aspects, rows)
        heights = [(area.w - gutter * (len(g) - 1)) / sum(aspects[i] for i in g) for g in groups]
        scale = (area.h - gutter * (rows - 1)) / sum(heights)
        cost = 0.0
        for g, h in zip(groups, heights, strict=True):
            row_h = h * scale
            widths = [aspects[i] * h for i in g]  # widths stay, the height changes by `scale`
            cost += sum(_crop_cost(w / row_h, aspects[i]) for w, i in zip(widths, g, strict=True))
        cost /= n
        cost += 0.02 * abs(rows - math.sqrt(n))  # prefer balanced pages between equally good fits
        if best is None or cost < best[0]:
            best = (cost, groups)
    assert best is not None
    groups = best[1]
    row_weights = [1 / sum(aspects[i] for i in g) for g in groups]
    tiles = []
    for g, (y, h) in zip(groups, _split(area.y, area.h, row_weights, gutter), strict=True):
        spans = _split(area.x, area.w, [aspects[i] for i in g], gutter)
        for i, (x, w) in zip(g, spans, strict=True):
            tiles.append(Tile(idx[i], Rect(x, y, w, h)))
    return tiles


def _hero(idx: list[int], aspects: list[float], area: Rect, gutter: int) -> list[Tile]:
    if len(idx) == 1:
        return [Tile(idx[0], area)]
    rest_idx, rest_aspects = idx[1:], aspects[1:]
    wide = area.aspect >= 1.2
    share = 0.62 if len(rest_idx) > 2 else 0.58
    if wide:
        (hx, hw), (rx, rw) = _split(area.x, area.w, [share, 1 - share], gutter)
        hero_rect, rest = Rect(hx, area.y, hw, area.h), Rect(rx, area.y, rw, area.h)
    else:
        (hy, hh), (ry, rh) = _split(area.y, area.h, [share, 1 - share], gutter)
        hero_rect, rest = Rect(area.x, hy, area.w, hh), Rect(area.x, ry, area.w, rh)
    options = [builder(rest_idx, rest_aspects, rest, gutter) for builder in (_mosaic, _grid)]
    best = min(options, key=lambda tiles: layout_cost(tiles, rest_aspects, rest_idx))
    return [Tile(idx[0], hero_rect), *best]


def _strip(idx: list[int], aspects: list[float], area: Rect, gutter: int) -> list[Tile]:
    if area.aspect >= 1.0 or len(idx) == 1:
        spans = _split(area.x, area.w, aspects, gutter)
        return [Tile(i, Rect(x, area.y, w, area.h)) for i, (x, w) in zip(idx, spans, strict=True)]
    spans = _split(area.y, area.h, [1 / a for a in aspects], gutter)
    return [Tile(i, Rect(area.x, y, area.w, h)) for i, (y, h) in zip(idx, spans, strict=True)]
