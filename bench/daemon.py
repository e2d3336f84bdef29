"""Bench the service: stable-to-indexed latency, idle CPU and RSS with a big library, start-up to READY.

    .venv/bin/python bench/daemon.py [--items 100000] [--latency-files 500] [--idle-seconds 30]

What it does, with a real `homeroll run` process each time:
1. latency: files are dropped one at a time (20 per second) into a watched root; the time from
   "write finished + stable_seconds" to the row appearing in the DB, p50/p95 over --latency-files.
2. RSS of the service process idle, and its peak during a 2,000-file bulk drop (workers separately).
3. a synthetic library of --items tiny files with matching DB rows (store.items.save_item), so the
   stat-only reconcile finds everything unchanged: time from process start to READY=1, how long the
   reconcile after READY takes, then CPU of the service (and its workers) while idle, with inotify
   and with polling (reported per 10,000 files).
Figures go to stdout as a table next to the targets of issue 3; docs/benchmarks.md records them.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is sys.path[0], where a bench named like a stdlib module (there was a
# bench/select.py) would shadow it: put the repo root there instead before importing anything else.
REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from homeroll.daemon import config as config_mod  # noqa: E402
from homeroll.daemon import store  # noqa: E402
from homeroll.daemon.store import items as store_items  # noqa: E402
from tests.service.helpers import DB, ServiceProcess, jpeg_bytes, wait_for, write_file  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    """Child processes of every thread (the index worker thread spawns the workers, not the main one)."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            out += [int(c) for c in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime+stime of a process and its live children (the index workers)."""
    total = 0.0
    pids = [pid, *children_of(pid)]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError):
            continue
    return total


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_rss_mib(pid: int) -> float:
    return sum(rss_mib(c) for c in children_of(pid))


def make_cfg(base: Path, mode: str = "inotify", **watch) -> config_mod.Config:
    lib = base / "library"
    lib.mkdir(parents=True, exist_ok=True)
    cfg = config_mod.build(base / "config.toml", [lib], base / "data", base / "export", "UTC",
                           {"watch": {"mode": mode, **watch}, "faces": {"enabled": False},
                            "memories": {"cron": "0 4 1 1 *"}, "export": {"auto": False}})
    config_mod.save(cfg)
    return cfg


def bench_latency(base: Path, files: int) -> dict:
    stable = 1.0
    cfg = make_cfg(base, stable_seconds=stable)
    db = DB(cfg.db_path)
    lib = cfg.libraries[0]
    latencies = []
    with ServiceProcess(cfg.path, base, log_level="warning") as svc:
        svc.wait_ready()
        wait_for(lambda: db.count("SELECT COUNT(*) FROM roots WHERE last_scan_at IS NOT NULL"), 30)
        idle_rss = rss_mib(svc.proc.pid)
        written: dict[str, float] = {}
        found: dict[str, float] = {}
        next_write = time.monotonic()
        i = 0
        while len(found) < files:
            now = time.monotonic()
            if i < files and now >= next_write:
                rel = f"lat/IMG_{i:05d}.jpg"
                write_file(lib / rel, jpeg_bytes(900_000 + i))
                written[rel] = time.monotonic()
                i += 1
                next_write += 1 / 20
            for (rel,) in db.query("SELECT relpath FROM paths WHERE relpath LIKE 'lat/%'"):
                if rel not in found:
                    found[rel] = time.monotonic()
            time.sleep(0.01)
        for rel, seen in found.items():
            latencies.append(seen - written[rel] - stable)
        bulk_started = time.monotonic()
        for j in range(2000):
            write_file(lib / "bulk" / f"IMG_{j:05d}.jpg", jpeg_bytes(800_000 + j))
        wait_for(lambda: db.count("SELECT COUNT(*) FROM paths WHERE relpath LIKE 'bulk/%'") == 2000, 600, 0.5)
        bulk_seconds = time.monotonic() - bulk_started
        peak = rss_mib(svc.proc.pid, "VmHWM")
        workers = children_rss_mib(svc.proc.pid)
    latencies.sort()
    return {
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95) - 1],
        "max": latencies[-1],
        "n": len(latencies),
        "rss_idle": idle_rss,
        "rss_peak_bulk": peak,
        "workers_rss": workers,
        "bulk_seconds": bulk_seconds,
    }


def build_library(base: Path, items: int) -> config_mod.Config:
    """items tiny files in folders of 1,000, and a DB whose rows match their size and mtime."""
    cfg = make_cfg(base)
    lib = cfg.libraries[0]
    db = store.connect(cfg.db_path)
    started = time.monotonic()
    batch = 5000
    for start in range(0, items, batch):
        with db.atomic():
            for n in range(start, min(items, start + batch)):
                rel = f"{n // 1000:04d}/IMG_{n:06d}.jpg"
                path = lib / rel
                if n % 1000 == 0:
                    path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(n.to_bytes(4, "big"))
                st = path.stat()
                day = f"2020-01-{1 + n % 28:02d}T12:{n % 60:02d}:00"
                record = {"hash": f"synthetic-{n}", "kind": "photo", "format": "JPEG", "size": st.st_size,
                          "taken_at_local": day, "utc_offset_min": 0, "tz_name": "UTC",
                          "taken_at_source": "exif", "taken_at_utc": day, "width": 4032, "height": 3024}
                store_items.save_item(db, record, str(lib), rel, st.st_size, st.st_mtime_ns)
    store_items.set_root(db, str(lib), state="online")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print(f"  built {items} files + rows in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return cfg


def bench_big_library(base: Path, items: int, idle_seconds: float) -> dict:
    cfg = build_library(base, items)
    db = DB(cfg.db_path)
    out: dict = {"items": items}
    for mode in ("inotify", "polling"):
        cfg.sections["watch"]["mode"] = mode
        config_mod.save(cfg)
        before = db.query("SELECT last_scan_at FROM roots")
        started = time.monotonic()
        with ServiceProcess(cfg.path, base, log_level="warning") as svc:
            svc.wait_ready(timeout=120)
            ready = time.monotonic() - started
            wait_for(lambda: db.query("SELECT last_scan_at FROM roots") != before, 600, 0.2)  # noqa: B023
            reconciled = time.monotonic() - started
            time.sleep(3)
            cpu0, t0 = cpu_seconds(svc.proc.pid), time.monotonic()
            time.sleep(idle_seconds)
            cpu = (cpu_seconds(svc.proc.pid) - cpu0) / (time.monotonic() - t0)
            out[mode] = {"ready": ready, "reconciled": reconciled, "cpu": cpu * 100,
                         "rss": rss_mib(svc.proc.pid), "workers_rss": children_rss_mib(svc.proc.pid)}
            assert db.count("SELECT COUNT(*) FROM items") == items, "the reconcile changed the library"
    out["poll_interval"] = float(cfg["watch"]["poll_interval"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--latency-files", type=int, default=500)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="homeroll-bench-daemon-"))
    try:
        print("latency and bulk drop…", file=sys.stderr)
        lat = bench_latency(base / "latency", args.latency_files)
        print(f"library of {args.items}…", file=sys.stderr)
        big = bench_big_library(base / "big", args.items, args.idle_seconds)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    per10k = big["polling"]["cpu"] / (args.items / 10_000)
    rows = [
        ("stable -> indexed p50", f"{lat['p50']:.2f} s", "<= 2 s"),
        (f"stable -> indexed p95 (n={lat['n']})", f"{lat['p95']:.2f} s", "<= 2 s"),
        ("2,000-file drop, all indexed", f"{lat['bulk_seconds']:.1f} s", "each once"),
        ("RSS service idle", f"{lat['rss_idle']:.0f} MiB", "Pi: 1-2 GB RAM total"),
        ("RSS service peak during drop", f"{lat['rss_peak_bulk']:.0f} MiB", "bounded"),
        ("RSS index workers (sum)", f"{lat['workers_rss']:.0f} MiB", ""),
        (f"start -> READY, {args.items} items (inotify)", f"{big['inotify']['ready']:.1f} s", "<= 15 s"),
        ("start -> reconcile done (inotify)", f"{big['inotify']['reconciled']:.1f} s", "after READY"),
        (f"start -> READY, {args.items} items (polling)", f"{big['polling']['ready']:.1f} s", "<= 15 s"),
        (f"idle CPU, {args.items} items, inotify", f"{big['inotify']['cpu']:.2f} % of a core", "< 1 %"),
        (f"idle CPU, {args.items} items, polling", f"{big['polling']['cpu']:.2f} % of a core", "documented"),
        (f"polling cost per 10,000 files (every {big['poll_interval']:.0f} s)", f"{per10k:.2f} % of a core", ""),
        (f"RSS service idle, {args.items} items (inotify)", f"{big['inotify']['rss']:.0f} MiB", ""),
        (f"RSS service idle, {args.items} items (polling)", f"{big['polling']['rss']:.0f} MiB", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'homeroll':>22}  target (issue 3)")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>22}  {target}")


if __name__ == "__main__":
    main()
