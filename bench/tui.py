"""TUI responsiveness on a Pi-sized library: 100,000 items, 2,000 memories (Pilot, headless).

Targets (issue 7): first paint <= 1.5 s; moving the cursor and opening a memory <= 100 ms per key.
Usage: .venv/bin/python bench/tui.py [--items 100000] [--memories 2000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from PIL import Image, ImageDraw

TARGETS = {"first paint": 1500.0, "cursor move (per key)": 100.0, "open a memory (per key)": 100.0}
KINDS = ["trip", "day_out", "gathering", "holiday", "birthday", "on_this_day", "people"]
STATUSES = ["suggested"] * 5 + ["approved", "exported", "rejected"]
THUMBS = 40


def build_library(cfg, n_items: int, n_memories: int, picks: int = 15) -> None:
    """Bulk rows with sqlite-utils (bench code, like test code, may insert directly)."""
    rng = random.Random(7)
    for i in range(THUMBS):
        img = Image.new("RGB", (512, 384), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        ImageDraw.Draw(img).ellipse([100, 80, 300, 280], fill=(rng.randrange(256), 200, 120))
        path = cfg.thumbs_dir / f"{i:02d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        img.save(path, "JPEG", quality=85)
    db = store.connect(cfg.db_path)
    stamp = "2025-01-01T00:00:00+00:00"
    with db.atomic():
        db["items"].insert_all(({
            "id": i, "hash": f"h{i}", "kind": "photo", "taken_at_local": f"20{10 + i % 15}-{1 + i % 12:02d}-"
            f"{1 + i % 28:02d}T12:00:00", "utc_offset_min": 60, "taken_at_utc": f"20{10 + i % 15}-01-01T11:00:00",
            "width": 4032, "height": 3024, "thumb": f"thumbs/{i % THUMBS:02d}.jpg", "indexed_at": stamp,
            "quality": rng.random(),
        } for i in range(1, n_items + 1)), batch_size=5000)
        db["paths"].insert_all(({
            "item_id": i, "root": "/srv/photos", "relpath": f"{i // 1000}/IMG_{i}.jpg", "size": 1, "mtime_ns": 1,
            "seen_at": stamp,
        } for i in range(1, n_items + 1)), batch_size=5000)
        db["memories"].insert_all(({
            "id": m, "stable_key": f"k{m}", "kind": KINDS[m % len(KINDS)], "title": f"Memory number {m}",
            "start": f"20{10 + m % 15}-{1 + m % 12:02d}-01T09:00:00", "end": f"20{10 + m % 15}-{1 + m % 12:02d}-03T20:00:00",
            "place": "Lisbon, Portugal", "people": json.dumps(["Ana", "Ben"]), "score": 0.5, "reason": "bench",
            "status": STATUSES[m % len(STATUSES)], "cover_item": 1 + (m * picks) % n_items,
            "created_at": stamp, "updated_at": stamp,
        } for m in range(1, n_memories + 1)), batch_size=2000)
        db["memory_items"].insert_all(({
            "memory_id": m, "item_id": 1 + (m * picks + k) % n_items, "picked": 1, "rank": k,
        } for m in range(1, n_memories + 1) for k in range(picks)), batch_size=5000)
    db.close()


async def measure(cfg) -> dict[str, float]:
    from textual_image._terminal import CellSize, get_cell_size

    get_cell_size._result = CellSize(10, 20)  # type: ignore[attr-defined]
    from homeroll.tui.app import HomerollApp
    from homeroll.tui.screens.memory_detail import MemoryDetailScreen
    from homeroll.tui.widgets.memory_table import MemoryTable
    from homeroll.tui.widgets.tile_grid import TileGrid

    results: dict[str, float] = {}
    app = HomerollApp(cfg, image_renderer="halfcell", refresh_interval=None)
    start = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        while True:
            tables = app.screen.query(MemoryTable)
            if tables and tables.first().row_count > 0:
                break
            await asyncio.sleep(0.005)
        await pilot.pause()
        results["first paint"] = (time.perf_counter() - start) * 1000

        moves = []
        for _ in range(40):
            t = time.perf_counter()
            await pilot.press("down")
            await pilot.pause()
            moves.append((time.perf_counter() - t) * 1000)
        results["cursor move (per key)"] = statistics.median(moves)
        results["cursor move (worst)"] = max(moves)

        opens, images = [], []
        for _ in range(8):
            t = time.perf_counter()
            await pilot.press("enter")
            while not (isinstance(app.screen, MemoryDetailScreen) and app.screen.memory is not None
                       and app.screen.query_one(TileGrid).tiles()):
                await asyncio.sleep(0.002)
            await pilot.pause()
            opens.append((time.perf_counter() - t) * 1000)
            await app.workers.wait_for_complete()
            await pilot.pause()
            images.append((time.perf_counter() - t) * 1000)
            await pilot.press("escape", "down")
            await pilot.pause()
        results["open a memory (per key)"] = statistics.median(opens)
        results["open a memory (worst)"] = max(opens)
        results["all 15 previews shown"] = statistics.median(images)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--memories", type=int, default=2_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the library in this folder")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="homeroll-bench-tui-"))
    (base / "library").mkdir(parents=True, exist_ok=True)
    cfg = config_mod.build(base / "config.toml", [base / "library"], base / "data", base / "export", "UTC")
    if not cfg.db_path.exists():
        t = time.perf_counter()
        build_library(cfg, args.items, args.memories)
        print(f"built {args.items} items, {args.memories} memories in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    results = asyncio.run(measure(cfg))
    print(f"{'metric':28} {'measured (ms)':>14} {'target (ms)':>12}  ok")
    for name, value in results.items():
        target = TARGETS.get(name)
        verdict = ("yes" if value <= target else "NO") if target else ""
        print(f"{name:28} {value:14.1f} {target if target else '':>12}  {verdict}")


if __name__ == "__main__":
    main()
