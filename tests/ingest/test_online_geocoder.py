"""The opt-in online geocoder (a self-hosted Nominatim), against a fake Nominatim on 127.0.0.1:
used only when configured, asked once per place (cached in SQLite), and never fatal when it is down."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from homeroll.daemon import store
from homeroll.daemon.ingest.pipeline import Indexer
from homeroll.demo.media import scene, write_jpeg
from tests.conftest import cli_json


class _Nominatim(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).requests.append(self.path)
        body = json.dumps({"lat": "38.71", "lon": "-9.14", "display_name": "Alfama, Lisboa",
                           "address": {"city": "Lisboa", "state": "Lisboa", "country": "Portugal",
                                       "country_code": "pt"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def nominatim():
    _Nominatim.requests = []
    server = HTTPServer(("127.0.0.1", 0), _Nominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _photos(lib, n=3):
    for i in range(n):
        write_jpeg(lib / f"p{i}.jpg", scene(40 + i, (200, 150)), taken=datetime(2024, 8, 12, 10, i),
                   offset="+01:00", gps=(38.7110, -9.1372))


def test_configured_provider_is_asked_once_per_place(make_config, nominatim):
    cfg = make_config(geocoder={"provider": "nominatim", "url": nominatim, "min_delay_seconds": 0})
    _photos(cfg.libraries[0])
    db = store.connect(cfg.db_path)
    with Indexer(cfg, db, workers=1) as indexer:
        indexer.scan()
    assert len(_Nominatim.requests) == 1 and _Nominatim.requests[0].startswith("/reverse")
    places = {m["place"]["city"] for m in cli_json(cfg.path, "media", "--json")}
    assert places == {"Lisboa"}
    # a new process (fresh in-memory cache) answers from the SQLite cache, without asking again
    (cfg.libraries[0] / "more").mkdir()
    write_jpeg(cfg.libraries[0] / "more" / "q.jpg", scene(50, (200, 150)), taken=datetime(2024, 8, 13, 9, 0),
               gps=(38.7111, -9.1373))
    with Indexer(cfg, db, workers=1) as indexer:
        indexer.scan()
    assert len(_Nominatim.requests) == 1
    db.close()


def test_unreachable_provider_falls_back_to_offline_names(make_config):
    cfg = make_config(geocoder={"provider": "photon", "url": "http://127.0.0.1:9", "min_delay_seconds": 0})
    _photos(cfg.libraries[0], 1)
    db = store.connect(cfg.db_path)
    with Indexer(cfg, db, workers=1) as indexer:
        stats = indexer.scan()
    assert stats.new_items == 1
    assert cli_json(cfg.path, "media", "--json")[0]["place"]["city"] == "Lisbon"
    db.close()
