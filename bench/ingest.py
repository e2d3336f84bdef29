"""Ingest speed and memory, side by side with exiftool (not a timed test; run `make bench` or this file).

1. A library of N 12-MP JPEGs (default 2,000), each with its own EXIF date and GPS (made once, cached in
   bench/out/). Metadata pass (hash + EXIF + time zone + place, no thumbnails) vs `exiftool -json -r`,
   both pinned to one core; then the thumbnail pass (decode + thumbnail + quality signals).
   Beside it, a Takeout-style library: the same N 12-MP JPEGs with no EXIF (only the pixels, as Takeout's
   "storage saver" and messenger photos come) and a ``NAME.jpg.supplemental-metadata.json`` per photo, so
   date and place come from the sidecar. The two metadata passes run ``--repeat`` times, alternating, and
   the medians are compared (target: the Takeout row within 10% of the phone-library row). The bench fails
   unless every Takeout item was dated by its sidecar.
2. A re-scan of an unchanged 100,000-item library (stat only), its time and the process's peak RSS.
3. The thumbnail path alone (open, decode, orientation, thumbnail, quality signals, phash, thumbnail write),
   in this process pinned to one CPU: the base commit's ``thumbs`` (``git show BASE:daemon/ingest/thumbs.py``
   loaded as a temp module) beside the working tree's, on the 12-MP JPEGs and on a 12-MP HEIC made from the
   same pixels with pillow-heif (with a 512-px embedded thumbnail, as a Galaxy S25 stores one; iPhones
   store 320 px), medians per file.

Usage: python -P bench/ingest.py [--files 2000] [--items 100000] [--cores 0] [--repeat 3] [--thumb-files 40]
       python -P bench/ingest.py --thumbs-only   (section 3 alone; needs no exiftool)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"


def make_12mp_library(folder: Path, count: int) -> None:
    """Encode one 4000x3000 JPEG, then splice a different EXIF block into each copy (distinct bytes, fast)."""
    from PIL import Image

    from homeroll.demo.media import build_exif, scene

    marker = folder / f".complete-{count}"
    if marker.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    body = io.BytesIO()
    scene(1, (4000, 3000)).save(body, "JPEG", quality=90)
    pixels = body.getvalue()[2:]  # after SOI
    for i in range(count):
        taken, gps = phone_shot(i)
        exif = build_exif(taken=taken, offset="+01:00", gps=gps, make="Google", model="Pixel 8").tobytes()
        app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2 + 6) + b"Exif\x00\x00" + exif
        (folder / f"PXL_{taken:%Y%m%d_%H%M%S}000.jpg").write_bytes(b"\xff\xd8" + app1 + pixels)
    marker.touch()
    with Image.open(next(folder.glob("*.jpg"))) as check:
        assert check.size == (4000, 3000)


def phone_shot(i: int) -> tuple[datetime, tuple[float, float]]:
    """The i-th photo's wall time (at +01:00) and position, shared by both 12-MP libraries."""
    return datetime(2023, 1, 1, 8, 0) + timedelta(minutes=37 * i), (52.5 + (i % 50) * 0.01, 13.4 + (i % 70) * 0.01)


TAKEOUT_FOLDER = Path("Takeout") / "Google Photos" / "Photos from 2023"


def takeout_expected(count: int) -> dict[str, tuple[str, float]]:
    """relpath -> (taken_at_utc as the DB writes it, latitude) for the Takeout library."""
    expected = {}
    for i in range(count):
        taken, (lat, _) = phone_shot(i)
        utc = (taken - timedelta(hours=1)).replace(tzinfo=UTC)
        expected[str(TAKEOUT_FOLDER / f"IMG_{taken:%Y%m%d_%H%M%S}.jpg")] = (utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), lat)
    return expected


def make_takeout_library(root: Path, count: int) -> None:
    """The phone library's pixels without EXIF, each with a 2024-style Takeout sidecar (date + geoData).

    Each copy gets a distinct COM segment (not metadata homeroll reads) so the hashes differ, as a real
    library's do; the names are ones whose ``.supplemental-metadata.json`` fits Takeout's 46-character cut.
    """
    from PIL import Image

    from homeroll.demo.exports import takeout_sidecar
    from homeroll.demo.media import scene

    marker = root / f".complete-{count}"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    folder = root / TAKEOUT_FOLDER
    folder.mkdir(parents=True)
    body = io.BytesIO()
    scene(1, (4000, 3000)).save(body, "JPEG", quality=90)  # the same encode as the phone library
    pixels = body.getvalue()[2:]
    assert b"Exif\x00\x00" not in pixels[:4096]
    for i, (relpath, _) in enumerate(takeout_expected(count).items()):
        taken, geo = phone_shot(i)
        comment = f"homeroll bench {i:06d}".encode()
        com = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment
        path = root / relpath
        path.write_bytes(b"\xff\xd8" + com + pixels)
        takeout_sidecar(path.with_name(path.name + ".supplemental-metadata.json"), path.name,
                        (taken - timedelta(hours=1)).replace(tzinfo=UTC), geo)
    marker.touch()
    with Image.open(next(folder.glob("*.jpg"))) as check:
        assert check.size == (4000, 3000) and not check.getexif(), "Takeout copies must carry no EXIF"


def check_takeout_dates(db_path: Path, count: int) -> None:
    """Fail loudly unless every Takeout photo got its date (and place) from its sidecar."""
    expected = takeout_expected(count)
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT p.relpath, i.taken_at_source, i.taken_at_utc, i.lat FROM paths p "
                          "JOIN items i ON i.id = p.item_id").fetchall()
    from_sidecar = [r for r in rows if (r[1] or "").startswith("takeout")]
    wrong = [r for r in from_sidecar if r[0] not in expected or r[2] != expected[r[0]][0]
             or r[3] is None or abs(r[3] - expected[r[0]][1]) > 1e-6]
    if len(rows) != count or len(from_sidecar) != count or wrong:
        sources = sorted({r[1] for r in rows} - {None})
        raise SystemExit(f"Takeout library: {len(rows)} items, {len(from_sidecar)} dated by their sidecar "
                         f"(want {count}); sources seen {sources}; wrong date/place {wrong[:3]}")


def run_pinned(cmd: list[str], cores: str) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(["taskset", "-c", cores, *cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed: {proc.stderr[-800:]}")
    return time.perf_counter() - started, proc.stdout


CHILD = """
import json, resource, sys, time
from pathlib import Path
from homeroll.daemon import config, store
from homeroll.daemon.ingest.pipeline import Indexer
lib, data, thumbs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
cfg = config.build(data / "c.toml", [lib], data, data / "export", "Europe/Berlin")
db = store.connect(cfg.db_path)
t = time.perf_counter()
with Indexer(cfg, db, thumbnails=thumbs, workers=1) as ix:
    stats = ix.scan()
seconds = time.perf_counter() - t
# ru_maxrss survives exec, so it would report the bench's own peak (making the library); VmHWM is this process's
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        rss_mb = int(line.split()[1]) / 1024
print(json.dumps({"seconds": seconds, "indexed": stats.indexed, "unchanged": stats.unchanged, "rss_mb": rss_mb,
                  "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def homeroll_pass(lib: Path, data: Path, thumbnails: bool, cores: str, check=None) -> dict:
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    _, out = run_pinned([sys.executable, "-c", CHILD, str(lib), str(data), "1" if thumbnails else "0"], cores)
    result = json.loads(out)
    if check is not None:
        check(data / "homeroll.db")
    return result


def make_100k_db(lib: Path, data: Path, count: int) -> None:
    """count tiny files plus DB rows that match them by size and mtime, as after a first scan."""
    from homeroll.daemon import config, store
    from homeroll.daemon.store import items as store_items

    marker = lib / f".complete-{count}"
    if marker.exists() and (data / "homeroll.db").exists():
        return
    shutil.rmtree(lib, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    lib.mkdir(parents=True)
    cfg = config.build(data / "c.toml", [lib], data, data / "export", "Europe/Berlin")
    db = store.connect(cfg.db_path)
    with db.atomic():
        for i in range(count):
            folder = lib / f"{2015 + i // 20000}" / f"{(i // 1000) % 20:02d}"
            if i % 1000 == 0:
                folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"IMG_{i:06d}.jpg"
            path.write_bytes(b"\xff\xd8" + i.to_bytes(4, "big"))
            st = path.stat()
            record = {"hash": f"{i:032x}", "kind": "photo", "taken_at_local": "2020-01-01T00:00:00",
                      "utc_offset_min": 60, "taken_at_utc": "2019-12-31T23:00:00.000000Z", "width": 4000, "height": 3000}
            store_items.save_item(db, record, str(lib), str(path.relative_to(lib)), st.st_size, st.st_mtime_ns)
    store_items.set_root(db, str(lib), state="online", st_dev=os.stat(lib).st_dev)
    db.close()
    marker.touch()


THUMBS_BASE = "6ee5729"  # the commit before the thumbnail work (issue 12): "today's" figures


def base_thumbs_module():
    """The base commit's daemon/ingest/thumbs.py as a temp module (the tree itself is not touched)."""
    import types

    source = subprocess.run(["git", "-C", str(REPO), "show", f"{THUMBS_BASE}:daemon/ingest/thumbs.py"],
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(f"thumbs_{THUMBS_BASE}")
    exec(compile(source, f"{THUMBS_BASE}:daemon/ingest/thumbs.py", "exec"), module.__dict__)  # noqa: S102
    return module


def make_12mp_heic(jpeg: Path, target: Path) -> None:
    """The 12-MP JPEG's pixels as HEIC with a 512-px embedded thumbnail (about a minute to encode; cached)."""
    import pillow_heif
    from PIL import Image

    if target.exists():
        return
    with Image.open(jpeg) as image:
        image.load()
        partial = target.with_suffix(".part")
        pillow_heif.from_pillow(image).save(partial, quality=80, thumbnails=[512])
    partial.rename(target)


def thumb_times(module, paths: list[Path], out: Path, size: int = 512) -> list[float]:
    """Seconds per file for what ``analyse`` does with a photo's pixels, using ``module``'s functions."""
    from homeroll.daemon.ingest.metadata import open_photo

    times = []
    for i, path in enumerate(paths):
        started = time.perf_counter()
        image, _ = open_photo(str(path))
        with image:
            thumb = module.decode_for_thumbnail(image, size)
        module.quality_signals(thumb)
        module.write_thumbnail(thumb, out, f"{i:032x}")
        times.append(time.perf_counter() - started)
    return times


def thumbnail_path_rows(lib12: Path, count: int, core: int) -> None:
    """Print the base commit's thumbnail path beside the working tree's, JPEG and HEIC, on one CPU."""
    from homeroll.daemon.ingest import thumbs
    from homeroll.daemon.ingest.metadata import setup_pillow

    setup_pillow(200_000_000)
    jpegs = sorted(lib12.glob("*.jpg"))[:count]
    heic = OUT / "thumb-12mp.heic"
    print(f"making a 12-MP HEIC with a 512-px embedded thumbnail in {heic} (cached)...", flush=True)
    make_12mp_heic(jpegs[0], heic)
    subprocess.run(["cat", *map(str, jpegs), str(heic)], stdout=subprocess.DEVNULL)
    old = base_thumbs_module()
    heics = [heic] * max(5, count // 4)  # HEVC decodes are slow: fewer runs, the same file
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for label, files in (("12-MP JPEG", jpegs), ("12-MP HEIC", heics)):
                for name, module in ((THUMBS_BASE, old), ("new", thumbs)):
                    thumb_times(module, files[:2], Path(tmp))  # warm-up: imports, scipy's FFT, libheif
                    results[label, name] = statistics.median(thumb_times(module, files, Path(tmp)))
    finally:
        os.sched_setaffinity(0, affinity)
    print(f"\nthumbnail path (open, decode, orientation, 512-px thumbnail, quality, phash, write), one CPU ({core}); "
          f"medians of {len(jpegs)} JPEGs / {len(heics)} HEIC decodes")
    print(f"{'what':22} {THUMBS_BASE + ' ms':>12} {'files/s':>8} {'new ms':>8} {'files/s':>8}  target")
    for label, target in (("12-MP JPEG", ">= 40 files/s"), ("12-MP HEIC", "print the rate and its limit")):
        before, after = results[label, THUMBS_BASE], results[label, "new"]
        print(f"{label:22} {before * 1000:12.1f} {1 / before:8.1f} {after * 1000:8.1f} {1 / after:8.1f}  {target}")
    print(heic_limit(heic, core))


def heic_limit(heic: Path, core: int) -> str:
    """What a HEIC costs without its embedded thumbnail: the full 12-MP HEVC decode, timed alone."""
    import pillow_heif

    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            pillow_heif.open_heif(str(heic), convert_hdr_to_8bit=True)[0].load()
            runs.append(time.perf_counter() - started)
    finally:
        os.sched_setaffinity(0, affinity)
    full = statistics.median(runs)
    return (f"HEIC limit: without a usable embedded thumbnail (none, or smaller than 512 px on the long side) the "
            f"full 12-MP HEVC decode alone takes {full * 1000:.0f} ms ({1 / full:.1f} files/s); libheif has no "
            f"reduced-resolution decode")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}, {platform.machine()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--cores", default="0", help="taskset core list for the one-core runs")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each metadata pass (median reported)")
    parser.add_argument("--thumb-files", type=int, default=40, help="JPEGs timed in the thumbnail-path rows")
    parser.add_argument("--thumbs-only", action="store_true", help="only the thumbnail-path rows (section 3)")
    args = parser.parse_args()
    core = int(args.cores.replace("-", ",").split(",")[0])
    if args.thumbs_only:
        lib12 = OUT / "ingest-12mp"
        print(f"machine: {machine()}\nmaking {args.files} 12-MP JPEGs in {lib12} (cached)...", flush=True)
        make_12mp_library(lib12, args.files)
        thumbnail_path_rows(lib12, min(args.thumb_files, args.files), core)
        return
    if shutil.which("exiftool") is None:
        raise SystemExit("exiftool is needed for the side-by-side (apt-get install libimage-exiftool-perl)")

    lib12 = OUT / "ingest-12mp"
    libto = OUT / "ingest-12mp-takeout"
    n = args.files
    print(f"machine: {machine()}\nmaking {n} 12-MP JPEGs in {lib12} (cached)...", flush=True)
    make_12mp_library(lib12, n)
    print(f"making their EXIF-less Takeout copies + sidecars in {libto} (cached)...", flush=True)
    make_takeout_library(libto, n)
    # warm the page cache so both tools read from memory
    for lib in (lib12, libto):
        files = [str(p) for p in lib.rglob("*") if p.is_file() and not p.name.startswith(".")]
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL)

    ex_s, _ = run_pinned(["exiftool", "-json", "-r", "-q", "-q", str(lib12)], args.cores)
    ex_to_s, _ = run_pinned(["exiftool", "-json", "-r", "-q", "-q", "-ext", "jpg", str(libto)], args.cores)
    phone_runs: list[dict] = []
    takeout_runs: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeat):  # alternating, so drift in the machine's load hits both alike
            phone_runs.append(homeroll_pass(lib12, Path(tmp) / "meta", thumbnails=False, cores=args.cores))
            takeout_runs.append(homeroll_pass(libto, Path(tmp) / "meta-takeout", thumbnails=False, cores=args.cores,
                                              check=lambda db: check_takeout_dates(db, n)))
            print(f"  round {k + 1}/{args.repeat}: phone {phone_runs[-1]['seconds']:.2f} s, "
                  f"Takeout {takeout_runs[-1]['seconds']:.2f} s", flush=True)
        full = homeroll_pass(lib12, Path(tmp) / "full", thumbnails=True, cores=args.cores)
    meta_s = statistics.median(r["seconds"] for r in phone_runs)
    takeout_s = statistics.median(r["seconds"] for r in takeout_runs)
    meta_rss = max(r["rss_mb"] for r in phone_runs)
    takeout_rss = max(r["rss_mb"] for r in takeout_runs)
    rows = [
        ("exiftool -json -r (metadata only)", n / ex_s, None, "reference"),
        ("homeroll metadata pass (hash, EXIF, zone, place)", n / meta_s, meta_rss, ">= 5x exiftool"),
        ("homeroll metadata pass, Takeout library (sidecars)", n / takeout_s, takeout_rss,
         "within 10% of the row above"),
        ("exiftool -json -r -ext jpg, Takeout library", n / ex_to_s, None, "reference (no sidecar dates)"),
        ("homeroll metadata + thumbnails", n / full["seconds"], full["rss_mb"], ">= 15 files/s"),
    ]
    print(f"\n{n} x 12-MP JPEG, one core ({args.cores}); metadata passes: median of {args.repeat}, alternating")
    print(f"{'what':52} {'files/s':>9} {'peak RSS MB':>12}  target")
    for name, rate, rss, target in rows:
        print(f"{name:52} {rate:9.1f} {'-' if rss is None else round(rss):>12}  {target}")
    print(f"ratio homeroll metadata / exiftool: {n / meta_s / (n / ex_s):.1f}x")
    ratio = meta_s / takeout_s
    print(f"ratio Takeout / phone-library metadata pass: {ratio:.2f}x "
          f"({'meets' if ratio >= 0.9 else 'MISSES'} the target: the metadata pass with sidecar look-ups stays "
          f"within 10% of the phone-library row)")
    print("runs, seconds: phone " + ", ".join(f"{r['seconds']:.2f}" for r in phone_runs)
          + "; Takeout " + ", ".join(f"{r['seconds']:.2f}" for r in takeout_runs)
          + f"; all {n} Takeout items dated by their sidecar")
    print(f"worker process peak RSS: {full['children_rss_mb']:.0f} MB")

    lib100 = OUT / "ingest-100k"
    data100 = OUT / "ingest-100k-data"
    print(f"\nmaking a {args.items}-item library and DB (cached)...", flush=True)
    make_100k_db(lib100, data100, args.items)
    child = CHILD.replace('cfg = config.build(data / "c.toml"', 'cfg = config.build(data / "c.toml"')
    _, out = run_pinned([sys.executable, "-c", child, str(lib100), str(data100), "1"], args.cores)
    result = json.loads(out)
    print(f"{'re-scan of an unchanged library (stat only)':52} {'seconds':>9} {'peak RSS MB':>12}  target")
    print(f"{f'{args.items} items':52} {result['seconds']:9.1f} {round(result['rss_mb']):>12}  <= 15 s, <= 250 MB")
    assert result["unchanged"] == args.items, result
    thumbnail_path_rows(lib12, min(args.thumb_files, n), core)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    main()
