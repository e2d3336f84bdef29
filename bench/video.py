"""Bench: a 30 s highlight film from 12 picks of 12-MP photos plus 2 clips, on one core.

Target (issue 13): 1080p in <= 60 s wall and <= 400 MB peak RSS. The photos (4000x3000 JPEGs, two of
them portrait, some with face boxes) and two 3 s 1080p phone-like clips with sound are made in a temp
dir first (not timed). Each film renders in a fresh child process pinned to one CPU with encoder
threads = 1, so its wall time and peak RSS (VmHWM, the child's own) are the film's alone. 720p is
printed beside it, and a Raspberry Pi 4 projection with the per-core factor docs/benchmarks.md states
(3-5x slower than the development VM; the middle, 4x, is projected, and the range is shown). The
projection assumes libx264 on the Pi; its hardware encoder (h264_v4l2m2m) takes most of the encode off
the CPU where it works.

    .venv/bin/python bench/video.py [--seconds 30] [--heights 1080,720] [--repeat 3]
"""

from __future__ import annotations

import os
import sys

# bench/ holds scripts named like stdlib modules (select.py): drop it from the path before importing more
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

TARGET_SECONDS = 60.0
TARGET_RSS_MB = 400
PI_FACTOR = 4.0          # docs/benchmarks.md: "a Raspberry Pi 4 is roughly 3-5x slower per core"
PI_RANGE = (3.0, 5.0)
PHOTOS = 12
CLIPS = 2


def make_sources(folder: Path) -> list[dict]:
    """12 photos (2 portrait) and 2 clips, in the order a memory would give them (time order)."""
    from homeroll.demo.media import scene, write_clip, write_jpeg

    picks: list[dict] = []
    for i in range(PHOTOS):
        size = (3000, 4000) if i in (3, 8) else (4000, 3000)
        path = write_jpeg(folder / f"photo{i:02}.jpg", scene(i, size, "lisbon" if i % 2 else "home"), taken=None)
        faces = [[0.08, 0.3, 0.2, 0.46]] if i % 3 == 0 else []  # near the edge: the planner must keep it
        picks.append({"path": str(path), "kind": "photo", "faces": faces})
        if i in (4, 9):
            clip = write_clip(folder / f"clip{i:02}.mp4", seconds=3.0, fps=30, size=(1920, 1080), tone_hz=330 + i,
                              seed=i)
            picks.append({"path": str(clip), "kind": "video", "faces": []})
    return picks


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM belongs to the address space, so unlike ru_maxrss it does not
    carry the parent's peak (the photo generation) over the fork and exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(height: int, seconds: float, picks_json: str, out_dir: str) -> None:
    """Runs in its own process: render one film, report seconds, peak RSS and what was made as JSON."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from homeroll.daemon.collage.sources import Source
    from homeroll.daemon.collage.video import FilmSettings, render_film

    picks = json.loads(Path(picks_json).read_text())
    sources = [Source(p["path"], p["kind"], [tuple(f) for f in p["faces"]]) for p in picks]
    settings = FilmSettings(height=height, seconds=seconds, threads=1)
    target = Path(out_dir) / f"film{height}.mp4"
    start = time.perf_counter()
    with open(target, "w+b") as out:
        info = render_film(sources, "Bench trip to Lisbon", "August 12–18, 2024 · Lisbon", out, settings,
                           key="bench")
    wall = time.perf_counter() - start
    rss_mb = peak_rss_mb()
    print(json.dumps({"seconds": wall, "rss_mb": rss_mb, "bytes": target.stat().st_size, "duration": info.duration,
                      "size": f"{info.width}x{info.height}", "encoder": info.encoder, "shots": len(info.shots),
                      "skipped": len(info.skipped), "audio": info.audio}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--heights", default="1080,720")
    parser.add_argument("--repeat", type=int, default=3, help="runs per height; the median is printed")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), float(args.child[1]), args.child[2], args.child[3])
        return 0
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        picks = make_sources(Path(tmp))
        picks_json = Path(tmp) / "picks.json"
        picks_json.write_text(json.dumps(picks))
        print(f"{PHOTOS} photos 4000x3000 JPEG (12 MP, 2 portrait) + {CLIPS} clips (3 s 1080p H.264 + AAC); "
              f"{args.seconds:g} s film at 30 fps; one core, encoder threads=1; median of {args.repeat} runs; "
              f"target at 1080p <= "
              f"{TARGET_SECONDS:g} s, <= {TARGET_RSS_MB} MB RSS; Pi 4 = {PI_FACTOR:g}x this VM per core "
              f"(docs/benchmarks.md: {PI_RANGE[0]:g}-{PI_RANGE[1]:g}x)")
        print(f"{'film':<10} {'encoder':<8} {'seconds':>8} {'target':>7} {'x realtime':>10} {'peak RSS MB':>12} "
              f"{'target':>7} {'MB':>6} {'Pi 4 s (range)':>18}")
        for height in (int(h) for h in args.heights.split(",")):
            runs = []
            for _ in range(args.repeat):
                done = subprocess.run([sys.executable, __file__, "--child", str(height), str(args.seconds),
                                       str(picks_json), tmp], capture_output=True, text=True, check=True)
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            # the shared machine is noisy: the median run's time, and the largest peak any run had
            r = {**sorted(runs, key=lambda x: x["seconds"])[len(runs) // 2], "rss_mb": max(x["rss_mb"] for x in runs)}
            gated = height == 1080
            passed = r["seconds"] <= TARGET_SECONDS and r["rss_mb"] <= TARGET_RSS_MB
            ok &= passed or not gated
            pi = f"{r['seconds'] * PI_FACTOR:.0f} ({r['seconds'] * PI_RANGE[0]:.0f}-{r['seconds'] * PI_RANGE[1]:.0f})"
            verdict = ("ok" if passed else "SLOW/BIG") if gated else "(no target)"
            print(f"{r['size']:<10} {r['encoder']:<8} {r['seconds']:>8.1f} {TARGET_SECONDS if gated else '-':>7} "
                  f"{r['duration'] / r['seconds']:>10.2f} {r['rss_mb']:>12.0f} {TARGET_RSS_MB if gated else '-':>7} "
                  f"{r['bytes'] / 1e6:>6.1f} {pi:>18} {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
