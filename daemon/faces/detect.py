"""Finding and encoding faces in one photo, fast enough for a Raspberry Pi.

The steps are face_recognition's (dlib HOG or CNN detector, 5-point landmarks, the 128-d ResNet
encoder), so accuracy is the same; what differs is the pixels they run on. A 12-MP JPEG is decoded
with Pillow's draft mode (the JPEG decoder scales by 1/2, 1/4, 1/8 for free), EXIF orientation is
applied first (boxes are stored for the image as people see it), HOG runs on a bounded size and only
looks again at a larger size when the first pass found small faces (a group photo), and the encoder
reads the larger decoded image so each face chip has enough detail.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from homeroll.daemon.faces import models

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
    image = Image.open(path)
    stored_w, stored_h = image.size
    orientation = image.getexif().get(0x0112, 1)
    swapped = orientation in (5, 6, 7, 8)
    full = (stored_h, stored_w) if swapped else (stored_w, stored_h)
    if image.format in ("JPEG", "MPO"):
        scale = long_side / max(stored_w, stored_h)
        if scale < 1:
            image.draft("RGB", (math.ceil(stored_w * scale), math.ceil(stored_h * scale)))
    image = ImageOps.exif_transpose(image)
    image = _to_rgb(image)
    if max(image.size) > 2 * long_side:
        image.thumbnail((2 * long_side, 2 * long_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
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
        self.encoder = dlib.face_recognition_model_v1(str(models.model_path(models.FACE_ENCODER)))
        self.detect_size = detect_size
        self.detect_size_max = max(detect_size_max, detect_size)
        self.upsample = upsample
        self.small_face_px = small_face_px

    # -- detection ---------------------------------------------------------------------------------
    def _detect(self, array: np.ndarray) -> list[tuple[Any, float]]:
        if self.detector_kind == "cnn":
            return [(d.rect, float(d.confidence)) for d in self.cnn(array, self.upsample)]
        rects, scores, _ = self.hog.run(array, self.upsample, 0.0)
        return list(zip(rects, (float(s) for s in scores), strict=True))

    def _boxes_at(self, image: Image.Image, long_side: int) -> list[tuple[float, float, float, float, float]]:
        """Faces in ``image`` shrunk to ``long_side``: (top, left, bottom, right, score) in ``image`` pixels."""
        factor = min(1.0, long_side / max(image.size))
        small = image if factor >= 1.0 else image.resize(
            (max(1, round(image.width * factor)), max(1, round(image.height * factor))),
            Image.Resampling.BILINEAR, reducing_gap=2.0)
        found = self._detect(np.asarray(small))
        back = 1.0 / factor if factor < 1.0 else 1.0
        return [(r.top() * back, r.left() * back, r.bottom() * back, r.right() * back, score) for r, score in found]

    def find_boxes(self, image: Image.Image) -> tuple[list[tuple[float, float, float, float, float]], int]:
        """Adaptive detection: a second, larger pass only when the first one found small faces."""
        boxes = self._boxes_at(image, self.detect_size)
        passes = 1
        factor = min(1.0, self.detect_size / max(image.size))
        small_found = any((b[2] - b[0]) * factor < self.small_face_px for b in boxes)
        if small_found and max(image.size) > self.detect_size and self.detect_size_max > self.detect_size:
            larger = self._boxes_at(image, self.detect_size_max)
            passes = 2
            boxes = larger + [b for b in boxes if all(_iou(b, other) < 0.3 for other in larger)]
        return boxes, passes

    # -- the whole photo ---------------------------------------------------------------------------
    def detect_image(self, image: Image.Image, full_size: tuple[int, int]) -> Detection:
        """Faces in an already decoded RGB image (displayed orientation); boxes normalised 0..1."""
        width, height = image.size
        result = Detection(width=full_size[0], height=full_size[1])
        if min(width, height) < MIN_IMAGE_SIDE:
            result.skipped = f"too small for face detection ({full_size[0]}x{full_size[1]})"
            return result
        boxes, result.passes = self.find_boxes(image)
        if not boxes:
            return result
        array = np.asarray(image)
        shapes = []
        for top, left, bottom, right, _ in boxes:
            rect = self.dlib.rectangle(round(left), round(top), round(right), round(bottom))
            shapes.append(self.shape_predictor(array, rect))
        descriptors = self.encoder.compute_face_descriptor(array, self.dlib.full_object_detections(shapes))
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
        return result

    def detect_path(self, path: Path | str) -> Detection:
        """Decode and detect; any decoder problem becomes a one-line ``skipped`` reason, never an exception."""
        try:
            image, full = load_displayed(path, self.detect_size_max)
        except Image.DecompressionBombError:
            return Detection(skipped="image has too many pixels (decompression bomb limit)")
        except UnidentifiedImageError:
            return Detection(skipped="not an image Pillow can read")
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            return Detection(skipped=f"cannot decode image ({type(exc).__name__}: {exc})"[:200])
        return self.detect_image(image, full)


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
