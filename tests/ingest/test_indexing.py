"""Indexing behaviour on media made with exact metadata: time sources, zones, Live Photos, duplicates, moves,
deletes, changes, and the CLI contract. Real files, real DB, the real `homeroll` process."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from homeroll.daemon import store
from homeroll.daemon.ingest.pipeline import Indexer
from homeroll.demo.media import scene, write_heic, write_jpeg, write_video
from tests.conftest import cli_json, run_cli


@pytest.fixture
def library(make_config):
    cfg = make_config(home_tz="Europe/Berlin")
    return cfg, cfg.libraries[0]


def _scan(cfg):
    db = store.connect(cfg.db_path)
    with Indexer(cfg, db, workers=1) as indexer:
        stats = indexer.scan()
    db.close()
    return stats


def _media(cfg):
    return {Path(m["path"]).name: m for m in cli_json(cfg.path, "media", "--json")}


def test_time_sources_by_priority(library):
    cfg, lib = library
    img = scene(1, (320, 240))
    other = scene(12, (320, 240))  # two files without EXIF need different pixels, or they are one item
    write_jpeg(lib / "offset.jpg", img, taken=datetime(2024, 7, 1, 12, 0, 0), offset="+00:00")  # zero is real
    write_jpeg(lib / "gpszone.jpg", img, taken=datetime(2024, 7, 1, 12, 0, 0), gps=(35.68, 139.69))
    write_jpeg(lib / "homezone.jpg", img, taken=datetime(2024, 1, 15, 12, 0, 0))
    write_jpeg(lib / "PXL_20230304_101112345.jpg", img, taken=None)
    write_jpeg(lib / "IMG-20220102-WA0001.jpg", other, taken=None)
    write_jpeg(lib / "zero.jpg", img, taken=datetime(1980, 1, 1))  # before 1990: falls through to mtime
    os.utime(lib / "zero.jpg", (1_600_000_000, 1_600_000_000))
    _scan(cfg)
    media = _media(cfg)
    assert media["offset.jpg"]["taken_at"] == "2024-07-01T12:00:00+00:00"
    assert media["offset.jpg"]["taken_at_source"] == "exif"
    assert media["gpszone.jpg"]["taken_at"] == "2024-07-01T12:00:00+09:00"
    assert media["gpszone.jpg"]["tz"] == "Asia/Tokyo" and media["gpszone.jpg"]["taken_at_source"] == "exif+gps_tz"
    assert media["homezone.jpg"]["taken_at"] == "2024-01-15T12:00:00+01:00"
    assert media["homezone.jpg"]["taken_at_source"] == "exif+home_tz"
    assert media["PXL_20230304_101112345.jpg"]["taken_at"] == "2023-03-04T10:11:12+01:00"
    assert media["PXL_20230304_101112345.jpg"]["taken_at_source"].startswith("filename")
    assert media["IMG-20220102-WA0001.jpg"]["taken_at"].startswith("2022-01-02T00:00:00")
    assert media["zero.jpg"]["taken_at_source"] == "mtime"
    assert media["zero.jpg"]["taken_at"] == "2020-09-13T14:26:40+02:00"


def test_heic_and_videos_with_phone_metadata(library):
    cfg, lib = library
    write_heic(lib / "IMG_0001.HEIC", scene(2, (320, 240)), taken=datetime(2024, 8, 12, 10, 0), offset="+01:00",
               gps=(38.7139, -9.1394))
    write_video(lib / "VID_utc.mp4", creation_utc=datetime(2024, 4, 2, 3, 0), gps=(35.6764, 139.65))
    write_video(lib / "apple.MOV", creation_utc=datetime(2024, 4, 2, 3, 0), gps=(35.0116, 135.7681),
                apple_local=datetime(2024, 4, 2, 12, 0), apple_offset="+09:00")
    write_video(lib / "nogps.mp4", creation_utc=datetime(2024, 4, 2, 3, 0))
    _scan(cfg)
    media = _media(cfg)
    heic = media["IMG_0001.HEIC"]
    assert heic["format"] == "HEIF" and heic["place"]["city"] == "Lisbon"
    assert heic["taken_at"] == "2024-08-12T10:00:00+01:00"
    assert media["VID_utc.mp4"]["taken_at"] == "2024-04-02T12:00:00+09:00"
    assert media["VID_utc.mp4"]["taken_at_source"] == "video+gps_tz" and media["VID_utc.mp4"]["kind"] == "video"
    assert media["apple.MOV"]["taken_at"] == "2024-04-02T12:00:00+09:00"
    assert media["apple.MOV"]["taken_at_source"] == "quicktime"
    assert media["apple.MOV"]["place"]["city"] == "Kyoto"
    assert media["nogps.mp4"]["taken_at"] == "2024-04-02T05:00:00+02:00"  # UTC shown in the home zone
    assert media["nogps.mp4"]["taken_at_source"] == "video+home_tz"


def test_live_photo_is_one_item(library):
    cfg, lib = library
    when = datetime(2024, 4, 5, 15, 0)
    write_heic(lib / "IMG_4242.HEIC", scene(3, (320, 240)), taken=when, offset="+09:00", gps=(35.0, 135.7))
    write_video(lib / "IMG_4242.MOV", creation_utc=datetime(2024, 4, 5, 6, 0), apple_local=when, apple_offset="+09:00")
    _scan(cfg)
    media = _media(cfg)
    assert list(media) == ["IMG_4242.HEIC"]
    assert media["IMG_4242.HEIC"]["live_photo"] is True
    assert cli_json(cfg.path, "media", "--skipped", "--json") == []


def test_duplicates_moves_and_deletes(library):
    cfg, lib = library
    write_jpeg(lib / "a.jpg", scene(4, (320, 240)), taken=datetime(2024, 5, 1, 9, 0))
    shutil.copy2(lib / "a.jpg", lib / "copy-of-a.jpg")
    write_jpeg(lib / "b.jpg", scene(5, (320, 240)), taken=datetime(2024, 5, 1, 10, 0))
    first = _scan(cfg)
    assert first.new_items == 2 and first.duplicates == 1
    db = store.connect(cfg.db_path)
    a_id = db.execute("SELECT item_id FROM paths WHERE relpath = 'a.jpg'").fetchone()[0]
    db.execute("UPDATE items SET faces_scanned = 1 WHERE id = ?", [a_id])  # analysis that must survive a move
    db.conn.commit()
    (lib / "2024").mkdir()
    os.rename(lib / "a.jpg", lib / "2024" / "renamed.jpg")
    (lib / "b.jpg").unlink()
    second = _scan(cfg)
    assert second.new_items == 0 and second.moved == 1 and second.missing == 2
    rows = db.execute("SELECT relpath, missing_since IS NOT NULL FROM paths ORDER BY relpath").fetchall()
    assert rows == [("2024/renamed.jpg", 0), ("b.jpg", 1), ("copy-of-a.jpg", 0)]
    assert db.execute("SELECT faces_scanned FROM items WHERE id = ?", [a_id]).fetchone()[0] == 1
    assert set(_media(cfg)) == {"renamed.jpg", "copy-of-a.jpg"}
    # the deleted file is only flagged; purging after the grace period removes it and its item
    purged = store.items.purge_missing(db, "9999-01-01")
    assert purged == 1
    assert db.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 1
    db.close()


def test_changed_file_becomes_new_content(library):
    cfg, lib = library
    write_jpeg(lib / "edit.jpg", scene(6, (320, 240)), taken=datetime(2024, 5, 1, 9, 0))
    _scan(cfg)
    old = _media(cfg)["edit.jpg"]["hash"]
    write_jpeg(lib / "edit.jpg", scene(7, (320, 240)), taken=datetime(2024, 5, 1, 9, 0))
    os.utime(lib / "edit.jpg", (1_700_000_000, 1_700_000_000))
    stats = _scan(cfg)
    assert stats.new_items == 1
    media = cli_json(cfg.path, "media", "--json")
    assert len(media) == 1 and media[0]["hash"] != old


def test_sync_temp_files_and_nas_folders_never_become_items(library):
    cfg, lib = library
    img = scene(8, (320, 240))
    for name in (".syncthing.IMG_1.jpg.tmp", "~syncthing~IMG_2.jpg.tmp", "IMG_3.jpg.partial", "IMG_4.jpg.part",
                 ".IMG_5.jpg.Ab3dEf", "IMG_6.jpg.!sync", ".IMG_7.jpg.~1234"):
        img.save(lib / name, "JPEG")
    for folder in ("@eaDir", ".stversions", "#recycle", ".thumbnails", ".hidden"):
        (lib / folder).mkdir()
        img.save(lib / folder / "IMG_9.jpg", "JPEG")
    img.save(lib / "real.jpg", "JPEG")
    _scan(cfg)
    assert list(_media(cfg)) == ["real.jpg"]
    skipped = cli_json(cfg.path, "media", "--skipped", "--json")
    assert {Path(s["path"]).name for s in skipped} == {
        ".syncthing.IMG_1.jpg.tmp", "~syncthing~IMG_2.jpg.tmp", "IMG_3.jpg.partial", "IMG_4.jpg.part",
        ".IMG_5.jpg.Ab3dEf", "IMG_6.jpg.!sync", ".IMG_7.jpg.~1234"}


def test_screenshots_and_messenger_images(library):
    cfg, lib = library
    (lib / "Screenshots").mkdir()
    Image.new("RGB", (100, 200), "white").save(lib / "Screenshots" / "Screenshot_20240101-211403.png")
    Image.new("RGB", (100, 200), "gray").save(lib / "plain.png")  # PNG without camera EXIF
    (lib / "WhatsApp Images").mkdir()
    scene(9, (320, 240)).save(lib / "WhatsApp Images" / "IMG-20240101-WA0003.jpg")
    _scan(cfg)
    media = _media(cfg)
    assert media["Screenshot_20240101-211403.png"]["kind"] == "screenshot"
    assert media["plain.png"]["kind"] == "screenshot"
    db = store.connect(cfg.db_path)
    assert db.execute("SELECT is_messenger FROM items WHERE kind = 'photo'").fetchall() == [(1,)]
    db.close()


def test_offline_root_marks_nothing_missing(library, tmp_path):
    cfg, lib = library
    write_jpeg(lib / "a.jpg", scene(10, (320, 240)), taken=datetime(2024, 5, 1, 9, 0))
    _scan(cfg)
    shutil.rmtree(lib)
    lib.mkdir()  # an unmounted share looks like an empty folder
    stats = _scan(cfg)
    assert stats.roots_offline == [str(lib)] and stats.missing == 0
    status = cli_json(cfg.path, "status", "--json")
    assert status["roots"][0]["state"] == "offline"
    assert len(cli_json(cfg.path, "media", "--json")) == 1
    lib.rmdir()
    stats = _scan(cfg)
    assert cli_json(cfg.path, "status", "--json")["roots"][0]["state"] == "missing"


def test_thumbnails_are_small_oriented_and_in_the_data_dir(library):
    cfg, lib = library
    write_jpeg(lib / "rot6.jpg", scene(11, (1200, 900)), taken=datetime(2024, 5, 1, 9, 0), orientation=6)
    _scan(cfg)
    db = store.connect(cfg.db_path)
    thumb, width, height = db.execute("SELECT thumb, width, height FROM items").fetchone()
    assert (width, height) == (900, 1200)
    with Image.open(cfg.data_dir / thumb) as im:
        assert max(im.size) <= 512 and im.height > im.width
    assert list(lib.iterdir()) == [lib / "rot6.jpg"]
    db.close()


@pytest.mark.parametrize("args, message", [
    (["media", "--bogus"], "No such option"),
    (["memories", "approve", "999999"], "999999"),
])
def test_errors_are_one_line_with_exit_2(library, args, message):
    cfg, _ = library
    proc = run_cli(cfg.path, *args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_config_is_one_line(tmp_path):
    proc = run_cli(tmp_path / "nope.toml", "status", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("homeroll: no config at")
    bad = tmp_path / "bad.toml"
    bad.write_text("libraries = [\n")
    proc = run_cli(bad, "scan", check=False)
    assert proc.returncode == 2 and "not valid TOML" in proc.stderr and proc.stderr.count("\n") == 1


def test_init_writes_a_config_and_refuses_data_inside_a_library(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    cfg_path = tmp_path / "c.toml"
    proc = run_cli(cfg_path, "init", "--library", str(lib), "--data", str(lib / "data"), "--export", str(tmp_path / "e"),
                   check=False)
    assert proc.returncode == 2 and "never writes to a library" in proc.stderr
    run_cli(cfg_path, "init", "--library", str(lib), "--data", str(tmp_path / "d"), "--export", str(tmp_path / "e"),
            "--home-tz", "Europe/Lisbon")
    status = cli_json(cfg_path, "status", "--json")
    assert status["items"] == 0
    proc = run_cli(cfg_path, "init", "--library", str(lib), "--data", str(tmp_path / "d"), "--export", "x",
                   "--home-tz", "Mars/Olympus", "--force", check=False)
    assert proc.returncode == 2 and "unknown time zone" in proc.stderr
    assert json.loads(run_cli(cfg_path, "status", "--json").stdout)["roots"] == []


def test_a_file_that_takes_too_long_costs_one_skip_not_the_scan(make_config):
    """A real slow decode (a large PNG cannot be draft-decoded) against a tiny per-file limit."""
    cfg = make_config(scan={"per_file_timeout": 0.5, "workers": 1})
    lib = cfg.libraries[0]
    Image.effect_noise((8000, 6000), 64).convert("RGB").save(lib / "huge.png", compress_level=1)
    write_jpeg(lib / "fine.jpg", scene(13, (320, 240)), taken=datetime(2024, 5, 1, 9, 0))
    stats = _scan(cfg)
    skipped = {Path(s["path"]).name: s["reason"] for s in cli_json(cfg.path, "media", "--skipped", "--json")}
    assert skipped["huge.png"].startswith("decoder timed out")
    assert list(_media(cfg)) == ["fine.jpg"] and stats.new_items == 1
