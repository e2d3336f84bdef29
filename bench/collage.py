"""Bench: a 9-photo landscape collage from 12 MP JPEG sources, per layout, on one core.

Target (issue 6): <= 2 s and <= 300 MB RSS. Sources are corpus photos upscaled to 4000x3000 in a temp
dir (made once, not timed). Each layout runs in a fresh child process pinned to one CPU, so its peak RSS
(ru_maxrss) is its own. Prints a table side by side with the target.

    .venv/bin/python bench/collage.py [--corpus ../shared/corpus]
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts named like stdlib modules (select.py): drop it from the path before importing more
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

TARGET_SECONDS = 2.0
TARGET_RSS_MB = 300
PHOTOS = [
    "face_recognition/examples/obama.jpg", "exif-samples/jpg/gps/DSCN0010.jpg",
    "face_recognition/examples/two_people.jpg", "exif-samples/jpg/gps/DSCN0021.jpg",
    "face_recognition/examples/biden.jpg", "exif-samples/jpg/gps/DSCN0025.jpg",
    "face_recognition/examples/knn_examples/test/kit_with_rose.jpg", "exif-samples/jpg/gps/DSCN0027.jpg",
    "exif-samples/jpg/gps/DSCN0029.jpg",
]


def make_sources(corpus: Path, folder: Path) -> list[str]:
    from PIL import Image

    out = []
    for i, rel in enumerate(PHOTOS):
        target = folder / f"src{i}.jpg"
        with Image.open(corpus / rel) as img:
            img.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC).save(target, quality=90)
        out.append(str(target))
    return out


def child(layout: str, sources: list[str]) -> None:
    """Runs in its own process: render + encode, report seconds and peak RSS as JSON."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from homeroll.daemon.collage.render import Caption, render_collage
    from homeroll.daemon.collage.sources import Source

    start = time.perf_counter()
    collage = render_collage([Source(p) for p in sources], layout=None if layout == "auto" else layout,
                             size="landscape", style="clean", caption=Caption("Bench trip", "Arezzo · 22 October 2008"))
    buf = io.BytesIO()
    collage.image.save(buf, "JPEG", quality=90)
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"layout": collage.layout, "seconds": seconds, "rss_mb": rss_mb, "bytes": len(buf.getvalue()),
                      "tiles": len(collage.placements)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "corpus"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1:])
        return 0
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        sources = make_sources(Path(args.corpus), Path(tmp))
        print(f"9 sources, 4000x3000 JPEG (12 MP); page 3840x2160; one core; target <= {TARGET_SECONDS} s, "
              f"<= {TARGET_RSS_MB} MB RSS")
        print(f"{'layout':<8} {'seconds':>8} {'target':>7} {'peak RSS MB':>12} {'target':>7} {'tiles':>6} {'JPEG KB':>8}")
        for layout in ("auto", "grid", "mosaic", "hero", "strip"):
            done = subprocess.run([sys.executable, __file__, "--child", layout, *sources], capture_output=True,
                                  text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            name = layout if layout != "auto" else f"auto={r['layout']}"
            passed = r["seconds"] <= TARGET_SECONDS and r["rss_mb"] <= TARGET_RSS_MB
            ok &= passed
            print(f"{name:<8} {r['seconds']:>8.2f} {TARGET_SECONDS:>7.1f} {r['rss_mb']:>12.0f} {TARGET_RSS_MB:>7} "
                  f"{r['tiles']:>6} {r['bytes'] // 1024:>8} {'ok' if passed else 'SLOW/BIG'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
