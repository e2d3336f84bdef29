"""Benchmark: memory selection over synthetic libraries of 10k, 30k and 100k items (20k faces at 100k).

Target (issue 5): <= 10 s and <= 400 MB peak RSS at 100k items on one core, and cost growing no
worse than n log n. Each size is generated once into a real SQLite file (tests/memories/camera_roll.py,
ten years, a house move, trips, parties, bursts), then selection runs in a fresh child process so its
peak RSS (ru_maxrss) is its own and not the generator's.

    .venv/bin/python bench/selection.py [--sizes 10000,30000,100000] [--keep DIR]
"""

from __future__ import annotations

import os.path
import sys

# This file is named like the stdlib module `select`; keep its folder off the import path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_SECONDS = 10.0
TARGET_MB = 400.0
YEARS = 10
#: items ~= FIXED + PER_DENSITY * density for ten years of the generated roll (measured)
FIXED_ITEMS, PER_DENSITY = 3811, 15258

CHILD = r"""
import json, resource, sys, time
from datetime import date
from pathlib import Path
from homeroll.daemon import config as config_mod, store
from homeroll.daemon.memories.select import run_selection
db_path = Path(sys.argv[1])
cfg = config_mod.build(db_path.with_suffix(".toml"), [Path("/library")], db_path.parent, db_path.parent / "export",
                       "Europe/Berlin")
db = store.connect(db_path)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started, cpu = time.perf_counter(), time.process_time()
summary = run_selection(cfg, db, today=date(2030, 6, 15))
first, first_cpu = time.perf_counter() - started, time.process_time() - cpu
started = time.perf_counter()
again = run_selection(cfg, db, today=date(2030, 6, 15))
second = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"first": first, "first_cpu": first_cpu, "second": second, "peak_mb": peak / 1024, "base_mb": base / 1024,
                  "memories": sum(summary["by_kind"].values()), "by_kind": summary["by_kind"],
                  "unchanged": again["unchanged"]}))
"""


def build(path: Path, size: int, faces: int) -> dict:
    from datetime import date

    from homeroll.daemon import store
    from tests.memories.camera_roll import generate

    db = store.connect(path)
    density = max(0.1, (size - FIXED_ITEMS) / PER_DENSITY)
    started = time.perf_counter()
    truth = generate(db, 7, start=date(2020, 1, 1), years=YEARS, density=density)
    with db.atomic():
        db.execute("DELETE FROM faces WHERE id NOT IN (SELECT id FROM faces ORDER BY id % 7919, id LIMIT ?)",
                   [faces])
        db.execute("UPDATE items SET face_count = (SELECT COUNT(*) FROM faces f WHERE f.item_id = items.id)")
    counts = {"items": db.execute("SELECT COUNT(*) FROM items").fetchone()[0],
              "faces": db.execute("SELECT COUNT(*) FROM faces").fetchone()[0],
              "generate_s": time.perf_counter() - started, "trips": len(truth.trips)}
    db.close()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--keep", help="keep the generated DBs in this folder (and reuse them)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="homeroll-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in sizes:
        faces = size // 5
        path = workdir / f"select-{size}.db"
        meta_path = path.with_suffix(".json")
        if not path.exists() or not meta_path.exists():
            meta = build(path, size, faces)
            meta_path.write_text(json.dumps(meta))
        meta = json.loads(meta_path.read_text())
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, env=env,
                             check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((size, meta, result))
        print(f"  {size}: {result['first']:.2f}s, {result['peak_mb']:.0f} MB", file=sys.stderr)

    print(f"{'target':>8} {'items':>7} {'faces':>6} {'memories':>8} {'select s':>9} {'cpu s':>6} {'rerun s':>8} "
          f"{'peak MB':>8} {'cpu/(n log n) e6':>17}   reference (issue 5)")
    for size, meta, r in rows:
        n = meta["items"]
        per = r["first_cpu"] / (n * math.log(n)) * 1e6
        ok_t = "ok" if r["first"] <= TARGET_SECONDS else "SLOW"
        ok_m = "ok" if r["peak_mb"] <= TARGET_MB else "OVER"
        ref = f"<= {TARGET_SECONDS:.0f} s, <= {TARGET_MB:.0f} MB at 100k ({ok_t}, {ok_m})" if size >= 100_000 else \
            f"peak <= {TARGET_MB:.0f} MB ({ok_m})"
        print(f"{size:>8} {n:>7} {meta['faces']:>6} {r['memories']:>8} {r['first']:>9.2f} {r['first_cpu']:>6.2f} {r['second']:>8.2f} "
              f"{r['peak_mb']:>8.0f} {per:>17.3f}   {ref}")
    print("(a flat or falling cpu/(n log n) column means growth no worse than n log n; wall time varies with load)")


if __name__ == "__main__":
    main()
