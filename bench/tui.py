"""TUI responsiveness on a Pi-sized library: 100,000 items, 2,000 memories (Pilot, headless).

Targets (issue 7): first paint <= 1.5 s; moving the cursor and opening a memory <= 100 ms per key.
Each figure runs from the key (or app start) to the first frame that shows the result; see
docs/benchmarks.md. Usage: .venv/bin/python -P bench/tui.py [--items 100000] [--memories 2000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from homeroll.daemon import config as config_mod
from homeroll.daemon import store

TARGETS = {"first paint": 1500.0, "first paint from process start": 1500.0, "cursor move (per key)": 100.0,
           "open a memory (per key)": 100.0}
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


class FrameClock:
    """Timestamps every frame the app would send to the terminal, and waits for the first frame that
    satisfies a condition (checked when the frame is drawn, so it is what the user would see).

    Headless Textual skips turning a frame into terminal bytes; the clock does that too (into a
    discarded string) so the cost a real terminal session pays is counted.
    """

    def __init__(self, app) -> None:
        self.app = app
        self._original = app._display
        self._condition = None
        self._hit: asyncio.Future | None = None
        app._display = self._display

    def _display(self, screen, renderable) -> None:
        from textual._compositor import CompositorUpdate

        if isinstance(renderable, CompositorUpdate) and self.app.is_headless:
            renderable.render_segments(self.app.console)
        self._original(screen, renderable)
        if self._condition is not None and self._hit is not None and not self._hit.done():
            if self._condition():
                self._hit.set_result((time.perf_counter(), time.thread_time()))

    async def until(self, condition, timeout: float = 30.0) -> tuple[float, float]:
        """(wall, UI-thread CPU) at the first frame, from now on, for which ``condition()`` holds."""
        self._condition = condition
        self._hit = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(self._hit, timeout)
        finally:
            self._condition = None


def shown(widget) -> bool:
    """True once the compositor has placed the widget on screen (so the current frame draws it)."""
    try:
        return bool(widget.screen.find_widget(widget).region)
    except Exception:  # noqa: BLE001 - not mounted or not laid out yet
        return False


async def _cursor_moves(pilot, clock, table) -> dict[str, float]:
    """40 presses of down in the list, each timed to the frame that shows the cursor one row lower."""
    moves, move_cpu = [], []
    for _ in range(40):
        row = table().cursor_row
        t, c = time.perf_counter(), time.thread_time()
        waiting = asyncio.ensure_future(clock.until(lambda row=row: table().cursor_row == row + 1))
        await pilot.press("down")
        wall, cpu = await waiting
        moves.append((wall - t) * 1000)
        move_cpu.append((cpu - c) * 1000)
        await pilot.pause()
    return {"cursor move (per key)": statistics.median(moves), "cursor move (worst)": max(moves),
            "cursor move, UI-thread CPU": statistics.median(move_cpu)}


async def _open_memories(app, pilot, clock, table) -> dict[str, float]:
    """Eight times: open a memory, wait for its previews, step to the next photo, go back, move down."""
    from homeroll.tui.screens.memories import MemoriesScreen
    from homeroll.tui.screens.memory_detail import MemoryDetailScreen
    from homeroll.tui.widgets.tile_grid import TileGrid

    def detail() -> MemoryDetailScreen | None:
        screen = app.screen
        return screen if isinstance(screen, MemoryDetailScreen) else None

    def opened() -> bool:
        screen = detail()
        if screen is None:
            return False
        grid = screen.query_one(TileGrid)
        return bool(grid.tiles()) and shown(grid) and shown(screen.query_one("MemorySummary"))

    def images_in() -> bool:
        screen = detail()
        return screen is not None and opened() and all(
            tile.has_image for tile in screen.query_one(TileGrid).tiles())

    def cursor_tile() -> int | None:
        screen = detail()
        tile = screen.query_one(TileGrid).focused_tile() if screen else None
        return None if tile is None else screen.query_one(TileGrid).tiles().index(tile)

    def listed() -> bool:
        return isinstance(app.screen, MemoriesScreen) and shown(table())

    async def key_to_frame(key: str, condition) -> float:
        t = time.perf_counter()
        waiting = asyncio.ensure_future(clock.until(condition))
        await pilot.press(key)
        wall, _ = await waiting
        return (wall - t) * 1000

    opens, open_cpu, images, photo_moves, backs = [], [], [], [], []
    for _ in range(8):
        t, c = time.perf_counter(), time.thread_time()
        waiting = asyncio.ensure_future(clock.until(opened))
        await pilot.press("enter")
        wall, cpu = await waiting
        opens.append((wall - t) * 1000)
        open_cpu.append((cpu - c) * 1000)
        wall, _ = await clock.until(images_in) if not images_in() else (time.perf_counter(), 0)
        images.append((wall - t) * 1000)
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        photo_moves.append(await key_to_frame("right", lambda: cursor_tile() == 1))
        await pilot.pause(0.1)
        backs.append(await key_to_frame("escape", listed))
        await pilot.press("down")
        await pilot.pause(0.3)
    return {"open a memory (per key)": statistics.median(opens), "open a memory (worst)": max(opens),
            "open a memory, UI-thread CPU": statistics.median(open_cpu),
            "all 15 previews shown": statistics.median(images),
            "next photo (right)": statistics.median(photo_moves),
            "back to the list (escape)": statistics.median(backs)}


async def measure(cfg, started: float | None = None, first_paint_only: bool = False) -> dict[str, float]:
    """Milliseconds from a key (or app start) to the first frame that shows its result."""
    from textual_image._terminal import CellSize, get_cell_size

    get_cell_size._result = CellSize(10, 20)  # type: ignore[attr-defined]
    from homeroll.tui.app import HomerollApp
    from homeroll.tui.screens.memories import MemoriesScreen
    from homeroll.tui.widgets.memory_table import MemoryTable

    results: dict[str, float] = {}
    app = HomerollApp(cfg, image_renderer="halfcell", refresh_interval=None)
    clock = FrameClock(app)
    start, start_cpu = time.perf_counter(), time.thread_time()

    def table() -> MemoryTable | None:
        screen = app.screen
        return screen.query_one(MemoryTable) if isinstance(screen, MemoriesScreen) else None

    def rows_shown() -> bool:
        t = table()
        return t is not None and t.row_count > 0 and shown(t)

    async with app.run_test(size=(120, 40)) as pilot:
        wall, cpu = await clock.until(rows_shown)
        results["first paint"] = (wall - start) * 1000
        results["first paint, UI-thread CPU"] = (cpu - start_cpu) * 1000
        if started is not None:
            results["first paint from process start"] = (time.time() - started) * 1000 - (
                time.perf_counter() - wall) * 1000
        if first_paint_only:
            return results
        await pilot.pause(0.5)

        results.update(await _cursor_moves(pilot, clock, table))

        results.update(await _open_memories(app, pilot, clock, table))
    return results


def cold_start(base: Path) -> float:
    """First paint in a fresh process, from its start: Python, imports (Textual, sqlite-utils, Pillow),
    connecting, and the first frame with rows; what someone typing `homeroll tui` waits for."""
    launched = time.time()
    out = subprocess.run([sys.executable, "-P", __file__, "--keep", str(base), "--first-paint-only",
                          "--started", repr(launched)], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--memories", type=int, default=2_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the library in this folder")
    parser.add_argument("--first-paint-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="homeroll-bench-tui-"))
    (base / "library").mkdir(parents=True, exist_ok=True)
    cfg = config_mod.build(base / "config.toml", [base / "library"], base / "data", base / "export", "UTC")
    if args.first_paint_only:
        results = asyncio.run(measure(cfg, started=args.started, first_paint_only=True))
        print(results["first paint from process start"])
        return
    if not cfg.db_path.exists():
        t = time.perf_counter()
        build_library(cfg, args.items, args.memories)
        print(f"built {args.items} items, {args.memories} memories in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    results = asyncio.run(measure(cfg))
    results["first paint from process start"] = statistics.median(cold_start(base) for _ in range(3))
    print(f"{'metric':34} {'measured (ms)':>14} {'target (ms)':>12}  ok")
    for name, value in results.items():
        target = TARGETS.get(name)
        verdict = ("yes" if value <= target else "NO") if target else ""
        print(f"{name:34} {value:14.1f} {target if target else '':>12}  {verdict}")


if __name__ == "__main__":
    main()
