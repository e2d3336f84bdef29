"""The bench-made 12-MP camera roll for issue 12: 60 % without a face, 30 % with 1-3 faces, 10 % groups of
small faces, 10 % of everything saved as HEIC; every face labelled with its box.

Why made, not downloaded: the corpus holds only a handful of face photos, all large portraits at under 1 MP,
while a real first index is mostly faceless 12-MP photos (landscapes, streets, food) and now and then a group
whose faces are 3-6 % of the frame. The faces come from the corpus's labelled photos (face_recognition's
examples): each is cut out with a feathered oval and pasted, scaled, onto a generated scene, so the label is
the source face's box moved by the same transform. Seeded, so every run and both pipelines see the same roll.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = (4000, 3000)
#: (corpus path under face_recognition/, faces in it): the labelled sources of pasted faces.
SOURCES = [
    ("examples/obama.jpg", 1), ("examples/biden.jpg", 1), ("examples/two_people.jpg", 2),
    ("examples/knn_examples/test/kit_with_rose.jpg", 2), ("examples/knn_examples/test/alex_lacamoire1.jpg", 1),
    ("examples/knn_examples/test/johnsnow_test1.jpg", 1), ("examples/knn_examples/train/rose_leslie/img1.jpg", 1),
    ("examples/knn_examples/train/kit_harington/john1.jpeg", 1), ("examples/obama2.jpg", 1),
    ("examples/knn_examples/train/biden/biden2.jpg", 1),
]


@dataclass
class Shot:
    path: Path
    kind: str  # "none", "few", "group"
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # (top, left, bottom, right) px


def source_faces(corpus: Path) -> list[tuple[Image.Image, tuple[int, int, int, int]]]:
    """Each labelled face of the sources with its HOG box at the source's own size (upsample 1, as
    face_recognition's documented call); a source whose count differs from its label is left out."""
    import dlib

    hog = dlib.get_frontal_face_detector()
    faces = []
    for rel, expected in SOURCES:
        with Image.open(corpus / "face_recognition" / rel) as src:
            image = src.convert("RGB")
        rects = hog(np.asarray(image), 1)
        if len(rects) != expected:
            continue
        faces.extend((image, (r.top(), r.left(), r.bottom(), r.right())) for r in rects)
    return faces


def _scene(rng: np.random.Generator) -> Image.Image:
    """A generated outdoor or indoor scene: gradients, layered noisy hills or walls, texture, sensor noise."""
    w, h = SIZE
    small_w, small_h = w // 8, h // 8
    y = np.linspace(0, 1, small_h)[:, None]
    sky_top, sky_low = rng.uniform(40, 230, 3), rng.uniform(120, 255, 3)
    img = (sky_top * (1 - y)[..., None] + sky_low * y[..., None]) * np.ones((1, small_w, 1))
    x = np.linspace(0, 1, small_w)
    for layer in range(int(rng.integers(2, 5))):
        base = rng.uniform(0.35, 0.8) + 0.06 * layer
        ridge = base + sum(rng.uniform(0.01, 0.08) * np.sin(2 * np.pi * (x * f + rng.uniform()))
                           for f in rng.uniform(0.5, 6, 4))
        colour = rng.uniform(20, 200, 3)
        mask = y > ridge[None, :]
        img[mask] = colour * (0.8 + 0.4 * rng.random((int(mask.sum()), 1)))
    noise = rng.normal(0, 1, (small_h // 4 + 1, small_w // 4 + 1, 1))
    img += 18 * np.kron(noise, np.ones((4, 4, 1)))[:small_h, :small_w]
    scene = Image.fromarray(img.clip(0, 255).astype(np.uint8)).resize(SIZE, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(scene)
    for _ in range(int(rng.integers(5, 25))):  # trees, rocks, furniture: edges HOG has to look at
        cx, cy, r = rng.uniform(0, w), rng.uniform(h * 0.3, h), rng.uniform(20, 300)
        shade = tuple(int(c) for c in rng.uniform(10, 160, 3))
        if rng.random() < 0.5:
            draw.ellipse((cx - r, cy - 2 * r, cx + r, cy + r), fill=shade)
        else:
            draw.rectangle((cx - r, cy - r, cx + r * rng.uniform(1, 3), cy + r), fill=shade)
    grain = rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    return Image.fromarray((np.asarray(scene, dtype=np.float32) + grain).clip(0, 255).astype(np.uint8))


def _paste(scene: Image.Image, face: tuple[Image.Image, tuple[int, int, int, int]], height: float,
           at: tuple[float, float]) -> tuple[int, int, int, int]:
    """Paste one face so its box is ``height`` px tall with its centre at ``at``; returns the new box."""
    source, (top, left, bottom, right) = face
    side = bottom - top
    margin = side * 0.9
    crop_box = (max(0, round(left - margin)), max(0, round(top - margin)),
                min(source.width, round(right + margin)), min(source.height, round(bottom + margin)))
    crop = source.crop(crop_box)
    factor = height / side
    crop = crop.resize((max(1, round(crop.width * factor)), max(1, round(crop.height * factor))),
                       Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.BICUBIC)
    mask = Image.new("L", crop.size, 0)
    ImageDraw.Draw(mask).ellipse((crop.width * 0.04, crop.height * 0.02, crop.width * 0.96, crop.height * 0.98),
                                 fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, crop.width / 25)))
    face_cx = ((left + right) / 2 - crop_box[0]) * factor
    face_cy = ((top + bottom) / 2 - crop_box[1]) * factor
    ox, oy = round(at[0] - face_cx), round(at[1] - face_cy)
    scene.paste(crop, (ox, oy), mask)
    return (round(oy + (top - crop_box[1]) * factor), round(ox + (left - crop_box[0]) * factor),
            round(oy + (bottom - crop_box[1]) * factor), round(ox + (right - crop_box[0]) * factor))


def make_mix(corpus: Path, out: Path, count: int = 40, seed: int = 12) -> list[Shot]:
    """``count`` photos in ``out`` (cached there by seed and count); labels in ``out/labels.json``."""
    labels_path = out / f"labels-v3-{seed}-{count}.json"
    if labels_path.exists():
        return [Shot(out / Path(s["path"]).name, s["kind"], [tuple(b) for b in s["boxes"]])
                for s in json.loads(labels_path.read_text())]
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    faces = source_faces(corpus)
    kinds = ["none"] * round(count * 0.6) + ["few"] * round(count * 0.3)
    kinds += ["group"] * (count - len(kinds))
    heic = set(rng.choice(count, size=max(1, round(count * 0.1)), replace=False).tolist())
    shots = []
    for index, kind in enumerate(kinds):
        scene = _scene(rng)
        boxes = []
        if kind == "few":
            for slot in range(int(rng.integers(1, 4))):
                height = rng.uniform(0.035, 0.22) * SIZE[0]  # a lone face far away too
                at = ((slot + 0.5 + rng.uniform(-0.15, 0.15)) * SIZE[0] / 3, rng.uniform(0.3, 0.6) * SIZE[1])
                boxes.append(_paste(scene, faces[int(rng.integers(len(faces)))], height, at))
        elif kind == "group":
            people = int(rng.integers(5, 9))
            row_y = rng.uniform(0.35, 0.6) * SIZE[1]
            for slot in range(people):
                height = rng.uniform(0.03, 0.055) * SIZE[0]
                at = ((slot + 0.5) * SIZE[0] / people + rng.uniform(-40, 40), row_y + rng.uniform(-120, 120))
                boxes.append(_paste(scene, faces[int(rng.integers(len(faces)))], height, at))
        suffix = ".heic" if index in heic else ".jpg"
        path = out / f"mix-{seed}-{index:03d}-{kind}{suffix}"
        if suffix == ".heic":
            import pillow_heif

            # quality 45 is about 1.4 bits a pixel, the top of the corpus's real phone HEICs (0.4-1.5);
            # at 85 a file was 5.5 bits a pixel and HEVC decode, which follows the bitrate, took twice as long.
            pillow_heif.from_pillow(scene).save(path, quality=45)
        else:
            scene.save(path, quality=90)
        shots.append(Shot(path, kind, boxes))
    labels_path.write_text(json.dumps([{"path": s.path.name, "kind": s.kind, "boxes": s.boxes} for s in shots]))
    return shots


def match(found: list[tuple[float, float, float, float]], truth: list[tuple[int, int, int, int]],
          min_iou: float = 0.3) -> tuple[int, int]:
    """(true positives, false positives): each labelled box is matched at most once, greedily by overlap."""
    used: set[int] = set()
    hits = 0
    for box in found:
        best, best_iou = None, min_iou
        for index, label in enumerate(truth):
            if index in used:
                continue
            overlap = _iou(box, label)
            if overlap >= best_iou:
                best, best_iou = index, overlap
        if best is not None:
            used.add(best)
            hits += 1
    return hits, len(found) - hits


def _iou(a, b) -> float:
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, bottom - top) * max(0.0, right - left)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
