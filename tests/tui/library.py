"""A small, fixed homeroll DB for the TUI tests: items with real JPEG thumbnails, memories in every
status, people with face crops, roots, skipped files, the service's state and the jobs' records.

Everything is deterministic (fixed dates, colours and ids) so snapshots are stable. Items, roots,
skipped files and kv go through store.items; memories, people and faces are plain sqlite-utils
inserts (test code may), so the fixture does not depend on how selection or the faces job write.
No kv key is seeded that no code writes: the jobs' progress and last error come from the real
reporter and jobs.run_step, on pinned clocks.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import io
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw
from sqlite_utils import Database

from homeroll.daemon import store
from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.service import jobs, liveness
from homeroll.daemon.service.doctor import Check
from homeroll.daemon.service.progress import JobProgress
from homeroll.daemon.store import items as store_items

#: Library root recorded in the DB: fixed (not the tmp dir) so screens and snapshots do not vary.
ROOT = "/srv/photos/phone"

#: The pinned "now" of every TUI test.
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)

PALETTE = [(200, 60, 50), (60, 140, 200), (80, 170, 90), (230, 180, 40), (150, 80, 170), (240, 120, 160),
           (40, 170, 170), (120, 110, 100)]


def make_thumb(path: Path, seed: int, size: tuple[int, int] = (96, 64)) -> None:
    """A recognisable picture: a sky/ground split, a sun and a coloured block, different per seed."""
    img = Image.new("RGB", size, PALETTE[seed % len(PALETTE)])
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.rectangle([0, h * 2 // 3, w, h], fill=PALETTE[(seed + 3) % len(PALETTE)])
    r = 6 + seed % 5
    cx = 10 + (seed * 13) % (w - 20)
    draw.ellipse([cx - r, 8, cx + r, 8 + 2 * r], fill=(250, 240, 200))
    draw.rectangle([w // 2, h // 3, w // 2 + 12 + seed % 9, h * 2 // 3], fill=PALETTE[(seed + 5) % len(PALETTE)])
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", quality=90)


def face_crop(seed: int) -> bytes:
    img = Image.new("RGB", (48, 48), PALETTE[seed % len(PALETTE)])
    draw = ImageDraw.Draw(img)
    draw.ellipse([8, 6, 40, 44], fill=(230, 190, 160))
    draw.ellipse([16, 18, 21, 23], fill=(30, 30, 30))
    draw.ellipse([27, 18, 32, 23], fill=(30, 30, 30))
    draw.arc([16, 26, 32, 36], 20, 160, fill=(120, 40, 40), width=2)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def add_item(db: Database, cfg: Config, n: int, day: str, hour: int, *, place_id: int | None = None,
             thumbs: bool = True) -> int:
    thumb_rel = f"thumbs/{n:02d}/{n:06d}.jpg"
    if thumbs:
        make_thumb(cfg.data_dir / thumb_rel, n)
    local = f"{day}T{hour:02d}:{(n * 7) % 60:02d}:00"
    record = {
        "hash": f"hash-{n:06d}", "kind": "photo", "format": "JPEG", "size": 1000 + n,
        "taken_at_local": local, "utc_offset_min": 60, "tz_name": "Europe/Berlin",
        "taken_at_source": "exif", "taken_at_utc": local, "lat": None, "lon": None, "place_id": place_id,
        "width": 4032, "height": 3024, "orientation": 1, "quality": 0.5 + (n % 5) / 10, "thumb": thumb_rel,
    }
    item_id, _ = store_items.save_item(db, record, ROOT, f"2024/IMG_{n:04d}.jpg", 1000 + n, n)
    return item_id


def add_originals(cfg: Config, item_ids: list[int]) -> None:
    """Real original files in the tmp library for these items (the fixed ROOT paths are marked missing),
    for tests that render collages from originals."""
    db = store.connect(cfg.db_path)
    try:
        lib = cfg.libraries[0]
        for item_id in item_ids:
            rel = f"2024/IMG_{item_id:04d}.jpg"
            make_thumb(lib / rel, item_id, size=(640, 480))
            stat = (lib / rel).stat()
            store_items.save_item(db, {"hash": f"hash-{item_id:06d}", "kind": "photo"}, str(lib), rel,
                                  stat.st_size, stat.st_mtime_ns)
        with db.atomic():
            for item_id in item_ids:
                db.execute("UPDATE paths SET missing_since = ? WHERE root = ? AND relpath = ?",
                           ["2025-05-31T00:00:00+00:00", ROOT, f"2024/IMG_{item_id:04d}.jpg"])
    finally:
        db.close()


#: (stable key, kind, title, start day, days, place, people, status, reason, number of items)
MEMORIES = [
    ("trip:lisbon", "trip", "Lisbon in July", "2024-07-03", 5, "Lisbon, Portugal", ["Ana", "Ben"], "suggested",
     "5 days 1,800 km from home with 42 photos", 8),
    ("gathering:bbq", "gathering", "Garden barbecue", "2024-08-17", 1, "Berlin", ["Ana", "Carla", "Ben"],
     "suggested", "3 people you named in 14 photos within 4 hours", 6),
    ("birthday:ana", "birthday", "Ana turns 7", "2024-05-12", 1, "Berlin", ["Ana"], "approved",
     "Ana's birthday (05-12) with 9 photos of her", 6),
    ("holiday:xmas", "holiday", "Christmas 2023", "2023-12-24", 3, "Hamburg", ["Ben"], "exported",
     "Public holiday with 20 photos", 5),
    ("trip:alps", "trip", "Three days in the Alps", "2023-09-01", 3, "Garmisch-Partenkirchen, Germany", [],
     "rejected", "3 days 600 km from home", 4),
]


def add_memory(db: Database, cfg: Config, spec: tuple, first_n: int) -> tuple[int, list[int]]:
    key, kind, title, start, days, place, people, status, reason, count = spec
    day0 = datetime.fromisoformat(start)
    item_ids = []
    for i in range(count):
        day = (day0.replace(day=day0.day) if days == 1 else day0.replace(day=day0.day + i % days)).date()
        item_ids.append(add_item(db, cfg, first_n + i, day.isoformat(), 9 + i))
    end_day = day0.replace(day=day0.day + days - 1).date().isoformat()
    stamp = "2025-05-01T00:00:00+00:00"
    with db.atomic():
        memory_id = db["memories"].insert({
            "stable_key": key, "kind": kind, "title": title, "start": f"{start}T09:00:00",
            "end": f"{end_day}T20:00:00", "place": place, "people": json.dumps(people), "score": 0.8,
            "reason": reason, "status": status, "cover_item": item_ids[0], "created_at": stamp,
            "updated_at": stamp,
        }).last_pk
        db["memory_items"].insert_all(
            {"memory_id": memory_id, "item_id": item_id, "picked": 1, "rank": rank}
            for rank, item_id in enumerate(item_ids)
        )
    return memory_id, item_ids


#: (name, birthday, number of faces)
PEOPLE = [("Ana", "2017-05-12", 5), ("Ben", None, 3), (None, None, 4)]


def add_people(db: Database, item_ids: list[int]) -> list[int]:
    person_ids = []
    n = 0
    with db.atomic():
        for index, (name, birthday, faces) in enumerate(PEOPLE):
            person_id = db["people"].insert({"name": name, "birthday": birthday,
                                             "created_at": "2025-01-01T00:00:00+00:00"}).last_pk
            person_ids.append(person_id)
            for _ in range(faces):
                db["faces"].insert({
                    "item_id": item_ids[n % len(item_ids)], "top": 0.1, "left": 0.2, "bottom": 0.5, "right": 0.5,
                    "det_score": 0.99, "size_px": 200, "encoding": bytes(512), "person_id": person_id,
                    "assigned_by": "auto", "crop": face_crop(index * 10 + n),
                })
                n += 1
    return person_ids


@contextlib.contextmanager
def without_module(name: str):
    """Make ``name`` unimportable in this process, as on a machine where it is not installed."""

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname == name or fullname.startswith(name + "."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    saved = {key: sys.modules.pop(key) for key in list(sys.modules) if key == name or key.startswith(name + ".")}
    blocker = Block()
    sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        sys.meta_path.remove(blocker)
        sys.modules.update(saved)


def record_jobs(cfg: Config, db: Database) -> None:
    """A scan a quarter done (a reporter left running, 34.3 s in on its clock: 35/s, about 2 min left)
    and a faces run that failed because dlib cannot be imported, as the real code records them."""
    ticks = [0.0]
    scan = JobProgress(db, "scan", clock=lambda: ticks[0], wall=lambda: "2025-06-01T11:59:00+00:00")
    scan.start()
    ticks[0] = 34.3
    scan(1200, 5000)
    with without_module("dlib"), contextlib.suppress(UserError):
        jobs.run_step("faces", cfg, db, wall=lambda: "2025-06-01T11:50:00+00:00")


def build(cfg: Config) -> dict:
    """Fill cfg's DB; returns ids the tests refer to."""
    db = store.connect(cfg.db_path)
    try:
        memory_ids: dict[str, int] = {}
        members: dict[str, list[int]] = {}
        n = 1
        for spec in MEMORIES:
            memory_ids[spec[0]], members[spec[0]] = add_memory(db, cfg, spec, n)
            n += spec[9]
        person_ids = add_people(db, [i for ids in members.values() for i in ids])
        root = ROOT
        store_items.set_root(db, root, state="online", watcher="inotify", last_scan_at="2025-06-01T11:55:00+00:00")
        store_items.set_root(db, "/media/usb-photos", state="offline", watcher="polling",
                             last_scan_at="2025-05-30T12:00:00+00:00", note="not mounted")
        store_items.record_skipped(db, root, "2024/broken.jpg", "cannot decode: truncated JPEG data")
        store_items.record_skipped(db, root, "2024/huge.png", "too many pixels (200000000 > 80000000)")
        store_items.kv_set(db, "service.state", "running")
        record_jobs(cfg, db)
        # the heartbeat as `homeroll run` writes it, 30 s before the tests' clock
        liveness.beat(cfg.data_dir, first=True)
        beat_at = (NOW - timedelta(seconds=30)).timestamp()
        os.utime(liveness.heartbeat_path(cfg.data_dir), (beat_at, beat_at))
        return {"memories": memory_ids, "members": members, "people": person_ids}
    finally:
        db.close()


#: What doctor says in the TUI's tests and screenshots: its real answer depends on the machine (temp paths,
#: free space, clock sync, an installed unit), which a snapshot must not. tests/tui/test_status_doctor.py
#: runs the real one.
DOCTOR_CHECKS = [
    Check("config", "ok", "/etc/homeroll/config.toml"),
    Check("libraries", "ok", "1 readable as homeroll: /srv/photos/phone"),
    Check("data-dir", "ok", "/var/lib/homeroll writable as homeroll"),
    Check("export", "ok", "/srv/collages writable as homeroll"),
    Check("unit", "ok", "/etc/systemd/system/homeroll.service matches the config"),
    Check("network", "ok", "nothing online is configured: the service needs no network"),
    Check("service", "ok", "running, last heartbeat 2025-06-01T11:59:30+00:00"),
    Check("database", "ok", "/var/lib/homeroll/homeroll.db: quick_check ok"),
    Check("data-space", "ok", "/var/lib/homeroll: 70 GB free of 252 GB"),
    Check("export-space", "ok", "/srv/collages: 70 GB free of 252 GB"),
    Check("inotify", "ok", "212 folders to watch, fs.inotify.max_user_watches = 65,536"),
    Check("clock", "warn", "not synchronised, says timedatectl",
          "timedatectl set-ntp true (a Pi without a real-time clock boots with a wrong time)"),
    Check("faces", "fail", "faces engine cannot load: No module named 'dlib'",
          "pip install dlib-bin face-recognition-models, or set [faces] enabled = false"),
]


def pinned_doctor(config_path, now=None) -> list[Check]:
    return list(DOCTOR_CHECKS)
