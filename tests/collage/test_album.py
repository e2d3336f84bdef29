"""Album folders for real: the CLI as a process, the DB on disk, copies in a real export folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from homeroll.daemon.collage.album import album_names
from homeroll.daemon.collage.export import export_memory, export_outputs_of
from homeroll.daemon.store import exports as store_exports
from homeroll.daemon.store import fsutil
from tests.collage.conftest import kill_export_at_its_pause
from tests.conftest import run_cli

if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("homeroll runs on Linux (Debian, Raspberry Pi OS): these tests check its O_TMPFILE "
                                  "and renameat2 album swap")

FACES = "face_recognition/examples"
NAME = "2024-06-01 Summer in Arezzo"


@pytest.fixture
def library(library, make_config):
    """Collage and album only: the video has its own tests (test_export_outputs.py)."""
    library.cfg = make_config(export={"outputs": ["collage", "album"]})
    return library


@pytest.fixture
def memory(library, corpus):
    """Three photos (one HEIC) added out of time order, so the album must sort them."""
    ids = [
        library.add_file(corpus / f"{FACES}/obama.jpg", taken="2024-06-01T15:30:00"),
        library.add_file(corpus / "exif-samples/heic/IMG_5195.HEIC", taken="2024-06-01T09:05:00"),
        library.add_file(corpus / f"{FACES}/biden.jpg", taken="2024-06-02T11:50:59"),
    ]
    return library.add_memory(ids)


def _visible(folder):
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


def test_cli_album_holds_copies_in_time_order_with_the_collage(library, memory):
    proc = run_cli(library.cfg.path, "export", str(memory), "--size", "square")
    lines = proc.stdout.strip().splitlines()
    album = library.cfg.export_dir / NAME
    assert lines[-1] == str(library.cfg.export_dir / f"{NAME}.jpg") and str(album) in lines
    assert _visible(library.cfg.export_dir) == [NAME, f"{NAME}.jpg", f"{NAME}.json"]
    assert sorted(os.listdir(album)) == ["01 2024-06-01 09.05.HEIC", "02 2024-06-01 15.30.jpg",
                                         "03 2024-06-02 11.50.jpg", f"{NAME}.jpg"]
    originals = {"01 2024-06-01 09.05.HEIC": "IMG_5195.HEIC", "02 2024-06-01 15.30.jpg": "obama.jpg",
                 "03 2024-06-02 11.50.jpg": "biden.jpg", f"{NAME}.jpg": None}
    for name, original in originals.items():
        copy = album / name
        source = library.root / original if original else library.cfg.export_dir / name
        info = os.lstat(copy)
        # a copy (or a reflink): its own inode, one link, no symlink, the same bytes
        assert not copy.is_symlink() and info.st_nlink == 1 and info.st_ino != os.stat(source).st_ino
        assert copy.read_bytes() == source.read_bytes()
        assert os.stat(source).st_nlink == 1  # and the library's file gained no second name
    # the photo keeps its mtime (browsers sort by it)
    assert os.stat(album / "02 2024-06-01 15.30.jpg").st_mtime_ns == os.stat(library.root / "obama.jpg").st_mtime_ns
    sidecar = json.loads((library.cfg.export_dir / f"{NAME}.json").read_text())
    assert sidecar["outputs"] == ["collage", "album"] and sidecar["album"]["folder"] == NAME
    assert sidecar["album"]["files"][:3] == sorted(originals)[:3] and sum(sidecar["album"]["copies"].values()) == 4
    assert set(sidecar["album"]["copies"]) <= {"reflink", "copy_file_range", "copy", "write"}
    rows = store_exports.exports_for(library.db, memory)
    assert {r["output"]: r["path"] for r in rows} == {"collage": lines[-1], "album": str(album)}
    assert library.status(memory) == "exported"
    assert sorted(os.listdir(library.root)) == ["IMG_5195.HEIC", "biden.jpg", "obama.jpg"]


def test_outputs_flag_overrides_the_config(library, memory):
    proc = run_cli(library.cfg.path, "export", str(memory), "--outputs", "album")
    assert proc.stdout.strip().splitlines()[-1] == str(library.cfg.export_dir / NAME)
    assert _visible(library.cfg.export_dir) == [NAME, f"{NAME}.json"]
    assert f"{NAME}.jpg" not in os.listdir(library.cfg.export_dir / NAME)
    bad = run_cli(library.cfg.path, "export", str(memory), "--outputs", "collage,gif", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "'gif'" in bad.stderr


@pytest.mark.parametrize("title", ["../../etc", "..", ".hidden/../x", "a/b\\c:d*e?f", "\u202eevil\u202c", "😀" * 300])
def test_hostile_titles_make_one_folder_inside_the_export_folder(library, corpus, title):
    memory_id = library.add_memory([library.add_file(corpus / f"{FACES}/obama.jpg")], title=title)
    written = export_outputs_of(library.cfg, library.db, memory_id, outputs=["album"])
    album = written["album"]
    assert album.parent == library.cfg.export_dir and album.is_dir() and not album.name.startswith(".")
    assert len(album.name.encode()) <= 210 and "/" not in album.name
    assert _visible(library.cfg.export_dir) == sorted([album.name, written["sidecar"].name])
    assert os.listdir(album) == ["01 2024-06-01 12.00.jpg"]


def test_reexport_replaces_the_folder_and_a_rename_moves_it(library, memory):
    first = export_outputs_of(library.cfg, library.db, memory, size="square")["album"]
    stray = first / "a file someone put here.txt"
    stray.write_text("gone with the old album")
    inode = os.stat(first).st_ino
    # the household removes the HEIC: the new album has two photos, in a new folder under the same name
    item = library.db.execute("SELECT item_id FROM paths WHERE relpath = 'IMG_5195.HEIC'").fetchone()[0]
    library.db.execute("UPDATE memory_items SET removed_by_user = 1 WHERE memory_id = ? AND item_id = ?", [memory, item])
    library.db.conn.commit()
    second = export_outputs_of(library.cfg, library.db, memory, size="square")["album"]
    assert second == first and os.stat(second).st_ino != inode
    assert sorted(os.listdir(second)) == ["01 2024-06-01 15.30.jpg", "02 2024-06-02 11.50.jpg", f"{NAME}.jpg"]
    assert not [n for n in os.listdir(library.cfg.export_dir) if n.startswith(".")]  # the old one is gone
    # renamed: the album moves to the new name, the old folder is removed, a person's folder is kept
    person = library.cfg.export_dir / "2024-06-01 Tuscany"
    person.mkdir()
    library.db.execute("UPDATE memories SET user_title = 'Tuscany' WHERE id = ?", [memory])
    library.db.conn.commit()
    third = export_outputs_of(library.cfg, library.db, memory, size="square")["album"]
    assert third.name == "2024-06-01 Tuscany (2)" and person.is_dir() and not first.exists()
    assert _visible(library.cfg.export_dir) == ["2024-06-01 Tuscany", "2024-06-01 Tuscany (2)",
                                                "2024-06-01 Tuscany (2).jpg", "2024-06-01 Tuscany (2).json"]


def test_a_missing_source_is_reported_and_skipped(library, memory):
    (library.root / "biden.jpg").unlink()
    written = export_outputs_of(library.cfg, library.db, memory, size="square")
    assert sorted(os.listdir(written["album"])) == ["01 2024-06-01 09.05.HEIC", "02 2024-06-01 15.30.jpg",
                                                    f"{NAME}.jpg"]
    sidecar = json.loads(written["sidecar"].read_text())
    missing = [s for s in sidecar["skipped"] if s["path"] == str(library.root / "biden.jpg")]
    assert len(missing) == 1 and missing[0]["reason"]
    assert library.status(memory) == "exported"


def test_a_fifo_in_the_library_is_skipped_not_waited_for(library, corpus):
    item = library.add_file(corpus / f"{FACES}/obama.jpg", name="pipe.jpg")
    (library.root / "pipe.jpg").unlink()
    os.mkfifo(library.root / "pipe.jpg")
    other = library.add_file(corpus / f"{FACES}/biden.jpg")
    memory_id = library.add_memory([item, other], title="Pipe")
    written = export_outputs_of(library.cfg, library.db, memory_id, outputs="album")
    assert os.listdir(written["album"]) == ["01 2024-06-01 12.00.jpg"]
    sidecar = json.loads(written["sidecar"].read_text())
    assert [s["reason"] for s in sidecar["skipped"]] == ["not a regular file"]


def test_album_names_sort_by_utc_and_keep_safe_extensions():
    picks = [{"item_id": 1, "path": "/l/b.JPG", "taken": "2024-08-12T11:50:00", "taken_utc": "2024-08-12T09:50:00"},
             {"item_id": 2, "path": "/l/a.heic", "taken": "2024-08-12T10:00:00", "taken_utc": "2024-08-12T09:00:00"},
             {"item_id": 3, "path": "/l/c.mov", "taken": None, "taken_utc": None},
             {"item_id": 4, "path": "/l/d.j\npg", "taken": "2024-08-13T08:00:00", "taken_utc": "2024-08-13T07:00:00"}]
    assert [n for n, _ in album_names(picks)] == ["01 2024-08-12 10.00.heic", "02 2024-08-12 11.50.JPG",
                                                  "03 2024-08-13 08.00", "04.mov"]
    many = [{"item_id": i, "path": f"/l/{i}.jpg", "taken": None, "taken_utc": None} for i in range(120)]
    assert album_names(many)[0][0] == "001.jpg"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_a_killed_export_are_swept(library, memory):
    """What a crash between the renames (or mid-build) leaves, hidden temp folders, goes on the next export."""
    left = library.cfg.export_dir / f"{fsutil.TEMP_PREFIX}{_dead_pid()}-abc{fsutil.TEMP_SUFFIX}"
    (left / "sub").mkdir(parents=True)
    (left / "sub" / "01 x.jpg").write_bytes(b"old")
    target = library.cfg.export_dir / "elsewhere"
    target.mkdir()
    link = library.cfg.export_dir / f"{fsutil.TEMP_PREFIX}{_dead_pid()}-def{fsutil.TEMP_SUFFIX}"
    link.symlink_to(target)
    export_memory(library.cfg, library.db, memory, size="square")
    assert not left.exists() and not os.path.lexists(link) and target.is_dir()  # a symlink is unlinked, not followed


@pytest.mark.parametrize("fallback", [False, True], ids=["o_tmpfile", "named_temp"])
def test_sigkill_before_the_renames_leaves_no_folder_under_a_real_name(library, memory, fallback):
    kill_export_at_its_pause(library.cfg.path, memory, fallback)
    left = os.listdir(library.cfg.export_dir)
    assert _visible(library.cfg.export_dir) == [], left
    assert left and all(n.startswith(fsutil.TEMP_PREFIX) for n in left)  # the album being built, hidden
    assert library.status(memory) == "approved"
    run_cli(library.cfg.path, "export", str(memory), "--size", "square")
    assert sorted(os.listdir(library.cfg.export_dir)) == [NAME, f"{NAME}.jpg", f"{NAME}.json"]


def test_exchange_swaps_two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "new").write_text("1")
    (b / "old").write_text("2")
    if not fsutil.exchange(a, b):
        pytest.skip("this file system has no renameat2 RENAME_EXCHANGE (some network shares): the album swap "
                    "falls back to two renames there (PreparedAlbum.commit)")
    assert os.listdir(b) == ["new"] and os.listdir(a) == ["old"]


def test_a_persons_folder_with_the_albums_name_is_never_replaced(library, memory):
    """A collage-only export first; then someone makes a folder of their own under the name an album would
    take. Adding the album must not swap their folder out (the sidecar vouches only for what it lists)."""
    export_outputs_of(library.cfg, library.db, memory, outputs=["collage"])
    theirs = library.cfg.export_dir / NAME
    theirs.mkdir()
    (theirs / "grandma's scans.jpg").write_bytes(b"theirs")
    written = export_outputs_of(library.cfg, library.db, memory, outputs=["collage", "album"])
    assert sorted(os.listdir(theirs)) == ["grandma's scans.jpg"]
    assert written["album"].name == f"{NAME} (2)" and written["album"].is_dir()
    assert not (library.cfg.export_dir / f"{NAME}.jpg").exists()  # the memory's own earlier collage moved with it
