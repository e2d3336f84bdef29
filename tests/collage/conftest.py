"""A tmp library of real corpus files, indexed with store.items.save_item, and memories inserted as rows.

The memories area owns how memories are made; these tests only need rows to export, so they insert
them directly (sqlite-utils), over real image files copied into a temporary library.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from homeroll.daemon import store
from homeroll.daemon.collage.sources import Source, SourceError, probe
from homeroll.daemon.store import items as store_items

FACES = "face_recognition/examples"
FACE_PHOTOS = [
    f"{FACES}/obama.jpg",
    f"{FACES}/two_people.jpg",
    f"{FACES}/biden.jpg",
    f"{FACES}/knn_examples/test/kit_with_rose.jpg",
    f"{FACES}/knn_examples/test/obama_and_biden.jpg",
    f"{FACES}/lin-manuel-miranda.png",
    f"{FACES}/alex-lacamoire.png",
    f"{FACES}/knn_examples/test/johnsnow_test1.jpg",
    f"{FACES}/knn_examples/train/rose_leslie/img1.jpg",
]


def dlib_faces(path: Path) -> list[tuple[float, float, float, float]]:
    """Face boxes (left, top, right, bottom) normalised to the displayed image, measured with dlib HOG
    on a copy at most 800 px wide (what the faces job stores)."""
    import dlib
    import numpy as np

    with Image.open(path) as img:
        img = img.convert("RGB")
        img.thumbnail((800, 800))
        detector = dlib.get_frontal_face_detector()
        boxes = detector(np.asarray(img), 1)
        w, h = img.size
    return [(b.left() / w, b.top() / h, b.right() / w, b.bottom() / h) for b in boxes]


@dataclass
class Library:
    cfg: object
    db: object
    root: Path
    sources: dict[str, Path] = field(default_factory=dict)

    def add_file(self, src: Path, name: str | None = None, kind: str | None = None,
                 faces: list[tuple[float, float, float, float]] | None = None,
                 taken: str = "2024-06-01T12:00:00") -> int:
        """Copy ``src`` into the library and index it as an item; returns the item id."""
        name = name or src.name
        dest = self.root / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        data = dest.read_bytes()
        kind = kind or ("video" if dest.suffix.lower() in (".mp4", ".mov") else "photo")
        try:
            probed = probe(Source(str(dest), kind))
            width, height = probed.width, probed.height
        except SourceError:  # a broken file is still indexed (as the ingest would record it)
            width = height = None
        record = {
            "hash": hashlib.sha256(data + name.encode()).hexdigest(), "kind": kind, "size": len(data),
            "taken_at_local": taken, "utc_offset_min": 60, "tz_name": "Europe/Berlin",
            "taken_at_utc": taken, "lat": None, "lon": None, "width": width, "height": height,
        }
        stat = dest.stat()
        item_id, _ = store_items.save_item(self.db, record, str(self.root), name, stat.st_size, stat.st_mtime_ns)
        for left, top, right, bottom in faces or []:
            self.db["faces"].insert({"item_id": item_id, "top": top, "left": left, "bottom": bottom,
                                     "right": right, "det_score": 1.0})
        return item_id

    def add_memory(self, item_ids: list[int], *, title: str = "Summer in Arezzo", status: str = "approved",
                   start: str = "2024-06-01", end: str = "2024-06-03", place: str | None = "Arezzo",
                   people: list[str] | None = None) -> int:
        now = store_items.now_iso()
        with self.db.atomic():
            memory_id = self.db["memories"].insert({
                "stable_key": f"test:{title}:{start}:{len(item_ids)}:{now}:{id(item_ids)}", "kind": "trip",
                "title": title, "start": start, "end": end, "place": place,
                "people": json.dumps(people or ["Barack Obama"]), "score": 1.0, "status": status,
                "cover_item": item_ids[0] if item_ids else None, "created_at": now, "updated_at": now,
            }).last_pk
            for rank, item_id in enumerate(item_ids):
                self.db["memory_items"].insert({"memory_id": memory_id, "item_id": item_id, "picked": 1,
                                                "rank": rank})
        return memory_id

    def status(self, memory_id: int) -> str:
        return self.db.execute("SELECT status FROM memories WHERE id = ?", [memory_id]).fetchone()[0]


@pytest.fixture
def library(make_config, tmp_path):
    cfg = make_config()
    cfg.export_dir.mkdir(parents=True, exist_ok=True)
    db = store.connect(cfg.db_path)
    yield Library(cfg, db, cfg.libraries[0])
    db.close()


def kill_export_at_its_pause(cfg_path: Path, memory_id: int, fallback: bool) -> None:
    """`homeroll export ID` as a process, SIGKILLed at the test pause after its data is written and before
    anything is renamed into place (``fallback``: without O_TMPFILE, as on some shares)."""
    from homeroll.daemon.collage.export import NO_TMPFILE_ENV, PAUSE_ENV
    from tests.conftest import HOMEROLL

    env = {**os.environ, PAUSE_ENV: "60", **({NO_TMPFILE_ENV: "1"} if fallback else {})}
    proc = subprocess.Popen([*HOMEROLL, "--config", str(cfg_path), "export", str(memory_id), "--size", "square"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "test pause" not in line:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "export ended before its pause"
            assert time.monotonic() < deadline
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
