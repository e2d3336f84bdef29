"""People end to end on the face_recognition corpus: real files, the real DB, `homeroll` as a real process.

Detection runs once per session (HOG on a shared 2-core box is the slow part); tests that change the
people work on a copy of the data dir so they cannot disturb each other.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.store import faces as store_faces
from tests.conftest import cli_json, run_cli

FR = "face_recognition"
PHOTOS = {
    "obama.jpg": "examples/obama.jpg",
    "obama2.jpg": "examples/obama2.jpg",
    "obama_small.jpg": "examples/obama_small.jpg",
    "obama1.jpg": "examples/knn_examples/test/obama1.jpg",
    "obama3.jpg": "tests/test_images/obama3.jpg",
    "biden.jpg": "examples/biden.jpg",
    "biden2.jpg": "examples/knn_examples/train/biden/biden2.jpg",
    "two_people.jpg": "examples/two_people.jpg",
    "obama_and_biden.jpg": "examples/knn_examples/test/obama_and_biden.jpg",
    "kit_with_rose.jpg": "examples/knn_examples/test/kit_with_rose.jpg",
    "kit1.jpeg": "examples/knn_examples/train/kit_harington/john1.jpeg",
    "kit2.jpeg": "examples/knn_examples/train/kit_harington/john2.jpeg",
    "rose1.jpg": "examples/knn_examples/train/rose_leslie/img1.jpg",
    "rose2.jpg": "examples/knn_examples/train/rose_leslie/img2.jpg",
    "partial1.jpg": "tests/test_images/obama_partial_face.jpg",
    "partial2.jpg": "tests/test_images/obama_partial_face2.jpg",
    "32bit.png": "tests/test_images/32bit.png",
}
OBAMA = ["obama.jpg", "obama2.jpg", "obama_small.jpg", "obama1.jpg", "obama3.jpg", "gray.jpg", "cmyk.jpg",
         "rot6.jpg", "rot8.jpg", "32bit.png"]
BIDEN = ["biden.jpg", "biden2.jpg"]


def _with_orientation(upright: Image.Image, orientation: int, path: Path) -> None:
    """Store pixels so that applying EXIF ``orientation`` shows ``upright``."""
    stored = upright.transpose(Image.Transpose.ROTATE_90 if orientation == 6 else Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, quality=92, exif=exif.tobytes())


@pytest.fixture(scope="session")
def library(corpus, tmp_path_factory) -> dict:
    """A library of corpus copies plus derived hard cases, scanned and face-scanned once via the CLI."""
    base = tmp_path_factory.mktemp("people")
    lib = base / "library"
    lib.mkdir()
    for name, rel in PHOTOS.items():
        shutil.copyfile(corpus / FR / rel, lib / name)
    with Image.open(corpus / FR / PHOTOS["obama.jpg"]) as src:
        upright = src.convert("RGB")
    upright.convert("L").save(lib / "gray.jpg", quality=92)
    upright.convert("CMYK").save(lib / "cmyk.jpg", quality=92)
    _with_orientation(upright, 6, lib / "rot6.jpg")
    _with_orientation(upright, 8, lib / "rot8.jpg")
    upright.resize((36, 45)).save(lib / "tiny.png")
    Image.new("RGB", (800, 600), (90, 140, 200)).save(lib / "sky.jpg", quality=90)
    cfg = config_mod.build(base / "config.toml", [lib], base / "data", base / "export", "Europe/Berlin", {})
    config_mod.save(cfg)
    run_cli(cfg.path, "scan")
    proc = run_cli(cfg.path, "faces")
    assert "photos scanned" in proc.stdout
    return {"cfg": cfg, "lib": lib, "base": base}


def _copy_library(library, tmp_path) -> config_mod.Config:
    """Same library, a private copy of the data dir: for tests that change people."""
    src = library["cfg"]
    db = sqlite3.connect(src.db_path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    dest = sqlite3.connect(tmp_path / "homeroll.db")
    db.backup(dest)
    db.close()
    dest.close()
    cfg = config_mod.build(tmp_path / "config.toml", src.libraries, tmp_path, tmp_path / "export", "Europe/Berlin", {})
    config_mod.save(cfg)
    return cfg


def _people(cfg) -> list[dict]:
    return cli_json(cfg.path, "people", "--json")


def _person_of(people: list[dict], lib: Path, name: str) -> set[int]:
    return {p["id"] for p in people if str(lib / name) in p["media"]}


def _faces(cfg, lib: Path, name: str) -> list[dict]:
    return [f for f in cli_json(cfg.path, "faces", "--json") if f["path"] == str(lib / name)]


def test_obama_photos_are_one_person_and_biden_another(library):
    cfg, lib = library["cfg"], library["lib"]
    people = _people(cfg)
    obama = {pid for name in OBAMA for pid in _person_of(people, lib, name)}
    biden = {pid for name in BIDEN for pid in _person_of(people, lib, name)}
    assert len(obama) == 1, obama
    assert len(biden) == 1, biden
    assert obama != biden
    (obama_row,) = [p for p in people if p["id"] in obama]
    assert obama_row["name"] is None and obama_row["face_count"] >= len(OBAMA)
    assert obama_row["cover"] in obama_row["media"]


@pytest.mark.parametrize("photo", ["two_people.jpg", "obama_and_biden.jpg"])
def test_group_photos_give_two_different_people(library, photo):
    cfg, lib = library["cfg"], library["lib"]
    people = _people(cfg)
    obama = _person_of(people, lib, "obama.jpg")
    biden = _person_of(people, lib, "biden.jpg")
    found = {f["person_id"] for f in _faces(cfg, lib, photo) if f["person_id"] is not None}
    assert found >= obama | biden
    assert len(found) == len(_faces(cfg, lib, photo)) - sum(1 for f in _faces(cfg, lib, photo) if f["person_id"] is None)


def test_kit_with_rose_matches_their_train_photos(library):
    cfg, lib = library["cfg"], library["lib"]
    people = _people(cfg)
    kit = _person_of(people, lib, "kit1.jpeg") & _person_of(people, lib, "kit2.jpeg")
    rose = _person_of(people, lib, "rose1.jpg") & _person_of(people, lib, "rose2.jpg")
    assert len(kit) == 1 and len(rose) == 1 and kit != rose
    faces = sorted(_faces(cfg, lib, "kit_with_rose.jpg"), key=lambda f: f["left"])
    assert len(faces) == 2
    assert {f["person_id"] for f in faces} == kit | rose
    assert faces[0]["person_id"] in rose  # Rose stands on the left in that picture


@pytest.mark.parametrize(("photo", "reference", "size"), [
    # (top, right, bottom, left) pixel boxes from face_recognition's own tests; the image size (w, h).
    ("partial1.jpg", (142, 191, 365, 0), (491, 1137)),
    ("partial2.jpg", (142, 551, 409, 349), (551, 1137)),
])
def test_partial_faces_are_found_near_the_reference_boxes(library, photo, reference, size):
    faces = _faces(library["cfg"], library["lib"], photo)
    assert len(faces) == 1
    top, right, bottom, left = reference
    width, height = size
    face = faces[0]
    ours = (face["top"] * height, face["left"] * width, face["bottom"] * height, face["right"] * width)
    theirs = (top, left, bottom, right)
    inter = (max(0, min(ours[2], theirs[2]) - max(ours[0], theirs[0]))
             * max(0, min(ours[3], theirs[3]) - max(ours[1], theirs[1])))
    union = ((ours[2] - ours[0]) * (ours[3] - ours[1]) + (theirs[2] - theirs[0]) * (theirs[3] - theirs[1]) - inter)
    assert inter / union >= 0.5, (ours, theirs)


@pytest.mark.parametrize("photo", ["32bit.png", "gray.jpg", "cmyk.jpg", "rot6.jpg", "rot8.jpg"])
def test_unusual_formats_and_rotations_give_the_face_in_displayed_coordinates(library, photo):
    cfg, lib = library["cfg"], library["lib"]
    faces = _faces(cfg, lib, photo)
    assert len(faces) == 1
    if photo != "32bit.png":  # derived from obama.jpg: the box must match the upright original
        (upright,) = _faces(cfg, lib, "obama.jpg")
        for side in ("top", "left", "bottom", "right"):
            assert faces[0][side] == pytest.approx(upright[side], abs=0.03), side


def test_tiny_image_is_skipped_with_a_reason_and_sky_has_no_face(library):
    cfg, lib = library["cfg"], library["lib"]
    assert _faces(cfg, lib, "sky.jpg") == []
    db = store.connect(cfg.db_path)
    try:
        reasons = {r["reason"] for r in store_faces.skipped_items(db)}
        indexed_tiny = db.execute("SELECT COUNT(*) FROM paths WHERE relpath = 'tiny.png'").fetchone()[0]
    finally:
        db.close()
    if indexed_tiny:
        assert any("too small" in r for r in reasons), reasons
    else:  # the indexer refused it first; then it must say why
        skipped = cli_json(cfg.path, "media", "--json", "--skipped")
        assert any(s["path"].endswith("tiny.png") and s["reason"] for s in skipped)


def test_name_merge_move_and_forget_through_the_cli(library, tmp_path):
    cfg, lib = _copy_library(library, tmp_path), library["lib"]
    people = _people(cfg)
    (obama,) = _person_of(people, lib, "obama.jpg")
    (biden,) = _person_of(people, lib, "biden.jpg")

    run_cli(cfg.path, "people", "name", str(obama), "Barack", "--birthday", "08-04")
    bad = run_cli(cfg.path, "people", "name", str(obama), "Barack", "--birthday", "1961-02-30", check=False)
    assert bad.returncode == 2 and "MM-DD" in bad.stderr and "Traceback" not in bad.stderr
    row = next(p for p in _people(cfg) if p["id"] == obama)
    assert (row["name"], row["birthday"]) == ("Barack", "08-04")
    assert _people(cfg)[0]["id"] == obama  # named people first

    (face,) = _faces(cfg, lib, "obama_small.jpg")
    moved = cli_json(cfg.path, "faces", "move", str(face["id"]), "new")
    assert moved["person_id"] not in (obama, biden)
    assert cli_json(cfg.path, "faces", "--json", "--person", str(moved["person_id"]))[0]["id"] == face["id"]
    cli_json(cfg.path, "faces", "move", str(face["id"]), str(obama))
    assert moved["person_id"] not in {p["id"] for p in _people(cfg)}  # an unnamed, empty person goes away

    run_cli(cfg.path, "people", "merge", str(obama), str(biden))
    merged = next(p for p in _people(cfg) if p["id"] == obama)
    assert str(lib / "biden.jpg") in merged["media"] and merged["name"] == "Barack"
    assert biden not in {p["id"] for p in _people(cfg)}
    unknown = run_cli(cfg.path, "people", "merge", str(obama), "99999", check=False)
    assert unknown.returncode == 2 and "no person" in unknown.stderr


def test_forget_deletes_encodings_and_crops_and_is_not_recreated(library, tmp_path):
    cfg, lib = _copy_library(library, tmp_path), library["lib"]
    people = _people(cfg)
    (kit,) = _person_of(people, lib, "kit1.jpeg")
    db = store.connect(cfg.db_path)
    secrets = [bytes(b) for r in db.execute("SELECT encoding, crop FROM faces WHERE person_id = ?", [kit])
               for b in r]
    kit_items = [r[0] for r in db.execute("SELECT DISTINCT item_id FROM faces WHERE person_id = ?", [kit])]
    db.close()
    assert len(secrets) == 6

    result = cli_json(cfg.path, "people", "forget", str(kit), "--json")
    assert result == {"id": kit, "faces_deleted": 3, "crops_deleted": 3}
    raw = b"".join(p.read_bytes() for p in cfg.data_dir.glob("homeroll.db*"))
    for secret in secrets:
        assert secret not in raw
    assert kit not in {p["id"] for p in _people(cfg)}

    # Scan those photos again: the faces come back as boxes only, and no person is recreated.
    db = store.connect(cfg.db_path)
    with db.atomic():
        db.execute(f"UPDATE items SET faces_scanned = 0 WHERE id IN ({','.join('?' * len(kit_items))})", kit_items)
    db.close()
    run_cli(cfg.path, "faces")
    people = _people(cfg)
    assert not _person_of(people, lib, "kit1.jpeg") and not _person_of(people, lib, "kit2.jpeg")
    rose = _person_of(people, lib, "rose1.jpg")
    assert {f["person_id"] for f in _faces(cfg, lib, "kit_with_rose.jpg")} == rose | {None}
    db = store.connect(cfg.db_path)
    left = db.execute(f"SELECT COUNT(*) FROM faces WHERE encoding IS NOT NULL AND person_id IS NULL AND item_id IN "
                      f"({','.join('?' * len(kit_items))})", kit_items).fetchone()[0]
    db.close()
    assert left == 0


def test_faces_can_be_disabled_globally_and_per_root(library, tmp_path):
    cfg = _copy_library(library, tmp_path)
    off = config_mod.build(cfg.path, cfg.libraries, cfg.data_dir, cfg.export_dir, "Europe/Berlin",
                           {"faces": {"enabled": False}})
    config_mod.save(off)
    assert "disabled" in run_cli(off.path, "faces").stdout
    db = store.connect(cfg.db_path)
    try:
        with db.atomic():
            db.execute("UPDATE items SET faces_scanned = 0")
        assert store_faces.todo_items(db, [str(cfg.libraries[0])]) == []
        assert len(store_faces.todo_items(db, [])) >= len(PHOTOS)
    finally:
        db.close()


def test_job_resumes_in_chunks_and_rescanned_faces_rejoin_their_people(library, tmp_path):
    from homeroll.daemon.faces import job

    cfg, lib = _copy_library(library, tmp_path), library["lib"]
    before = _people(cfg)
    (obama,) = _person_of(before, lib, "obama.jpg")
    names = ["obama.jpg", "obama2.jpg", "biden.jpg", "sky.jpg"]
    db = store.connect(cfg.db_path)
    try:
        with db.atomic():
            db.execute(f"UPDATE items SET faces_scanned = 0 WHERE id IN (SELECT item_id FROM paths WHERE relpath IN "
                       f"({','.join('?' * len(names))}))", names)
        first = job.run_faces_job(cfg, db, limit=3)
        assert first["items_scanned"] == 3 and job._WARM.pool is not None  # more work: workers stay warm
        second = job.run_faces_job(cfg, db, limit=3)
        assert second["items_scanned"] == 1 and job._WARM.pool is None  # done: workers stopped
        assert first["people_created"] + second["people_created"] == 0
    finally:
        job.close_pool()
        db.close()
    after = _people(cfg)
    assert _person_of(after, lib, "obama.jpg") == _person_of(after, lib, "obama2.jpg") == {obama}
    assert _person_of(after, lib, "biden.jpg") == _person_of(before, lib, "biden.jpg")
