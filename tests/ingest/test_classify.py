"""The classify stage: one verdict per file whether it comes by the reconcile walk or by the watcher.

Real files in a temporary library and a real DB. The stage is run with the walk's inputs and with the
watcher's (per-file stat, one listing per folder, per-path DB look-ups) and must say the same; then the
indexer's two entry points must leave the same rows behind.
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from homeroll.daemon import store
from homeroll.daemon.ingest import classify, roots
from homeroll.daemon.ingest.pipeline import Indexer
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import sidecars as store_sidecars
from homeroll.demo import exports as demo_exports
from homeroll.demo.media import scene, write_heic, write_jpeg, write_video

WHEN = datetime(2024, 4, 5, 15, 0)


def _fill(lib: Path) -> None:
    """A photo, a Live Photo, a sync temp file, a text file, a photo with its XMP, an unreadable photo."""
    (lib / "Camera").mkdir(parents=True)
    (lib / "Exports").mkdir()
    (lib / "@eaDir").mkdir()
    write_jpeg(lib / "Camera/IMG_1.jpg", scene(1, (160, 120)), taken=WHEN)
    write_heic(lib / "Camera/IMG_2.HEIC", scene(2, (160, 120)), taken=WHEN, offset="+09:00")
    write_video(lib / "Camera/IMG_2.MOV", frames=4, creation_utc=datetime(2024, 4, 5, 6, 0))
    (lib / "Camera/.syncthing.IMG_3.jpg.tmp").write_bytes(b"half a photo")
    (lib / "Camera/notes.txt").write_text("not a photo")
    (lib / "Camera/broken.jpg").write_bytes(b"not a jpeg at all")
    demo_exports.write_plain_jpeg(lib / "Exports/a.jpg", scene(3, (160, 120)))
    (lib / "Exports/a.jpg.xmp").write_bytes(demo_exports.xmp_packet("2018-06-01T08:00:00+02:00"))
    write_jpeg(lib / "@eaDir/thumb.jpg", scene(4, (160, 120)), taken=WHEN)
    old = 1_600_000_000
    for path in lib.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))


def _by_walk(db, root: str) -> classify.Plan:
    entries = {e.relpath: e for e in roots.walk(root)}
    paths, skips = store_items.known_paths(db, root), store_items.known_skipped(db, root)
    known = classify.Known(paths.get, skips.get, store_sidecars.known(db, root))
    return classify.classify(root, entries, classify.listings_of_walk(entries.values()), known)


def _by_watcher(db, root: str, relpaths: list[str]) -> classify.Plan:
    files = classify.stat_files(root, relpaths)
    listings = classify.list_folders(root, {os.path.dirname(r) for r in files})
    return classify.classify(root, files, listings, classify.Known.of_files(db, root, files))


@pytest.fixture
def library(tmp_path, memdb):
    lib = tmp_path / "library"
    _fill(lib)
    root = str(lib)
    st = (lib / "Camera/broken.jpg").stat()
    store_items.record_skipped(memdb, root, "Camera/broken.jpg", "unsupported or unrecognised format",
                               st.st_size, st.st_mtime_ns)
    st = (lib / "Camera/IMG_1.jpg").stat()
    store_items.save_item(memdb, {"hash": "h1", "kind": "photo"}, root, "Camera/IMG_1.jpg", st.st_size, st.st_mtime_ns)
    return memdb, root


def test_the_walk_and_the_watcher_get_the_same_verdicts(library):
    db, root = library
    walked = _by_walk(db, root)
    watched = _by_watcher(db, root, [*walked.verdicts, "@eaDir/thumb.jpg"])
    assert "@eaDir/thumb.jpg" not in walked.verdicts  # the walk never enters a NAS folder
    assert watched.verdicts.pop("@eaDir/thumb.jpg") == classify.Ignored("@eaDir/thumb.jpg")
    assert watched.verdicts == walked.verdicts
    assert watched.sidecar_changes == walked.sidecar_changes
    kinds = {rel: type(v).__name__ for rel, v in walked.verdicts.items()}
    assert kinds == {
        "Camera/IMG_1.jpg": "Unchanged", "Camera/IMG_2.HEIC": "Photo", "Camera/IMG_2.MOV": "Video",
        "Camera/.syncthing.IMG_3.jpg.tmp": "Skip", "Camera/notes.txt": "Skip", "Camera/broken.jpg": "SkippedBefore",
        "Exports/a.jpg": "Photo", "Exports/a.jpg.xmp": "Sidecar",
    }
    verdicts = walked.verdicts
    assert verdicts["Camera/.syncthing.IMG_3.jpg.tmp"].outcome == f"skipped:{roots.TEMP_REASON}"
    assert verdicts["Camera/notes.txt"].outcome == "skipped:unsupported file type (.txt)"
    assert verdicts["Camera/IMG_2.MOV"].partner == "Camera/IMG_2.HEIC"
    assert verdicts["Exports/a.jpg"].sidecars == {"xmp": os.path.join(root, "Exports", "a.jpg.xmp")}
    assert verdicts["Exports/a.jpg"].refresh is True  # its sidecar is new to the DB
    assert [type(c).__name__ for c in walked.sidecar_changes] == ["SidecarSeen"]


def test_each_folder_is_listed_once_and_the_stage_reads_only_its_listings(library):
    db, root = library
    relpaths = ["Camera/IMG_2.MOV", "Camera/notes.txt", "Exports/a.jpg", "Exports/a.jpg.xmp"]
    files = classify.stat_files(root, relpaths)
    listings = classify.list_folders(root, {os.path.dirname(r) for r in files})
    assert sorted(listings) == ["Camera", "Exports"]
    # The Live Photo's still and the sidecar are found in the listings, not by looking at the folder again:
    # take them away from the disk after the listing, and the verdicts still have them.
    os.unlink(os.path.join(root, "Exports/a.jpg.xmp"))
    plan = classify.classify(root, files, listings, classify.Known.of_files(db, root, files))
    assert plan.verdicts["Camera/IMG_2.MOV"].partner == "Camera/IMG_2.HEIC"
    assert plan.verdicts["Exports/a.jpg"].sidecars == {"xmp": os.path.join(root, "Exports", "a.jpg.xmp")}
    with pytest.raises(KeyError):  # a folder without its listing is the caller's mistake, never listed here
        classify.classify(root, files, {"Camera": listings["Camera"]}, classify.Known.of_files(db, root, files))


def test_the_watcher_pulls_in_the_photo_a_video_or_a_sidecar_belongs_to(library):
    db, root = library
    plan = _by_watcher(db, root, ["Camera/IMG_2.MOV", "Exports/a.jpg.xmp"])
    assert plan.verdicts["Camera/IMG_2.HEIC"] == classify.Photo(
        "Camera/IMG_2.HEIC", os.path.join(root, "Camera/IMG_2.HEIC"), None, False)
    assert plan.verdicts["Exports/a.jpg"].refresh is True
    # A sidecar that went away: its row goes, and its photo is read again without it.
    store_sidecars.record(db, root, "Exports/a.jpg.xmp", "xmp", "Exports/a.jpg", 1, 1)
    os.unlink(os.path.join(root, "Exports/a.jpg.xmp"))
    plan = _by_watcher(db, root, ["Exports/a.jpg.xmp"])
    assert plan.verdicts["Exports/a.jpg.xmp"] == classify.Sidecar("Exports/a.jpg.xmp")
    assert plan.sidecar_changes == [classify.SidecarGone("Exports/a.jpg.xmp", "xmp")]
    assert plan.verdicts["Exports/a.jpg"] == classify.Photo(
        "Exports/a.jpg", os.path.join(root, "Exports/a.jpg"), None, True)
    assert _by_watcher(db, root, ["Camera/gone.jpg"]).verdicts == {"Camera/gone.jpg": classify.Vanished("Camera/gone.jpg")}


def test_a_sidecar_read_before_it_settled_is_recorded_so_its_deletion_rereads_the_photo(make_config, tmp_path):
    """The photo settles first and is read with the XMP beside it; the XMP is deleted before it settles
    itself. The photo must still fall back to its own date (a race seen in CI under load)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    demo_exports.write_plain_jpeg(lib / "nodate.jpg", scene(77, (320, 240)))
    (lib / "nodate.jpg.xmp").write_bytes(demo_exports.xmp_packet("2012-12-12T12:12:12+01:00"))
    cfg = make_config(libraries=[lib], scan={"workers": 1})
    db = store.connect(cfg.db_path)
    try:
        with Indexer(cfg, db, workers=1) as indexer:
            assert indexer.index_files(str(lib), ["nodate.jpg"]) == {"nodate.jpg": "indexed"}
            assert [s["path"] for s in store_sidecars.listing(db)] == [str(lib / "nodate.jpg.xmp")]
            (lib / "nodate.jpg.xmp").unlink()
            assert indexer.index_files(str(lib), ["nodate.jpg.xmp"])["nodate.jpg"] == "indexed"
        media = {m["path"]: m for m in store_items.media(db)}
        assert media[str(lib / "nodate.jpg")]["taken_at_source"] == "mtime"
        assert list(store_sidecars.listing(db)) == []
    finally:
        db.close()


def test_a_symlink_or_a_folder_is_no_file_on_the_watchers_path_either(library):
    """The walk never follows a symlink nor takes a folder; a watcher event for one must not index it."""
    db, root = library
    os.symlink(os.path.join(root, "Camera/IMG_1.jpg"), os.path.join(root, "Camera/link.jpg"))
    os.mkdir(os.path.join(root, "Camera/sub.jpg"))
    assert {"Camera/link.jpg", "Camera/sub.jpg"}.isdisjoint(e.relpath for e in roots.walk(root))
    plan = _by_watcher(db, root, ["Camera/link.jpg", "Camera/sub.jpg"])
    assert {rel: type(v).__name__ for rel, v in plan.verdicts.items()} == {
        "Camera/link.jpg": "Vanished", "Camera/sub.jpg": "Vanished"}


def test_reconcile_and_index_files_leave_the_same_rows(make_config, tmp_path):
    """The same library indexed by the walk and by the watcher's path: same items, skips and sidecars."""
    walked, watched = tmp_path / "walked", tmp_path / "watched"
    _fill(walked)
    shutil.copytree(walked, watched, copy_function=shutil.copy2)
    cfg = make_config(libraries=[walked, watched], scan={"workers": 1})
    db = store.connect(cfg.db_path)
    relpaths = sorted(e.relpath for e in roots.walk(str(watched))) + ["@eaDir/thumb.jpg"]
    with Indexer(cfg, db, workers=1) as indexer:
        stats = indexer.reconcile_root(str(walked))
        outcomes = indexer.index_files(str(watched), relpaths)
        again = indexer.index_files(str(watched), relpaths)
    assert stats.new_items == 3 and stats.live_videos == 1 and stats.sidecars == 1
    assert outcomes == {
        "@eaDir/thumb.jpg": "ignored",
        "Camera/.syncthing.IMG_3.jpg.tmp": f"skipped:{roots.TEMP_REASON}",  # recorded, as the walk does
        "Camera/IMG_1.jpg": "indexed", "Camera/IMG_2.HEIC": "indexed", "Camera/IMG_2.MOV": "indexed",
        "Camera/broken.jpg": "skipped:unsupported or unrecognised format",
        "Camera/notes.txt": "skipped:unsupported file type (.txt)",  # without a worker
        "Exports/a.jpg": "indexed", "Exports/a.jpg.xmp": "sidecar",
    }
    # A file skipped with the same size and mtime is not read again; an unchanged one costs a stat.
    assert again["Camera/broken.jpg"] == "unchanged" and again["Camera/IMG_1.jpg"] == "unchanged"

    def rows(root: Path) -> dict:
        prefix = str(root) + os.sep
        return {
            "skipped": sorted((s["path"].removeprefix(prefix), s["reason"]) for s in store_items.skipped(db)
                              if s["path"].startswith(prefix)),
            "media": sorted((m["path"].removeprefix(prefix), m["kind"], m["taken_at"], m["live_photo"])
                            for m in store_items.media(db) if m["path"].startswith(prefix)),
            "sidecars": sorted(os.path.relpath(s["path"], root) for s in store_sidecars.listing(db)
                               if s["path"].startswith(prefix)),
        }

    assert rows(watched) == rows(walked)
    assert [p for p, _ in rows(walked)["skipped"]] == ["Camera/.syncthing.IMG_3.jpg.tmp", "Camera/broken.jpg",
                                                       "Camera/notes.txt"]
    db.close()
