"""Exporting for real: the CLI as a process, the DB on disk, files in a real export folder."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from PIL import Image

from homeroll.daemon import config as config_mod
from homeroll.daemon.collage.export import (
    PAUSE_ENV,
    ExportFolderError,
    export_memory,
    run_export_job,
)
from homeroll.daemon.collage.names import safe_stem
from homeroll.daemon.errors import UserError
from homeroll.daemon.store import exports as store_exports
from tests.collage.conftest import kill_export_at_its_pause
from tests.conftest import HOMEROLL, run_cli

FACES = "face_recognition/examples"


@pytest.fixture
def library(library, make_config):
    """The collage's tests: ``[export] outputs`` pinned to the collage (the video and the album folder are
    tested in test_export_outputs.py and test_album.py)."""
    library.cfg = make_config(export={"outputs": ["collage"]})
    return library


@pytest.fixture
def memory(library, corpus):
    """An approved memory of three real photos (one with a face box)."""
    ids = [
        library.add_file(corpus / f"{FACES}/obama.jpg", faces=[(0.29, 0.18, 0.51, 0.52)]),
        library.add_file(corpus / "exif-samples/jpg/gps/DSCN0010.jpg"),
        library.add_file(corpus / f"{FACES}/biden.jpg"),
    ]
    return library.add_memory(ids)


def _files(folder):
    return sorted(os.listdir(folder))


def test_cli_export_prints_path_and_writes_collage_and_sidecar(library, memory):
    proc = run_cli(library.cfg.path, "export", str(memory), "--size", "square")
    path = proc.stdout.strip().splitlines()[-1]
    assert path == str(library.cfg.export_dir / "2024-06-01 Summer in Arezzo.jpg")
    assert _files(library.cfg.export_dir) == ["2024-06-01 Summer in Arezzo.jpg", "2024-06-01 Summer in Arezzo.json"]
    with Image.open(path) as img:
        assert img.format == "JPEG" and img.size == (2160, 2160)
    sidecar = json.loads((library.cfg.export_dir / "2024-06-01 Summer in Arezzo.json").read_text())
    assert sidecar["memory_id"] == memory and sidecar["title"] == "Summer in Arezzo"
    assert sidecar["start"] == "2024-06-01" and sidecar["place"] == "Arezzo" and sidecar["people"] == ["Barack Obama"]
    assert sidecar["layout"] == "strip" and sidecar["homeroll_version"]
    assert len(sidecar["sources"]) == 3 and all(p.startswith(str(library.root)) for p in sidecar["sources"])
    assert library.status(memory) == "exported"
    assert [e["path"] for e in store_exports.exports_for(library.db, memory)] == [path]
    # the library was not touched
    assert sorted(p.name for p in library.root.iterdir()) == ["DSCN0010.jpg", "biden.jpg", "obama.jpg"]


def test_unapproved_is_refused_unless_forced(library, memory):
    library.db.execute("UPDATE memories SET status = 'suggested' WHERE id = ?", [memory])
    library.db.conn.commit()
    proc = run_cli(library.cfg.path, "export", str(memory), check=False)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "not approved" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _files(library.cfg.export_dir) == []
    proc = run_cli(library.cfg.path, "export", str(memory), "--force", "--size", "square", "--layout", "grid")
    assert os.path.isfile(proc.stdout.strip().splitlines()[-1])
    assert library.status(memory) == "exported"


def test_unknown_memory_is_one_line(library):
    proc = run_cli(library.cfg.path, "export", "999", check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == "homeroll: no memory with id 999"


def test_preview_marks_nothing(library, memory, tmp_path):
    library.db.execute("UPDATE memories SET status = 'suggested' WHERE id = ?", [memory])
    library.db.conn.commit()
    target = tmp_path / "preview.png"
    proc = run_cli(library.cfg.path, "export", str(memory), "--preview", str(target), "--size", "portrait",
                   "--style", "polaroid")
    assert proc.stdout.strip().splitlines()[-1] == str(target)
    with Image.open(target) as img:
        assert img.format == "PNG" and img.size == (2160, 2700)
    assert library.status(memory) == "suggested"
    assert store_exports.exports_for(library.db, memory) == []
    assert _files(library.cfg.export_dir) == []
    # never into a library
    proc = run_cli(library.cfg.path, "export", str(memory), "--preview", str(library.root / "x.jpg"), check=False)
    assert proc.returncode == 2 and "inside library" in proc.stderr
    assert not (library.root / "x.jpg").exists()


@pytest.mark.parametrize("fallback", [False, True], ids=["o_tmpfile", "named_temp"])
def test_sigkill_mid_write_leaves_nothing_partial(library, memory, fallback):
    kill_export_at_its_pause(library.cfg.path, memory, fallback)
    left = _files(library.cfg.export_dir)
    assert not [n for n in left if n.endswith((".jpg", ".json"))], left
    if fallback:
        # where O_TMPFILE is unavailable a dot temp file can survive SIGKILL; the next export sweeps it
        assert left and all(n.startswith(".homeroll-") and n.endswith(".tmp") for n in left), left
    else:
        assert left == []  # the data lived in an unnamed inode: the kernel dropped it
    assert library.status(memory) == "approved"
    run_cli(library.cfg.path, "export", str(memory), "--size", "square")
    assert _files(library.cfg.export_dir) == ["2024-06-01 Summer in Arezzo.jpg", "2024-06-01 Summer in Arezzo.json"]


HOSTILE = [
    "../../etc/passwd",
    "😀" * 300,
    ".hidden",
    "a/b\\c:d*e?f\"g<h>i|j",
    "\x00\x07\x1b[31mred\r\nline",
    "evil\u202egpj.exe",
    "   ...   ",
    "👨‍👩‍👧‍👦" * 80,
]


@pytest.mark.parametrize("title", HOSTILE)
def test_safe_stem(title):
    stem = safe_stem("2024-06-01", title, 7)
    assert stem.startswith("2024-06-01 ")
    assert "/" not in stem and "\\" not in stem and "\x00" not in stem
    assert not any(ord(c) < 32 or c == "\u202e" for c in stem)
    assert len((stem + " (999).json").encode()) <= 255
    assert not safe_stem(None, title, 7).startswith(".")
    stem.encode("utf-8")  # valid UTF-8, no half characters


def test_hostile_titles_stay_plain_files_in_the_folder(library, corpus, tmp_path):
    item = library.add_file(corpus / f"{FACES}/biden.jpg")
    for title in HOSTILE:
        memory_id = library.add_memory([item], title=title)
        path = export_memory(library.cfg, library.db, memory_id, size="square")
        assert path.parent == library.cfg.export_dir
        assert path.is_file() and not path.name.startswith(".")
        assert len(path.name.encode()) <= 255
    names = _files(library.cfg.export_dir)
    assert len(names) == 2 * len(HOSTILE)
    assert not (tmp_path / "etc").exists()
    assert not any(n.startswith(".") for n in names)


def test_same_title_twice_gets_unique_names_and_a_human_file_is_kept(library, corpus):
    item = library.add_file(corpus / f"{FACES}/biden.jpg")
    human = library.cfg.export_dir / "2024-06-01 Summer in Arezzo.jpg"
    human.write_bytes(b"a person's own file")
    first = export_memory(library.cfg, library.db, library.add_memory([item]), size="square")
    second = export_memory(library.cfg, library.db, library.add_memory([item]), size="square")
    assert human.read_bytes() == b"a person's own file"
    assert first.name == "2024-06-01 Summer in Arezzo (2).jpg"
    assert second.name == "2024-06-01 Summer in Arezzo (3).jpg"


def test_reexport_replaces_only_its_own_files(library, memory):
    first = export_memory(library.cfg, library.db, memory, size="square")
    other = (library.cfg.export_dir / "holiday notes.txt")
    other.write_text("keep me")
    library.db.execute("UPDATE memories SET user_title = 'Arezzo, renamed' WHERE id = ?", [memory])
    library.db.conn.commit()
    second = export_memory(library.cfg, library.db, memory, size="square", style="dark")
    assert not first.exists() and not first.with_suffix(".json").exists()
    assert second.name == "2024-06-01 Arezzo, renamed.jpg"
    assert _files(library.cfg.export_dir) == ["2024-06-01 Arezzo, renamed.jpg", "2024-06-01 Arezzo, renamed.json",
                                              "holiday notes.txt"]
    assert [e["style"] for e in store_exports.exports_for(library.db, memory)] == ["dark"]
    # same name again: replaced in place
    third = export_memory(library.cfg, library.db, memory, size="square", layout="grid")
    assert third == second and len(_files(library.cfg.export_dir)) == 3


def test_file_mode_from_config(make_config, library, memory):
    cfg = config_mod.build(library.cfg.path, library.cfg.libraries, library.cfg.data_dir, library.cfg.export_dir,
                           "UTC", {"export": {"file_mode": "0640", "outputs": ["collage"]}})
    path = export_memory(cfg, library.db, memory, size="square")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert stat.S_IMODE(path.with_suffix(".json").stat().st_mode) == 0o640
    bad = config_mod.build(library.cfg.path, library.cfg.libraries, library.cfg.data_dir, library.cfg.export_dir,
                           "UTC", {"export": {"file_mode": "rw-r--r--"}})
    with pytest.raises(UserError, match="file_mode"):
        export_memory(bad, library.db, memory, size="square")


def test_missing_export_folder_then_retry(library, memory):
    library.cfg.export_dir.rmdir()
    proc = run_cli(library.cfg.path, "export", str(memory), check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and len(proc.stderr.splitlines()) == 1
    summary = run_export_job(library.cfg, library.db)
    assert summary["exported"] == [] and "does not exist" in summary["error"]
    assert not library.cfg.export_dir.exists()  # not created behind an unmounted share's back
    assert library.status(memory) == "approved"
    library.cfg.export_dir.mkdir()
    summary = run_export_job(library.cfg, library.db)
    assert [e["id"] for e in summary["exported"]] == [memory] and summary["error"] is None
    assert library.status(memory) == "exported"
    assert run_export_job(library.cfg, library.db)["exported"] == []  # nothing left to do


def test_export_folder_that_is_a_file(library, memory):
    """A path under a regular file: ENOTDIR for every process, root included."""
    library.cfg.export_dir.rmdir()
    library.cfg.export_dir.write_text("not a folder")
    with pytest.raises(ExportFolderError, match="not a folder"):
        export_memory(library.cfg, library.db, memory)
    assert library.status(memory) == "approved"


def test_read_only_export_folder(library, memory, tmp_path):
    """A read-only bind mount stops root too (chmod would not). Needs mount privileges; skipped without."""
    ro = library.cfg.export_dir
    done = subprocess.run(["mount", "--bind", str(ro), str(ro)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.decode().strip()}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True)
        assert remount.returncode == 0, remount.stderr
        proc = run_cli(library.cfg.path, "export", str(memory), check=False)
        assert proc.returncode == 2 and "not writable" in proc.stderr and "Traceback" not in proc.stderr
        summary = run_export_job(library.cfg, library.db)
        assert summary["error"] and summary["exported"] == []
        assert library.status(memory) == "approved"
        assert _files(ro) == []
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def test_auto_off_exports_nothing(library, memory):
    cfg = config_mod.build(library.cfg.path, library.cfg.libraries, library.cfg.data_dir, library.cfg.export_dir,
                           "UTC", {"export": {"auto": False}})
    assert run_export_job(cfg, library.db) == {"enabled": False, "exported": [], "failed": [], "error": None}
    assert _files(library.cfg.export_dir) == []


def test_job_reports_a_memory_without_usable_photos(library, corpus, memory, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"garbage")
    bad = library.add_memory([library.add_file(broken)], title="Broken")
    summary = run_export_job(library.cfg, library.db)
    assert [f["id"] for f in summary["failed"]] == [bad] and "cannot" in summary["failed"][0]["reason"]
    assert [e["id"] for e in summary["exported"]] == [memory]


def test_heic_rotated_video_memory_exports(library, corpus):
    ids = [
        library.add_file(corpus / "exif-samples/heic/IMG_5195.HEIC"),
        library.add_file(corpus / "exif-samples/jpg/orientation/portrait_6.jpg"),
        library.add_file(corpus / "exif-samples/jpg/orientation/landscape_8.jpg"),
        library.add_file(corpus / f"{FACES}/short_hamilton_clip.mp4"),
    ]
    memory_id = library.add_memory(ids, title="Mixed media")
    path = export_memory(library.cfg, library.db, memory_id)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["skipped"] == [] and len(sidecar["sources"]) == 4
    assert sidecar["sources"][-1].endswith(".mp4") or any(s.endswith(".mp4") for s in sidecar["sources"])


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("O_TMPFILE and bind mounts are Linux")


def test_a_rejection_while_the_collage_is_made_stands(library, memory):
    """The household rejects in the TUI while the export renders and writes: the reject is kept (the
    export's status change is guarded in the same transaction) and the files it made are taken back."""
    env = {**os.environ, PAUSE_ENV: "2"}
    proc = subprocess.Popen([*HOMEROLL, "--config", str(library.cfg.path), "export", str(memory)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = ""
        while "test pause" not in line:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "export ended before its pause"
        started = time.monotonic()
        run_cli(library.cfg.path, "memories", "reject", str(memory))
        assert time.monotonic() - started < 2, "the reject waited for the export"
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2 and err.strip().splitlines()[-1] == \
        f"homeroll: memory {memory} was rejected while its collage was being made: nothing exported"
    assert library.status(memory) == "rejected"
    assert not [n for n in _files(library.cfg.export_dir) if n.endswith((".jpg", ".json"))]
