"""Files arriving the way sync tools write them, watched by a real `homeroll run` (inotify and polling)."""

from __future__ import annotations

import os
import time

import pytest

from tests.service.helpers import ServiceProcess, jpeg_bytes, wait_for, write_file

MODES = ["inotify", "polling"]


@pytest.mark.parametrize("mode", MODES)
def test_sync_tool_temp_names_never_become_items(service_config, tmp_path, mode):
    cfg, lib, db = service_config(mode)
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        # Syncthing: .syncthing.NAME.tmp, rename into place, then the mtime is set to the phone's.
        tmp = lib / "Camera" / ".syncthing.IMG_0001.jpg.tmp"
        write_file(tmp, jpeg_bytes(1))
        os.rename(tmp, lib / "Camera" / "IMG_0001.jpg")
        # rsync: .NAME.XXXXXX then rename.
        write_file(lib / "Camera" / ".IMG_0002.jpg.a8Kq2z", jpeg_bytes(2))
        os.rename(lib / "Camera" / ".IMG_0002.jpg.a8Kq2z", lib / "Camera" / "IMG_0002.jpg")
        # rclone: NAME.XXXX.partial; Nextcloud: NAME.part.
        write_file(lib / "Camera" / "IMG_0003.jpg.f3e1a9.partial", jpeg_bytes(3))
        os.rename(lib / "Camera" / "IMG_0003.jpg.f3e1a9.partial", lib / "Camera" / "IMG_0003.jpg")
        write_file(lib / "Camera" / "IMG_0004.jpg.part", jpeg_bytes(4))
        time.sleep(0.3)
        os.utime(lib / "Camera" / "IMG_0001.jpg", (1_600_000_000, 1_600_000_000))  # Syncthing's later mtime
        os.rename(lib / "Camera" / "IMG_0004.jpg.part", lib / "Camera" / "IMG_0004.jpg")

        expected = [f"Camera/IMG_000{i}.jpg" for i in range(1, 5)]
        wait_for(lambda: db.live_paths() == expected, 20, what="the four files indexed")
        first = db.query("SELECT item_id, mtime_ns FROM paths WHERE relpath = 'Camera/IMG_0001.jpg'")[0]
        assert first[1] == 1_600_000_000 * 10**9  # indexed after the mtime was set, or re-stamped after it

        # A later mtime change alone (same bytes) does not make a second item.
        os.utime(lib / "Camera" / "IMG_0001.jpg", (1_600_000_100, 1_600_000_100))
        wait_for(lambda: db.query("SELECT mtime_ns FROM paths WHERE relpath = 'Camera/IMG_0001.jpg'")
                 == [(1_600_000_100 * 10**9,)], 15, what="the new mtime recorded")
        assert db.count("SELECT COUNT(*) FROM items") == 4
        assert db.query("SELECT item_id FROM paths WHERE relpath = 'Camera/IMG_0001.jpg'")[0][0] == first[0]
        for name in ("%syncthing%", "%.a8Kq2z", "%.partial", "%.part"):
            assert not db.seen(name), f"a temp file {name} reached the indexer"
        assert svc.stop() == 0


@pytest.mark.parametrize("mode", MODES)
def test_growing_file_is_never_indexed_early(service_config, tmp_path, mode):
    """An SMB/NFS client writes the final name in place for ~10 s: nothing is indexed until it is done."""
    cfg, lib, db = service_config(mode, stable_seconds=3.0)
    data = jpeg_bytes(7, size=256)
    data = data + b"\0" * max(0, 20_000 - len(data))  # pad after EOI so there is something to grow
    pieces = 20 if mode == "inotify" else 12  # 10 s of growth (6 s in polling mode, to keep the suite short)
    step = len(data) // pieces + 1
    chunks = [data[i:i + step] for i in range(0, len(data), step)]
    target = lib / "DCIM" / "VID_growing.jpg"
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        wait_for(lambda: db.count("SELECT COUNT(*) FROM roots WHERE last_scan_at IS NOT NULL"), 15,
                 what="the start-up reconcile")
        target.parent.mkdir(parents=True)
        with open(target, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                fh.flush()
                finished = time.monotonic()
                assert not db.seen("DCIM/VID_growing.jpg"), "a half-written file reached the indexer"
                time.sleep(0.5)
        assert not db.seen("DCIM/VID_growing.jpg")
        wait_for(lambda: db.live_paths() == ["DCIM/VID_growing.jpg"], 15, what="the finished file indexed")
        latency = time.monotonic() - finished
        assert latency >= 3.0 - 0.2, "indexed before the stability window had passed"
        size = db.query("SELECT size FROM paths WHERE relpath = 'DCIM/VID_growing.jpg'")[0][0]
        assert size == len(data)
        assert svc.stop() == 0


@pytest.mark.parametrize("mode", MODES)
def test_moves_keep_the_item_and_deletes_wait_for_the_grace_period(service_config, tmp_path, mode):
    # 4 s of grace: long enough to see "missing", short enough to see the purge.
    cfg, lib, db = service_config(mode, missing_grace_days=4 / 86400)
    write_file(lib / "keep.jpg", jpeg_bytes(10))
    write_file(lib / "a" / "move-me.jpg", jpeg_bytes(11))
    write_file(lib / "a" / "delete-me.jpg", jpeg_bytes(12))
    write_file(lib / "album" / "inside.jpg", jpeg_bytes(13))
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        wait_for(lambda: len(db.live_paths()) == 4, 20, what="the start-up reconcile")
        before = dict((r[0], (r[1], r[2])) for r in db.query(
            "SELECT p.relpath, i.id, i.indexed_at FROM paths p JOIN items i ON i.id = p.item_id"))

        os.makedirs(lib / "b")
        os.rename(lib / "a" / "move-me.jpg", lib / "b" / "moved.jpg")
        os.rename(lib / "album", lib / "album-2024")
        wait_for(lambda: db.live_paths() == ["a/delete-me.jpg", "album-2024/inside.jpg", "b/moved.jpg", "keep.jpg"],
                 20, what="the moves seen")
        after = dict((r[0], (r[1], r[2])) for r in db.query(
            "SELECT p.relpath, i.id, i.indexed_at FROM paths p JOIN items i ON i.id = p.item_id"))
        assert after["b/moved.jpg"] == before["a/move-me.jpg"]  # same item, not analysed again
        assert after["album-2024/inside.jpg"] == before["album/inside.jpg"]
        assert "a/move-me.jpg" not in after and "album/inside.jpg" not in after

        os.unlink(lib / "a" / "delete-me.jpg")
        wait_for(lambda: db.query("SELECT i.state FROM paths p JOIN items i ON i.id = p.item_id "
                                  "WHERE p.relpath = 'a/delete-me.jpg' AND p.missing_since IS NOT NULL")
                 == [("missing",)], 15, what="the deleted file marked missing (not purged yet)")
        assert db.count("SELECT COUNT(*) FROM items") == 4
        wait_for(lambda: db.count("SELECT COUNT(*) FROM items") == 3, 20, what="the purge after the grace period")
        assert db.live_paths() == ["album-2024/inside.jpg", "b/moved.jpg", "keep.jpg"]
        assert db.count("SELECT COUNT(*) FROM paths") == 3
        assert svc.stop() == 0
