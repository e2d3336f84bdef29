"""Bench: memory edits from another process while the service ingests a big drop and runs faces (issue 10).

    .venv/bin/python bench/concurrency.py [--photos 2000] [--megapixels 12] [--idle-seconds 30]
        [--faces-seconds 300] [--stall-seconds 20]

Why: the household approves and renames memories in the TUI while the service works through a phone's
backlog; if the service holds SQLite's write lock across a wait, those edits stall and then fail after the
10 s busy timeout. This measures what the user feels, with real processes: a `homeroll run` on a temp
library, and an editor process (tests/service/helpers.py ``Editor``) that approves and renames memories in
a loop through the store functions the CLI calls, timing each edit. (`homeroll memories approve` in a
loop would measure the CLI's start-up, not the edit.)

1. Seed: the demo roll (homeroll.demo.roll, small images) is scanned and selected once by the CLI, so
   there are memories to edit. The data dir is kept as it is then, for run 2.
2. Run 1: the service idles (the reference row), then a drop of --photos 12-MP JPEGs is copied into the
   watched library (the watcher finds them) and indexed, then the faces job is turned on (a SIGHUP with
   ``[faces] cron = "* * * * *"``) and runs for --faces-seconds (or until every photo is scanned).
3. Run 2: the seeded data dir again and the same drop plus one stalled file (``stall-0001.jpg``; the
   analyse worker's ``HOMEROLL_TEST_STALL`` hook holds it for --stall-seconds, longer than the busy timeout).
The drop is made once and cached in bench/out/ (one 12-MP encode, a different EXIF block spliced into each
copy: distinct files, each fully hashed, decoded and scanned for faces). Targets: 0 failures, p99 <= 250 ms.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/ on sys.path[0] could shadow a stdlib module (there was a bench/select.py): the repo root instead.
REPO = Path(__file__).resolve().parents[1]
sys.path[0] = str(REPO)

import argparse  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402

import homeroll.daemon  # noqa: E402
from homeroll.daemon import config as config_mod  # noqa: E402
from homeroll.daemon import store  # noqa: E402
from homeroll.daemon.store import faces as store_faces  # noqa: E402
from homeroll.daemon.store import items as store_items  # noqa: E402
from homeroll.daemon.store import memories as store_memories  # noqa: E402
from tests.conftest import HOMEROLL  # noqa: E402
from tests.service.helpers import Editor, ServiceProcess, edit_figures, wait_for  # noqa: E402

OUT = REPO / "bench" / "out"
STALLED = "stall-0001.jpg"
FAR = "0 4 1 1 *"  # a cron line that does not fire during the bench
P99_TARGET = 0.250


def _spliced(pixels: bytes, i: int) -> bytes:
    from homeroll.demo.media import build_exif

    taken = datetime(2023, 3, 1, 8, 0) + timedelta(minutes=23 * i)
    exif = build_exif(taken=taken, offset="+01:00", gps=(52.5 + (i % 40) * 0.01, 13.4 + (i % 60) * 0.01),
                      make="Google", model="Pixel 8").tobytes()
    return b"\xff\xd8\xff\xe1" + struct.pack(">H", len(exif) + 8) + b"Exif\x00\x00" + exif + pixels


def make_drop(count: int, megapixels: float) -> Path:
    """``count`` 4:3 JPEGs of ``megapixels`` under bench/out/ (cached), plus the stalled file beside them."""
    from homeroll.demo.media import scene

    folder = OUT / f"concurrency-{megapixels:g}mp-{count}"
    if (folder / ".complete").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "drop").mkdir(parents=True)
    width = round(math.sqrt(megapixels * 1e6 * 4 / 3))
    body = io.BytesIO()
    scene(3, (width, width * 3 // 4)).save(body, "JPEG", quality=90)
    pixels = body.getvalue()[2:]
    for i in range(count):
        (folder / "drop" / f"PXL_{i:05d}.jpg").write_bytes(_spliced(pixels, i))
    (folder / STALLED).write_bytes(_spliced(pixels, count))
    (folder / ".complete").touch()
    return folder


def cli(cfg_path: Path, *args: str) -> None:
    proc = subprocess.run([*HOMEROLL, "--config", str(cfg_path), "--log-level", "warning", *args],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"homeroll {' '.join(args)} failed: {proc.stderr[-1500:]}")


def make_cfg(base: Path, photos: int) -> config_mod.Config:
    lib = base / "library"
    lib.mkdir(parents=True, exist_ok=True)
    cfg = config_mod.build(base / "config.toml", [lib], base / "data", base / "export", "Europe/Berlin",
                           {"watch": {"mode": "inotify", "stable_seconds": 2.0},
                            "faces": {"enabled": True, "cron": FAR, "batch_size": photos + 1000},
                            "memories": {"cron": FAR}, "export": {"auto": False}})
    config_mod.save(cfg)
    return cfg


def seed(cfg: config_mod.Config) -> int:
    """The demo roll, scanned and selected once; returns how many memories there are to edit."""
    from homeroll.demo.roll import generate_camera_roll

    generate_camera_roll(cfg.libraries[0] / "roll", size=(640, 480))
    cli(cfg.path, "scan")
    cli(cfg.path, "select")
    db = store.connect(cfg.db_path)
    memories = len(store_memories.list_memories(db))
    db.close()
    if not memories:
        raise SystemExit("the seed selection made no memories")
    shutil.copytree(cfg.data_dir, cfg.data_dir.with_name("seed-data"))
    return memories


def copy_drop(source: Path, lib: Path, stalled: Path | None = None) -> None:
    """Copy the drop into the library as a sync does (the watcher finds it); the stalled file half-way."""
    names = sorted(p.name for p in (source / "drop").iterdir())
    (lib / "drop").mkdir(exist_ok=True)
    for k, name in enumerate(names):
        if stalled is not None and k == len(names) // 2:
            shutil.copyfile(stalled, lib / "drop" / STALLED)
        shutil.copyfile(source / "drop" / name, lib / "drop" / name)


def items(db) -> int:
    return store_items.counts(db)["items"]


def wait_reconciled(db) -> None:
    wait_for(lambda: all(r["last_scan_at"] for r in store_items.roots(db)), 120, 0.2, what="the first reconcile")


def run_main(cfg: config_mod.Config, drop: Path, args, tmp: Path) -> dict:
    """Idle, then the drop, then the faces job; returns phase -> (start, end) in monotonic seconds, and facts."""
    db = store.connect(cfg.db_path)
    phases: dict[str, tuple[float, float]] = {}
    facts: dict = {}
    with Editor(cfg.db_path, tmp / "edits-main.jsonl", args.pause) as editor, \
            ServiceProcess(cfg.path, tmp, log_level="info") as svc:
        svc.wait_ready(120)
        wait_reconciled(db)
        editor.wait_ready()
        start = time.monotonic()
        time.sleep(args.idle_seconds)
        phases["idle"] = (start, time.monotonic())
        before = items(db)
        start = time.monotonic()
        print(f"  drop of {args.photos} photos…", file=sys.stderr, flush=True)
        copy_drop(drop, cfg.libraries[0])
        wait_for(lambda: items(db) >= before + args.photos, 3600, 0.5, what="the drop indexed")
        phases["ingest"] = (start, time.monotonic())
        facts["ingest_seconds"] = phases["ingest"][1] - start
        todo = len(store_faces.todo_items(db))
        cfg.sections["faces"]["cron"] = "* * * * *"
        config_mod.save(cfg)
        svc.signal(signal.SIGHUP)
        print(f"  faces job on {todo} photos (starts at the next minute)…", file=sys.stderr, flush=True)
        wait_for(lambda: len(store_faces.todo_items(db)) < todo, 150, 0.5, what="the faces job to start")
        start = time.monotonic()
        while time.monotonic() - start < args.faces_seconds and store_faces.todo_items(db, limit=1):
            time.sleep(1)
        phases["faces"] = (start, time.monotonic())
        facts["faces_scanned"] = todo - len(store_faces.todo_items(db))
        editor.stop()
        samples = {name: editor.samples(*window) for name, window in phases.items()}
    db.close()
    return {"samples": samples, "phases": phases, **facts}


def run_stalled(cfg: config_mod.Config, drop: Path, args, tmp: Path) -> dict:
    """The seeded data dir again, the same drop and one file that stalls for --stall-seconds."""
    shutil.rmtree(cfg.data_dir)
    shutil.copytree(cfg.data_dir.with_name("seed-data"), cfg.data_dir)
    shutil.rmtree(cfg.libraries[0] / "drop")
    cfg.sections["faces"]["cron"] = FAR
    config_mod.save(cfg)
    db = store.connect(cfg.db_path)
    env = {"HOMEROLL_TEST_STALL": f"stall-0001:{args.stall_seconds:g}"}
    with Editor(cfg.db_path, tmp / "edits-stall.jsonl", args.pause) as editor, \
            ServiceProcess(cfg.path, tmp, log_level="info", extra_env=env) as svc:
        svc.wait_ready(120)
        wait_reconciled(db)
        editor.wait_ready()
        before = items(db)
        start = time.monotonic()
        print(f"  drop of {args.photos} photos + {STALLED} ({args.stall_seconds:g} s)…", file=sys.stderr, flush=True)
        copy_drop(drop, cfg.libraries[0], drop / STALLED)
        wait_for(lambda: items(db) >= before + args.photos + 1, 3600, 0.5, what="the drop indexed")
        end = time.monotonic()
        editor.stop()
        samples = editor.samples(start, end)
        stalled = store_items.get_path(db, str(cfg.libraries[0]), f"drop/{STALLED}")
    db.close()
    if stalled is None:
        raise SystemExit(f"{STALLED} was not indexed")
    return {"samples": samples, "seconds": end - start}


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    return f"{cpu}, nproc {os.cpu_count()}, {mem:.0f} MiB RAM"


def code_version() -> str:
    """Which code ran: the commit, and whether the package is the checkout or another tree (PYTHONPATH)."""
    package = Path(homeroll.daemon.__file__).resolve().parent
    commit = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "daemon"], capture_output=True, text=True)
    where = "this checkout" if package == REPO / "daemon" else f"{package}"
    return f"commit {commit.stdout.strip()}{' + uncommitted changes in daemon/' if dirty.stdout.strip() else ''}, " \
           f"homeroll.daemon from {where}"


def row(name: str, samples: list[dict]) -> tuple[str, ...]:
    f = edit_figures(samples)
    met = not f["failures"] and f["p99"] <= P99_TARGET
    return (name, str(f["n"]), f"{f['p50'] * 1000:.1f}", f"{f['p99'] * 1000:.1f}", f"{f['max'] * 1000:.0f}",
            str(len(f["failures"])), "met" if met else "MISSED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=2000)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--faces-seconds", type=float, default=300.0, help="longest faces phase")
    parser.add_argument("--stall-seconds", type=float, default=20.0)
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between two edits")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    print(f"machine: {machine()}\ncode: {code_version()}", flush=True)
    print(f"making {args.photos} {args.megapixels:g}-MP JPEGs (cached in bench/out/)…", file=sys.stderr, flush=True)
    drop = make_drop(args.photos, args.megapixels)
    base = Path(tempfile.mkdtemp(prefix="homeroll-bench-concurrency-"))
    load = [os.getloadavg()[0]]
    try:
        cfg = make_cfg(base, args.photos)
        print("seeding memories (demo roll, scan, select)…", file=sys.stderr, flush=True)
        memories = seed(cfg)
        main_run = run_main(cfg, drop, args, base)
        load.append(os.getloadavg()[0])
        stall_run = run_stalled(cfg, drop, args, base)
        load.append(os.getloadavg()[0])
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    n, mp = f"{args.photos:,}", f"{args.megapixels:g}-MP"
    rows = [
        row("idle service (reference)", main_run["samples"]["idle"]),
        row(f"ingest of {n} x {mp} ({main_run['ingest_seconds']:.0f} s)", main_run["samples"]["ingest"]),
        row(f"faces job ({main_run['faces_scanned']} photos in "
            f"{main_run['phases']['faces'][1] - main_run['phases']['faces'][0]:.0f} s)", main_run["samples"]["faces"]),
        row(f"ingest of {n} + 1 file stalled {args.stall_seconds:g} s ({stall_run['seconds']:.0f} s)",
            stall_run["samples"]),
    ]
    head = ("phase (edits: approve/rename, another process)", "edits", "p50 ms", "p99 ms", "max ms", "failures",
            "0 failures, p99 <= 250 ms")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"\n{memories} memories edited in turn, {args.pause * 1000:.0f} ms between edits; "
          f"load average {', '.join(f'{x:.1f}' for x in load)} (start, after run 1, after run 2)")
    for r in [head, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    failed = [s for run in (*main_run["samples"].values(), stall_run["samples"]) for s in run if s["error"]]
    for error in sorted({s["error"] for s in failed}):
        print(f"failed edits: {sum(s['error'] == error for s in failed)} x {error}")


if __name__ == "__main__":
    main()
