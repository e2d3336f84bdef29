"""Which part of a photo a tile shows: keep faces whole, else centre on them, else on what is interesting.

Everything here works in the photo's displayed coordinates (orientation applied), normalised or in
pixels as the caller likes, as long as one call uses one unit. A crop always has the tile's shape and
is as large as the photo allows (it spans the photo's full width or full height), so it only slides
along one axis; that is the axis faces decide.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

__all__ = ["Box", "centre_of_interest", "face_aware_crop"]

#: (left, top, right, bottom)
Box = tuple[float, float, float, float]

#: On a vertical slide, faces sit this far down the crop (people's heads belong in the upper part).
FACE_EYE_LINE = 0.4


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _slide(length: float, window: float, faces: list[tuple[float, float]], interest: float,
           face_anchor: float) -> float:
    """Start of a ``window`` sliding over [0, length] along one axis."""
    free = length - window
    if free <= 0:
        return 0.0
    if not faces:
        return _clamp(interest - face_anchor * window, 0.0, free)
    lo = min(a for a, _ in faces)
    hi = max(b for _, b in faces)
    if hi - lo <= window:
        # every face fits: aim the anchor point at the faces' centre, never letting a face out
        ideal = (lo + hi) / 2 - face_anchor * window
        return _clamp(_clamp(ideal, hi - window, lo), 0.0, free)
    # not all fit: the position that keeps the most faces whole (then the most face area, then central)
    centre = (lo + hi) / 2
    candidates = {_clamp(a, 0.0, free) for a, _ in faces} | {_clamp(b - window, 0.0, free) for _, b in faces}
    best_key, best_pos = None, 0.0
    for pos in candidates:
        whole = [(a, b) for a, b in faces if a >= pos - 1e-9 and b <= pos + window + 1e-9]
        key = (len(whole), sum(b - a for a, b in whole), -abs(pos + window / 2 - centre))
        if best_key is None or key > best_key:
            best_key, best_pos = key, pos
    if best_key and best_key[0] > 0:
        # centre the whole faces we kept inside the room the other faces leave
        whole = [(a, b) for a, b in faces if a >= best_pos - 1e-9 and b <= best_pos + window + 1e-9]
        wlo, whi = min(a for a, _ in whole), max(b for _, b in whole)
        ideal = (wlo + whi) / 2 - face_anchor * window
        return _clamp(_clamp(ideal, whi - window, wlo), 0.0, free)
    biggest = max(faces, key=lambda f: f[1] - f[0])
    return _clamp((biggest[0] + biggest[1]) / 2 - window / 2, 0.0, free)


def face_aware_crop(width: float, height: float, tile_aspect: float, faces: Sequence[Box] = (),
                    interest: tuple[float, float] | None = None) -> Box:
    """The crop (left, top, right, bottom) of a ``width`` x ``height`` photo for a tile of ``tile_aspect``.

    Rule: if the faces together fit in the crop, no face box is cut by the crop's edge; otherwise the
    crop keeps as many whole faces as it can and centres on them; with no faces it centres on
    ``interest`` (see centre_of_interest), else on the photo's centre.
    """
    cx, cy = interest if interest is not None else (width / 2, height / 2)
    boxes = [(_clamp(left, 0, width), _clamp(top, 0, height), _clamp(right, 0, width), _clamp(bottom, 0, height))
             for left, top, right, bottom in faces]
    boxes = [b for b in boxes if b[2] > b[0] and b[3] > b[1]]
    if width / height > tile_aspect:
        window = height * tile_aspect
        x = _slide(width, window, [(b[0], b[2]) for b in boxes], cx, 0.5)
        return (x, 0.0, x + window, height)
    window = width / tile_aspect
    y = _slide(height, window, [(b[1], b[3]) for b in boxes], cy, FACE_EYE_LINE)
    return (0.0, y, width, y + window)


def centre_of_interest(image: Image.Image) -> tuple[float, float]:
    """Where the detail is, as fractions (0..1) of the image: the centroid of edge energy on a 64 px
    copy, pulled halfway back to the middle so a busy corner does not win outright."""
    small = image.convert("L")
    small.thumbnail((64, 64), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.float32)
    if pixels.shape[0] < 3 or pixels.shape[1] < 3:
        return 0.5, 0.5
    gy, gx = np.gradient(pixels)
    energy = np.hypot(gx, gy)
    total = float(energy.sum())
    if total <= 1e-6:
        return 0.5, 0.5
    rows, cols = energy.shape
    fx = float((energy.sum(axis=0) * (np.arange(cols) + 0.5)).sum() / total / cols)
    fy = float((energy.sum(axis=1) * (np.arange(rows) + 0.5)).sum() / total / rows)
    # vertically the prior is a little above the middle: that is where heads and horizons usually are
    return 0.5 + (fx - 0.5) / 2, 0.42 + (fy - 0.42) / 2
