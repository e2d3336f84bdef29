"""A root that vanishes, is replaced by an empty folder, or comes back: nothing under it is marked missing."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import cli_json
from tests.service.helpers import ServiceProcess, jpeg_bytes, wait_for, write_file


@pytest.mark.parametrize("mode", ["inotify", "polling"])
def test_a_vanished_or_emptied_root_is_offline_and_nothing_is_marked_missing(service_config, tmp_path, mode):
    cfg, lib, db = service_config(mode)
    files = {"a.jpg": jpeg_bytes(1), "b.jpg": jpeg_bytes(2), "sub/c.jpg": jpeg_bytes(3)}
    for rel, data in files.items():
        write_file(lib / rel, data)

    def root_state():
        rows = db.query("SELECT state FROM roots WHERE path = ?", (str(lib),))
        return rows[0][0] if rows else None

    def missing():
        return db.count("SELECT COUNT(*) FROM paths WHERE missing_since IS NOT NULL") + \
            db.count("SELECT COUNT(*) FROM items WHERE state != 'present'")

    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        wait_for(lambda: len(db.live_paths()) == 3, 20, what="the library indexed")

        shutil.rmtree(lib)  # the disk is unplugged and its mount point removed
        wait_for(lambda: root_state() == "missing", 15, what="the root reported missing")
        wait_for(lambda: "nothing under it is marked missing" in svc.log(), 10, what="the log line")
        assert missing() == 0

        lib.mkdir()  # an empty folder where the mount was
        wait_for(lambda: root_state() == "offline", 15, what="the empty root reported offline")
        status = cli_json(cfg.path, "status", "--json")
        assert [r["state"] for r in status["roots"]] == ["offline"]
        assert missing() == 0
        assert len(db.live_paths()) == 3

        for rel, data in files.items():  # the disk is back
            write_file(lib / rel, data)
        wait_for(lambda: root_state() == "online", 20, what="the root back online")
        write_file(lib / "new-after-return.jpg", jpeg_bytes(4))  # and it is watched again
        wait_for(lambda: len(db.live_paths()) == 4, 20, what="a new file after the return")
        assert missing() == 0
        assert db.count("SELECT COUNT(*) FROM items") == 4
        assert svc.stop() == 0
