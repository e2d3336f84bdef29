"""Bench: face detection + encoding per 12-MP photo, face_recognition's pipeline vs homeroll's; 100k-face clustering.

    .venv/bin/python bench/faces.py [--corpus DIR] [--faces 100000] [--skip-reference]

Reference = face_recognition's documented pipeline done with the same dlib calls (face_recognition itself
needs a dlib source build): load the full image as RGB, HOG at full size with upsample 1
(``face_locations``), 5-point landmarks and the ResNet encoder (``face_encodings``). homeroll = draft
decode, EXIF orientation, adaptive 1024/1600 px detection, encoding from the decoded image.
"""

# ruff: noqa: E402 - sys.path is cleaned before the other imports (see below)
from __future__ import annotations

import os
import sys

# bench/ holds a select.py of another bench; as sys.path[0] it would shadow the stdlib module.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
PHOTOS = [  # (corpus path, faces a person sees)
    ("examples/obama.jpg", 1),
    ("examples/biden.jpg", 1),
    ("examples/two_people.jpg", 2),
    ("examples/knn_examples/test/kit_with_rose.jpg", 2),
    ("examples/knn_examples/test/obama_and_biden.jpg", 3),  # the group photo
]


def make_12mp(corpus: Path, out: Path) -> list[tuple[Path, int]]:
    made = []
    for rel, expected in PHOTOS:
        with Image.open(corpus / "face_recognition" / rel) as src:
            image = src.convert("RGB")
        scale = (12_000_000 / (image.width * image.height)) ** 0.5
        big = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        target = out / (Path(rel).stem + "_12mp.jpg")
        big.save(target, quality=90)
        made.append((target, expected))
    return made


def reference_pipeline(path: Path) -> int:
    """face_recognition.load_image_file + face_locations(upsample=1) + face_encodings, with dlib directly."""
    import dlib

    from homeroll.daemon.faces import models

    detector = _cached("hog", dlib.get_frontal_face_detector)
    predictor = _cached("sp", lambda: dlib.shape_predictor(str(models.model_path(models.SHAPE_PREDICTOR))))
    encoder = _cached("enc", lambda: dlib.face_recognition_model_v1(str(models.model_path(models.FACE_ENCODER))))
    image = np.array(Image.open(path).convert("RGB"))
    rects = detector(image, 1)
    encodings = [np.array(encoder.compute_face_descriptor(image, predictor(image, r), 1)) for r in rects]
    return len(encodings)


_CACHE: dict = {}


def _cached(key, factory):
    if key not in _CACHE:
        _CACHE[key] = factory()
    return _CACHE[key]


def peak_rss_kb() -> int:
    """VmHWM: this process's own peak (ru_maxrss survives exec, so a spawned child would report its parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _measured_detector(settings: dict):
    """The faces job's worker, also reporting the worker's peak memory with each photo."""
    from homeroll.daemon.faces import job

    detect = job._detect_worker(settings)

    def detect_and_measure(item: tuple[int, str]) -> tuple[int, int]:
        faces, _ = detect(item)
        return len(faces), peak_rss_kb()

    return detect_and_measure


def pool_throughput(photos: list[Path], workers: int, repeat: int) -> tuple[float, int]:
    from homeroll.daemon.ingest.workers import ProcessPool

    items = [(0, str(p)) for p in photos] * repeat
    settings = {"detector": "hog", "detect_size": 1024, "detect_size_max": 1600, "upsample": 1,
                "max_image_pixels": 200_000_000}
    pool = ProcessPool(_measured_detector, settings, workers, 600.0, nice=0, role="bench")
    try:
        list(pool.map(items[:2 * workers]))  # warm up: models loaded in every worker
        started = time.perf_counter()
        results = [result for _, result in pool.map(items)]
        seconds = time.perf_counter() - started
    finally:
        pool.close()
    faces = sum(r[0] for r in results)
    return faces / seconds, max(r[1] for r in results) // 1024


CLUSTER_CHILD = r"""
import sys, time, resource, numpy as np
from homeroll.daemon.faces import cluster
n = int(sys.argv[1]); rng = np.random.default_rng(1)
sizes = [max(3, n * 3 // 100)] * 20 + [20] * (n // 100)      # family members, friends
rest = max(0, n - sum(sizes))                                  # strangers seen once
centres = rng.normal(0, 0.06, (len(sizes) + rest, 128)).astype(np.float32)
parts = [centres[i] + rng.normal(0, 0.022, (s, 128)).astype(np.float32) for i, s in enumerate(sizes)]
x = np.vstack(parts + [centres[len(sizes):]])[:n]
truth = np.concatenate([np.full(s, i) for i, s in enumerate(sizes)] + [np.full(rest, -1)])[:n]
started = time.perf_counter()
labels = cluster.cluster(x, np.arange(n), 0.5, 3)
seconds = time.perf_counter() - started
mixed = sum(len(set(truth[labels == k])) > 1 for k in range(labels.max() + 1))
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(seconds, labels.max() + 1, len(sizes), mixed, hwm // 1024)
"""


def clustering(n: int) -> tuple[float, int, int, int, int]:
    out = subprocess.run([sys.executable, "-c", CLUSTER_CHILD, str(n)], capture_output=True, text=True, check=True)
    seconds, found, true, mixed, rss = out.stdout.split()
    return float(seconds), int(found), int(true), int(mixed), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--faces", type=int, default=100_000, help="synthetic encodings to cluster")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-photos", action="store_true", help="only the clustering bench")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the photos for the pool throughput")
    args = parser.parse_args()

    from homeroll.daemon.faces.detect import FaceDetector

    tmp = Path(tempfile.mkdtemp(prefix="homeroll-bench-faces-"))
    try:
        photos = [] if args.skip_photos else make_12mp(args.corpus, tmp)
        detector = FaceDetector()
        print(f"machine: {os.cpu_count()} cores; photos: {len(photos)} x 12 MP (upscaled corpus photos)")
        print(f"{'photo':<28} {'expected':>8} {'reference s':>12} {'faces':>6} {'homeroll s':>11} {'faces':>6} {'speed-up':>9}")
        total_ref = total_ours = 0.0
        for path, expected in photos:
            ref_s = ref_n = None
            if not args.skip_reference:
                started = time.perf_counter()
                ref_n = reference_pipeline(path)
                ref_s = time.perf_counter() - started
                total_ref += ref_s
            started = time.perf_counter()
            ours = detector.detect_path(path)
            ours_s = time.perf_counter() - started
            total_ours += ours_s
            ref_txt = f"{ref_s:12.2f} {ref_n:6d}" if ref_s is not None else f"{'-':>12} {'-':>6}"
            speed = f"{ref_s / ours_s:8.1f}x" if ref_s else f"{'-':>9}"
            print(f"{path.name:<28} {expected:8d} {ref_txt} {ours_s:11.2f} {len(ours.faces):6d} {speed}")
        if total_ref:
            print(f"{'mean s/photo':<28} {'':8} {total_ref / len(photos):12.2f} {'':6} {total_ours / len(photos):11.2f} "
                  f"{'':6} {total_ref / total_ours:8.1f}x")
        if photos:
            workers = os.cpu_count() or 1
            rate, rss = pool_throughput([p for p, _ in photos], workers, args.repeat)
            print(f"pool: {workers} workers, {rate:.2f} faces/s, max RSS per worker {rss} MB")
        seconds, found, true, mixed, crss = clustering(args.faces)
        print(f"clustering {args.faces} synthetic faces: {seconds:.1f} s, peak RSS {crss} MB, "
              f"{found} people found ({true} real groups, {mixed} mixed) (target <= 60 s, <= 1024 MB)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
