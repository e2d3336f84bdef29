"""Bench `homeroll motd`, the SSH login line, on a 100,000-item DB: target <= 100 ms wall, Python's start included.

    .venv/bin/python bench/motd.py [--items 100000] [--runs 20] [--keep DIR]

The DB is built once with the store's own write path (store.connect, store.items.save_item in batches,
store.memories.insert_memory with 30 picks each): --items items and 200 memories, of which 5 are
suggested and the rest approved, exported or rejected. Then the installed console script
(.venv/bin/homeroll) runs as a real process --runs times per row, the rows interleaved so a busy moment
on the machine falls on all of them alike:

- `motd` with the DB closed (no -wal: opened immutable) and with a connection held open as the service
  holds one (a live WAL, read through it);
- `motd --json`, which goes through the full CLI (click and the store imported), the same query;
- `memories --status suggested --json`, the reference: the same question through the ordinary CLI;
- `python -c pass`, the floor: the interpreter's own start with this venv's site-packages.

Figures go to stdout as a table (median, max and min wall ms); docs/benchmarks.md records them.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is sys.path[0]: put the repo root there instead (see bench/daemon.py).
REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from homeroll.daemon import config as config_mod  # noqa: E402
from homeroll.daemon import store  # noqa: E402
from homeroll.daemon.store import items as store_items  # noqa: E402
from homeroll.daemon.store import memories as store_memories  # noqa: E402

TARGET_MS = 100.0
MEMORIES, SUGGESTED, PICKS = 200, 5, 30
SCRIPT = Path(sys.executable).parent / "homeroll"
TITLES = ("Lisbon & Sintra", "Anna's birthday", "A Sunday at the lake", "Christmas at Oma's", "First day of school",
          "Camping in the Vosges", "Lea's graduation", "Our 10th wedding anniversary")


def build(base: Path, items: int) -> config_mod.Config:
    """A config and its DB of ``items`` items and MEMORIES memories; reused when ``base`` already has one."""
    cfg_path = base / "config.toml"
    if cfg_path.exists():
        return config_mod.load(cfg_path)
    (base / "library").mkdir(parents=True, exist_ok=True)
    cfg = config_mod.build(cfg_path, [base / "library"], base / "data", base / "export", "Europe/Berlin")
    config_mod.save(cfg)
    db = store.connect(cfg.db_path)
    started, root, batch = time.monotonic(), str(cfg.libraries[0]), 5000
    for first in range(0, items, batch):
        with db.atomic():
            for n in range(first, min(items, first + batch)):
                day = f"{2015 + n * 10 // items}-{1 + n % 12:02d}-{1 + n % 28:02d}T12:{n % 60:02d}:00"
                record = {"hash": f"synthetic-{n}", "kind": "photo", "format": "JPEG", "size": 4_000_000,
                          "taken_at_local": day, "utc_offset_min": 0, "tz_name": "UTC", "taken_at_source": "exif",
                          "taken_at_utc": day, "width": 4032, "height": 3024}
                store_items.save_item(db, record, root, f"{n // 1000:04d}/IMG_{n:06d}.jpg", 4_000_000, n)
    for n in range(MEMORIES):
        start = f"{2015 + n * 10 // MEMORIES}-{1 + n % 12:02d}-{1 + n % 28:02d}"
        members = [(n * 499 + k * 7) % items + 1 for k in range(PICKS)]
        memory_id = store_memories.insert_memory(
            db, f"bench:{n}", {"kind": "trip", "title": f"{TITLES[n % len(TITLES)]} {n}", "start": start, "end": start},
            members, members)
        if n < MEMORIES - SUGGESTED:
            (store_memories.reject if n % 5 == 0 else store_memories.approve)(db, memory_id)
            if n % 5 == 1:
                store_memories.mark_exported(db, memory_id)
    db.close()
    print(f"  built {items} items and {MEMORIES} memories in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return cfg


def wall_ms(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-500:]}")
    return elapsed


def measure(cfg: config_mod.Config, runs: int) -> dict[str, list[float]]:
    cfg_args = [str(SCRIPT), "--config", str(cfg.path)]
    rows = {
        "homeroll motd (DB closed)": ("closed", [*cfg_args, "motd"]),
        "homeroll motd (service connection open)": ("open", [*cfg_args, "motd"]),
        "homeroll motd --json (full CLI)": ("open", [*cfg_args, "motd", "--json"]),
        "homeroll memories --status suggested --json (reference)": (
            "open", [*cfg_args, "memories", "--status", "suggested", "--json"]),
        "python -c pass (interpreter start)": ("open", [sys.executable, "-c", "pass"]),
    }
    lines = subprocess.run([*cfg_args, "motd"], capture_output=True, text=True, check=True).stdout
    print(lines, end="", file=sys.stderr)
    times: dict[str, list[float]] = {name: [] for name in rows}
    for _ in range(runs):
        for name, (state, argv) in rows.items():
            service = store.connect(cfg.db_path) if state == "open" else None  # a live WAL, as with `homeroll run`
            try:
                times[name].append(wall_ms(argv))
            finally:
                if service is not None:
                    service.close()
    return times


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name")), "?")
    return f"{os.cpu_count()} cores ({model}), Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="build the DB here and keep it (reused when already built)")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="homeroll-bench-motd-"))
    try:
        cfg = build(base, args.items)
        before = machine()
        times = measure(cfg, args.runs)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print(f"machine: {before}; {args.items} items, {MEMORIES} memories ({SUGGESTED} suggested), {args.runs} runs each")
    width = max(len(name) for name in times)
    print(f"{'command':<{width}}  {'median ms':>9}  {'max ms':>7}  {'min ms':>7}  target")
    for name, values in times.items():
        target = f"<= {TARGET_MS:.0f} ms" if name.startswith("homeroll motd (") else ""
        print(f"{name:<{width}}  {statistics.median(values):>9.0f}  {max(values):>7.0f}  {min(values):>7.0f}  {target}")


if __name__ == "__main__":
    main()
