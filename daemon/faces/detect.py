"""Finding and encoding faces in one photo, fast enough for a Raspberry Pi.

The steps are face_recognition's (dlib HOG or CNN detector, 5-point landmarks, the 128-d ResNet
encoder), so accuracy is the same; what differs is the pixels they run on. A 12-MP JPEG is decoded
with Pillow's draft mode (the JPEG decoder scales by 1/2, 1/4, 1/8 for free), EXIF orientation is
applied first (boxes are stored for the image as people see it), HOG runs on a bounded size and only
looks again at a larger size when the first pass found small faces (a group photo), and the encoder
reads the larger decoded image so each face chip has enough detail.
"""

from __future__ import annotations

import functools
import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from homeroll.daemon.faces import models
from homeroll.daemon.faces.encode import CHIP_PADDING, CHIP_PIXELS, ResNetEncoder
from homeroll.daemon.ingest.thumbs import DRAFT_SLACK

log = logging.getLogger(__name__)

try:  # HEIC/HEIF from iPhones; registering twice is harmless.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a dependency
    pass

#: Images whose short side is below this cannot hold a detectable face (HOG needs ~40 px with upsampling).
MIN_IMAGE_SIDE = 48
#: The stored thumbnail of each face, long side in pixels.
CROP_SIZE = 112
#: dlib's encoder reads a 150x150 chip in which the face box is about 100 px (padding 0.25 each side): a face
#: smaller than this is encoded from the larger decode, so its chip is not upscaled.
CHIP_SIZE = 100
#: The pre-pass's HOG threshold: windows scoring between this and dlib's 0 are leads, rows worth the
#: upsampled look (measured on bench/facemix.py's roll: every group had one, half the faceless photos one).
LEAD_THRESHOLD = -1.0
#: Leads are windows of the pyramid's two lowest levels (80 and 96 px at ``detect_size``, dlib's pyramid steps
#: by 6/5): a face between 40 and 80 px answers there, weakly. A weak window of a larger level is no lead:
#: the upsampled pass sees it at the same level and would reject it too.
LEAD_LEVELS = 1.2
#: How far above and below a lead, in its heights, the closer look reaches.
BAND_HEIGHTS = 1.5
# DRAFT_SLACK (ingest.thumbs, one constant for both decodes of a photo): the pre-pass may read a JPEG decoded
# down to this share of ``detect_size`` (4000 px at 1/4 is 1000), as a thumbnail may of its size.

__all__ = ["DetectedFace", "Detection", "FaceDetector", "load_displayed"]


@dataclass
class DetectedFace:
    """One face: box normalised 0..1 to the displayed image, its score, size and 128-d encoding."""

    top: float
    left: float
    bottom: float
    right: float
    det_score: float
    size_px: int
    encoding: np.ndarray
    crop: bytes

    def asdict(self) -> dict[str, Any]:
        return {
            "top": self.top, "left": self.left, "bottom": self.bottom, "right": self.right,
            "det_score": self.det_score, "size_px": self.size_px,
            "encoding": self.encoding.astype(np.float32).tobytes(), "crop": self.crop,
        }


@dataclass
class Detection:
    """What one photo gave: its faces, or the reason it was skipped."""

    faces: list[DetectedFace] = field(default_factory=list)
    width: int = 0
    height: int = 0
    skipped: str | None = None
    passes: int = 0


def load_displayed(path: Path | str, long_side: int) -> tuple[Image.Image, tuple[int, int]]:
    """Decode an image as displayed (EXIF orientation applied) with a long side of about ``long_side``..2x.

    Returns the RGB image and the full displayed size. JPEGs use draft mode, so a 12-MP photo is
    decoded at 1/2 or 1/4 scale directly by libjpeg instead of decoding 12 MP and shrinking.
    """
    return _displayed(Image.open(path), long_side)


def _displayed(image: Image.Image, long_side: int) -> tuple[Image.Image, tuple[int, int]]:
    """load_displayed of an image already opened (and not yet loaded)."""
    stored_w, stored_h = image.size
    orientation = image.getexif().get(0x0112, 1)
    swapped = orientation in (5, 6, 7, 8)
    full = (stored_h, stored_w) if swapped else (stored_w, stored_h)
    limit = long_side  # a full decode (HEIC, PNG) is shrunk to the size asked for, a JPEG draft to 2x at most
    if image.format in ("JPEG", "MPO"):
        limit = 2 * long_side
        scale = long_side / max(stored_w, stored_h)
        if scale < 1:
            image.draft("RGB", (math.ceil(stored_w * scale), math.ceil(stored_h * scale)))
    if orientation != 1:  # exif_transpose copies even an upright photo: 5-20 ms on a 12-MP HEIC
        image = ImageOps.exif_transpose(image)
    image = _to_rgb(image)
    if max(image.size) > limit:
        # a gap of 1 halves a 12-MP HEIC by box averaging before the bilinear step: 25-40 ms less than
        # bilinear alone from 4000 to 1600 px, where a gap of 2 reduces nothing
        image.thumbnail((limit, limit), Image.Resampling.BILINEAR, reducing_gap=1.0)
    return image, full


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB for dlib: alpha composited on white, CMYK/16-bit/palette/greyscale converted."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float32)
        peak = float(array.max()) or 1.0
        image = Image.fromarray((array * (255.0 / max(peak, 255.0))).clip(0, 255).astype(np.uint8), "L")
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


class FaceDetector:
    """Holds the dlib models (about 30 MB); make one per process and reuse it for every photo."""

    def __init__(self, detector: str = "hog", detect_size: int = 1024, detect_size_max: int = 1600,
                 upsample: int = 1, small_face_px: int = 80) -> None:
        import dlib  # imported here so the CLI starts fast and only face workers pay for it

        self.dlib = dlib
        self.detector_kind = detector
        if detector == "cnn":
            self.cnn = dlib.cnn_face_detection_model_v1(str(models.model_path(models.CNN_DETECTOR)))
        elif detector == "hog":
            self.hog = dlib.get_frontal_face_detector()
        else:
            raise ValueError(f"unknown face detector {detector!r} (use 'hog' or 'cnn')")
        self.shape_predictor = dlib.shape_predictor(str(models.model_path(models.SHAPE_PREDICTOR)))
        self.encoder = ResNetEncoder(models.model_path(models.FACE_ENCODER))  # dlib's, on numpy's BLAS
        self.detect_size = detect_size
        self.detect_size_max = max(detect_size_max, detect_size)
        self.upsample = upsample
        self.small_face_px = small_face_px

    # -- detection ---------------------------------------------------------------------------------
    def _detect(self, array: np.ndarray, upsample: int, threshold: float = 0.0) -> list[tuple[Any, float]]:
        if self.detector_kind == "cnn":
            return [(d.rect, float(d.confidence)) for d in self.cnn(array, upsample)]
        rects, scores, _ = self.hog.run(array, upsample, threshold)
        return list(zip(rects, (float(s) for s in scores), strict=True))

    def _boxes_at(self, image: Image.Image, factor: float, upsample: int,
                  threshold: float = 0.0) -> list[tuple[float, float, float, float, float]]:
        """Faces in ``image`` scaled by ``factor`` (<= 1): (top, left, bottom, right, score) in ``image`` pixels."""
        factor = min(1.0, factor)
        small = image if factor >= 1.0 else image.resize(
            (max(1, round(image.width * factor)), max(1, round(image.height * factor))),
            Image.Resampling.BILINEAR, reducing_gap=2.0)
        if min(small.size) < MIN_IMAGE_SIDE // 2:
            return []
        found = self._detect(np.asarray(small), upsample, threshold)
        back = 1.0 / factor
        return [(r.top() * back, r.left() * back, r.bottom() * back, r.right() * back, score) for r, score in found]

    def _prepare(self, image: Image.Image) -> Image.Image:
        """HOG reads grey (dlib's model was trained on grey gradients, and it is a third of the work); CNN RGB."""
        return image.convert("L") if self.detector_kind == "hog" else image

    def _closer_look(self, image: Image.Image, prepared: Image.Image, band: tuple[int, int],
                     larger: Callable[[], Image.Image] | None) -> tuple[list[tuple[float, ...]], int]:
        """Upsampled detection of one band of rows at ``detect_size``, then at ``detect_size_max`` (on the
        larger decode, when there is one) only where it found small faces; boxes in ``image`` pixels.

        The band is looked at with the whole photo's scale, so a face is as big to the detector as it is in
        today's whole-photo pass and the same faces are found."""
        top, bottom = band
        factor = self.detect_size / max(image.size)
        boxes = _shifted(self._boxes_at(prepared.crop((0, top, image.width, bottom)), factor, self.upsample), top, 1.0)
        small_found = any((b[2] - b[0]) * min(1.0, factor) < self.small_face_px for b in boxes)
        if not small_found or self.detect_size_max <= self.detect_size:
            return boxes, 1  # before ``larger``: its decode is paid only by a second pass or a small face
        big = image if larger is None else larger()
        if max(big.size) <= self.detect_size:
            return boxes, 1
        scale = big.width / image.width
        crop = self._prepare(big.crop((0, math.floor(top * scale), big.width, math.ceil(bottom * scale))))
        second = self._boxes_at(crop, self.detect_size_max / max(big.size), self.upsample)
        second = _shifted(second, math.floor(top * scale), scale)
        return second + [b for b in boxes if all(_iou(b, other) < 0.3 for other in second)], 2

    def find_boxes(self, image: Image.Image, larger: Callable[[], Image.Image] | None = None
                   ) -> tuple[list[tuple[float, float, float, float, float]], int]:
        """Faces in ``image`` (any size) in its pixels, and the passes it took (1: nothing but the pre-pass).

        HOG without upsampling at ``detect_size`` costs a quarter of the upsampled pass (dlib's pyramid has
        four times the pixels above 1x) and finds every face of at least 80 px there with its score. With a
        threshold below dlib's 0 its smallest windows also answer, weakly, where a face between 40 and 80 px
        stands (every group photo of bench/facemix.py's roll has one). Only those rows (leads) get the
        upsampled look, so a photo with no face, or with only large ones, costs the pre-pass alone. The CNN
        detector has no such pre-pass and looks at the whole photo, as HOG does on a photo no larger than
        ``detect_size``.
        ``larger`` decodes the photo bigger, for the second pass on small faces (else ``image`` serves).
        """
        prepared = self._prepare(image)
        if self.detector_kind == "cnn" or max(image.size) < DRAFT_SLACK * self.detect_size:
            # a photo smaller than the pre-pass's scale (an old camera's 640x480, a messenger copy) is cheap
            # to look at closely, and its faces are too few pixels for the pre-pass to answer to at all
            return self._closer_look(image, prepared, (0, image.height), larger)
        factor = min(1.0, self.detect_size / max(image.size))
        found = self._boxes_at(prepared, factor, 0, LEAD_THRESHOLD)
        leads = [b for b in found if (b[2] - b[0]) * factor < LEAD_LEVELS * self.small_face_px]
        sure = [b for b in found if b[4] >= 0 and b not in leads]
        if not leads:
            return sure, 1
        boxes: list[tuple[float, ...]] = []
        passes = 1
        for band in _bands(leads, image.height):
            more, used = self._closer_look(image, prepared, band, larger)
            boxes += more
            passes = max(passes, 1 + used)
        return boxes + [b for b in sure if all(_iou(b, other) < 0.3 for other in boxes)], passes

    # -- the whole photo ---------------------------------------------------------------------------
    def detect_image(self, image: Image.Image, full_size: tuple[int, int],
                     larger: Callable[[], Image.Image] | None = None) -> Detection:
        """Faces in an already decoded RGB image (displayed orientation); boxes normalised 0..1.

        ``larger`` decodes the same photo bigger. It is called (once) only for a second pass on small faces
        or to encode a face smaller than the encoder's chip, so a photo with no face is decoded once, small.
        """
        width, height = image.size
        result = Detection(width=full_size[0], height=full_size[1])
        if min(width, height) < MIN_IMAGE_SIDE:
            result.skipped = f"too small for face detection ({full_size[0]}x{full_size[1]})"
            return result
        larger = functools.cache(larger) if larger is not None else None  # one larger decode, shared
        boxes, result.passes = self.find_boxes(image, larger)
        if not boxes:
            return result
        if larger is not None and min(b[2] - b[0] for b in boxes) < CHIP_SIZE:
            bigger = larger()
            boxes, image = _shifted(boxes, 0, width / bigger.width), bigger
        self._encode(image, boxes, full_size, result)
        return result

    def _encode(self, image: Image.Image, boxes: list[tuple[float, ...]], full_size: tuple[int, int],
                result: Detection) -> None:
        width, height = image.size
        array = np.asarray(image)
        shapes = []
        for top, left, bottom, right, _ in boxes:
            rect = self.dlib.rectangle(round(left), round(top), round(right), round(bottom))
            shapes.append(self.shape_predictor(array, rect))
        chips = self.dlib.get_face_chips(array, self.dlib.full_object_detections(shapes), CHIP_PIXELS, CHIP_PADDING)
        descriptors = self.encoder.encode(chips)
        scale_to_full = full_size[0] / width
        for (top, left, bottom, right, score), descriptor in zip(boxes, descriptors, strict=True):
            result.faces.append(DetectedFace(
                top=_clip(top / height), left=_clip(left / width),
                bottom=_clip(bottom / height), right=_clip(right / width),
                det_score=round(score, 4),
                size_px=round((bottom - top) * scale_to_full),
                encoding=np.asarray(descriptor, dtype=np.float32),
                crop=_crop_jpeg(image, top, left, bottom, right),
            ))
        result.faces.sort(key=lambda f: (f.left, f.top))

    def detect_path(self, path: Path | str) -> Detection:
        """Decode and detect; any decoder problem becomes a one-line ``skipped`` reason, never an exception.

        The pre-pass reads a JPEG decoded at about ``detect_size`` (1/4 of 12 MP costs a third of the 1/2
        decode); a second pass or a small face's encoding decodes it again at ``detect_size_max``. Formats
        with no reduced decode (HEIC: a full HEVC decode) are decoded once, at ``detect_size_max``."""
        try:
            opened = Image.open(path)
            if opened.format not in ("JPEG", "MPO"):  # no reduced decode (HEIC, PNG): decode once, at the max
                return self.detect_image(*_displayed(opened, self.detect_size_max))
            image, full = _displayed(opened, round(self.detect_size * DRAFT_SLACK))
            larger = None
            if max(image.size) < min(self.detect_size_max, max(full)):
                larger = lambda: load_displayed(path, self.detect_size_max)[0]  # noqa: E731 - decoded on demand
            return self.detect_image(image, full, larger)
        except Image.DecompressionBombError:
            return Detection(skipped="image has too many pixels (decompression bomb limit)")
        except UnidentifiedImageError:
            return Detection(skipped="not an image Pillow can read")
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            return Detection(skipped=f"cannot decode image ({type(exc).__name__}: {exc})"[:200])


def _shifted(boxes: list[tuple[float, ...]], top: float, scale: float) -> list[tuple[float, ...]]:
    """Boxes found in a band that starts at row ``top`` of an image ``scale`` times the size of the one they
    are wanted in, in that one's pixels."""
    return [((b[0] + top) / scale, b[1] / scale, (b[2] + top) / scale, b[3] / scale, b[4]) for b in boxes]


def _bands(leads: list[tuple[float, ...]], height: int) -> list[tuple[int, int]]:
    """Row ranges around the leads, merged where they overlap: the people of a group stand in a row."""
    spans = sorted((max(0, round(b[0] - BAND_HEIGHTS * (b[2] - b[0]))),
                    min(height, round(b[2] + BAND_HEIGHTS * (b[2] - b[0])))) for b in leads)
    merged = [spans[0]]
    for top, bottom in spans[1:]:
        if top <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], bottom))
        else:
            merged.append((top, bottom))
    return merged


def _clip(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 5)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, bottom - top) * max(0.0, right - left)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _crop_jpeg(image: Image.Image, top: float, left: float, bottom: float, right: float) -> bytes:
    """A small square JPEG around the face (with some margin) for the TUI."""
    side = max(bottom - top, right - left) * 1.4
    cy, cx = (top + bottom) / 2, (left + right) / 2
    box = (max(0, round(cx - side / 2)), max(0, round(cy - side / 2)),
           min(image.width, round(cx + side / 2)), min(image.height, round(cy + side / 2)))
    if box[2] <= box[0] or box[3] <= box[1]:
        box = (0, 0, image.width, image.height)
    crop = image.crop(box)
    crop.thumbnail((CROP_SIZE, CROP_SIZE), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()
