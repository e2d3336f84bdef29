"""With the default config, a full scan (geocoding, time zones, thumbnails, video) opens no network socket."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from pytest_socket import disable_socket, enable_socket

from homeroll.daemon import store
from homeroll.daemon.ingest.pipeline import Indexer
from tests.conftest import cli_json, run_cli

pytestmark = pytest.mark.corpus

GEOTAGGED = [
    "exiftool/images/Google.jpg",
    "exif-samples/jpg/mobile/HMD_Nokia_8.3_5G.jpg",
    "exif-samples/jpg/gps/DSCN0010.jpg",
    "exif-samples/heic/IMG_5195.HEIC",
    "pillow_heif/heif_other/pug.heic",
    "face_recognition/examples/short_hamilton_clip.mp4",
]


@pytest.fixture
def geotagged_library(corpus, make_config):
    cfg = make_config()
    for rel in GEOTAGGED:
        shutil.copy2(corpus / rel, cfg.libraries[0] / Path(rel).name)
    return cfg


def test_scan_in_process_opens_no_socket(geotagged_library):
    cfg = geotagged_library
    db = store.connect(cfg.db_path)
    disable_socket(allow_unix_socket=True)  # worker pipes are AF_UNIX socketpairs; nothing else is allowed
    try:
        with Indexer(cfg, db) as indexer:
            stats = indexer.scan()
    finally:
        enable_socket()
    assert stats.new_items == len(GEOTAGGED)
    assert db.execute("SELECT COUNT(*) FROM places").fetchone()[0] >= 4


def test_scan_process_and_workers_open_no_socket(geotagged_library, tmp_path):
    log = tmp_path / "net.log"
    env = {"PYTHONPATH": f"{Path(__file__).parent / 'nonet'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HOMEROLL_NET_LOG": str(log)}
    run_cli(geotagged_library.path, "scan", env=env)
    assert not log.exists(), log.read_text()
    media = cli_json(geotagged_library.path, "media", "--json")
    assert {m["place"]["city"] for m in media if m["place"]} >= {"Madrid", "Helsinki", "Arezzo"}


def test_the_guard_itself_catches_a_connection(tmp_path):
    """The audit hook must be able to fail: a deliberate connection attempt is logged."""
    import subprocess
    import sys

    log = tmp_path / "net.log"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent / "nonet"), "HOMEROLL_NET_LOG": str(log)}
    subprocess.run([sys.executable, "-c", "import socket\ntry:\n socket.create_connection(('127.0.0.1', 9))\nexcept OSError: pass"],
                   env=env, check=True)
    assert log.exists() and "socket" in log.read_text()
