"""Ken Burns planning: which part of a photo each frame of its shot shows, decided before any pixel.

A shot moves between two crop rectangles, and every coordinate moves linearly between them. Both
rectangles contain every face box (with a little room where the photo allows), and a rectangle between
two that contain a box contains it too, so no frame of the shot can cut a face at its edge. Photos that
cannot be covered that way (portraits, squares, faces spread wider than a 16:9 crop) are shown whole,
fitted over a blurred fill of themselves, and the motion is a slow change of their size instead.

Everything is pure and normalised to the displayed photo (0..1, orientation applied), so the renderer
and the tests ask the same functions where a face lands in a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from homeroll.daemon.collage.crop import Box, face_aware_crop

__all__ = ["Motion", "fit_needed", "placement_at", "plan_motion", "project_box"]

#: Photos narrower than this (width / height) are shown whole over a blurred fill, never cropped to 16:9.
COVER_MIN_ASPECT = 1.25
#: How much closer the tight end of a shot is than its wide end (1.12 = 12 % zoom over the shot).
ZOOM = 1.12
#: Room kept around the faces, as a fraction of the faces' own height, where the photo allows it.
FACE_ROOM = 0.15
#: Fit mode: the photo grows from (or shrinks to) this fraction of the largest size that fits.
FIT_SCALE = 0.93

#: (x0, y0, x1, y1) in frame pixels
Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class Motion:
    """One shot's plan: ``mode`` "cover" (the crop fills the frame) or "fit" (the whole photo over a blurred
    fill); crop rectangles at the start and the end of the shot; in fit mode, the photo's scale too."""

    mode: str
    start: Box
    end: Box
    aspect: float                   # the photo's displayed width / height
    scale_start: float = 1.0        # fit mode: fraction of the largest fitting size
    scale_end: float = 1.0

    @property
    def smallest_crop(self) -> float:
        """The narrowest crop's width (normalised): the photo must be decoded at frame width / this."""
        return min(self.start[2] - self.start[0], self.end[2] - self.end[0])


def _union(faces: Sequence[Box]) -> Box | None:
    boxes = [(max(0.0, a), max(0.0, b), min(1.0, c), min(1.0, d)) for a, b, c, d in faces]
    boxes = [f for f in boxes if f[2] > f[0] and f[3] > f[1]]
    if not boxes:
        return None
    return (min(f[0] for f in boxes), min(f[1] for f in boxes), max(f[2] for f in boxes), max(f[3] for f in boxes))


def _contains(outer: Box, inner: Box, eps: float = 1e-9) -> bool:
    return (outer[0] <= inner[0] + eps and outer[1] <= inner[1] + eps and outer[2] >= inner[2] - eps
            and outer[3] >= inner[3] - eps)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _to_norm(box: Box, width: float, height: float) -> Box:
    return (box[0] / width, box[1] / height, box[2] / width, box[3] / height)


def fit_needed(aspect: float, frame_aspect: float, faces: Sequence[Box]) -> bool:
    """True if the photo is shown whole: too narrow for a cover crop, or its faces do not fit one."""
    if aspect < COVER_MIN_ASPECT:
        return True
    union = _union(faces)
    if union is None:
        return False
    wide = _cover_crop(aspect, frame_aspect, faces, None)
    return not _contains(wide, union)


def _cover_crop(aspect: float, frame_aspect: float, faces: Sequence[Box], interest: tuple[float, float] | None) -> Box:
    """The largest frame-shaped crop, slid by crop.face_aware_crop (in a width=aspect, height=1 space)."""
    px = [(a * aspect, b, c * aspect, d) for a, b, c, d in faces]
    point = None if interest is None else (interest[0] * aspect, interest[1])
    return _to_norm(face_aware_crop(aspect, 1.0, frame_aspect, px, point), aspect, 1.0)


def _tight(wide: Box, aspect: float, frame_aspect: float, union: Box | None,
           interest: tuple[float, float] | None, zoom: float) -> Box:
    """A crop ``zoom`` times closer inside ``wide``, around the faces (kept whole, with room if it fits)."""
    wide_w, wide_h = wide[2] - wide[0], wide[3] - wide[1]
    keep = union
    if union is not None:
        room = (union[3] - union[1]) * FACE_ROOM
        roomy = (max(wide[0], union[0] - room / aspect), max(wide[1], union[1] - room),
                 min(wide[2], union[2] + room / aspect), min(wide[3], union[3] + room))
        keep = roomy
        zoom = min(zoom, wide_w / max(1e-9, keep[2] - keep[0]), wide_h / max(1e-9, keep[3] - keep[1]))
    zoom = max(1.0, zoom)
    w, h = wide_w / zoom, wide_h / zoom
    if keep is None:
        cx, cy = interest if interest is not None else ((wide[0] + wide[2]) / 2, (wide[1] + wide[3]) / 2)
        x = _clamp(cx - w / 2, wide[0], wide[2] - w)
        y = _clamp(cy - 0.42 * h, wide[1], wide[3] - h)
        return (x, y, x + w, y + h)
    # faces centred across, their middle a little above the crop's middle; never a face outside
    x = _clamp((keep[0] + keep[2]) / 2 - w / 2, max(keep[2] - w, wide[0]), min(keep[0], wide[2] - w))
    y = _clamp((keep[1] + keep[3]) / 2 - 0.42 * h, max(keep[3] - h, wide[1]), min(keep[1], wide[3] - h))
    return (x, y, x + w, y + h)


def plan_motion(aspect: float, frame_aspect: float, faces: Sequence[Box] = (), index: int = 0,
                interest: tuple[float, float] | None = None, zoom: float = ZOOM) -> Motion:
    """The plan for a photo of ``aspect`` (displayed width / height) with normalised face boxes: even
    shots zoom in, odd ones zoom out, so a run of photos breathes rather than always diving in."""
    zoom_in = index % 2 == 0
    if fit_needed(aspect, frame_aspect, faces):
        whole = (0.0, 0.0, 1.0, 1.0)
        small, big = FIT_SCALE, 1.0
        return Motion("fit", whole, whole, aspect, small if zoom_in else big, big if zoom_in else small)
    wide = _cover_crop(aspect, frame_aspect, faces, interest)
    tight = _tight(wide, aspect, frame_aspect, _union(faces), interest, zoom)
    start, end = (wide, tight) if zoom_in else (tight, wide)
    return Motion("cover", start, end, aspect)


def _lerp(a: float, b: float, p: float) -> float:
    return a + (b - a) * p


def placement_at(motion: Motion, progress: float, frame_w: int, frame_h: int) -> tuple[Box, Rect]:
    """(crop, dest) at ``progress`` 0..1 through the shot: the crop of the photo (normalised) and the
    rectangle of the frame (pixels) it is drawn into. Cover mode draws into the whole frame."""
    p = _clamp(progress, 0.0, 1.0)
    crop = tuple(_lerp(a, b, p) for a, b in zip(motion.start, motion.end, strict=True))
    if motion.mode == "cover":
        return crop, (0.0, 0.0, float(frame_w), float(frame_h))  # type: ignore[return-value]
    scale = _lerp(motion.scale_start, motion.scale_end, p)
    fit = min(frame_w / motion.aspect, float(frame_h))  # the photo's height when it just fits
    h = fit * scale
    w = h * motion.aspect
    x0, y0 = (frame_w - w) / 2, (frame_h - h) / 2
    return crop, (x0, y0, x0 + w, y0 + h)  # type: ignore[return-value]


def project_box(box: Box, crop: Box, dest: Rect) -> Rect:
    """Where a normalised box of the photo lands in the frame, in pixels, for a (crop, dest) placement."""
    sx = (dest[2] - dest[0]) / (crop[2] - crop[0])
    sy = (dest[3] - dest[1]) / (crop[3] - crop[1])
    return (dest[0] + (box[0] - crop[0]) * sx, dest[1] + (box[1] - crop[1]) * sy,
            dest[0] + (box[2] - crop[0]) * sx, dest[1] + (box[3] - crop[1]) * sy)
