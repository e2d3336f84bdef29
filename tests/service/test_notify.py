"""The opt-in digest (`[notify] urls`): sent through apprise to a fake endpoint on loopback, real DB, real files.

The endpoint is http.server in a thread; apprise's ``json://127.0.0.1:PORT/`` POSTs each notification to it
as JSON (title, message, attachments as base64), so the tests see exactly what would leave the machine.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from homeroll.daemon import store
from homeroll.daemon.service import notify
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store import notify as store_notify
from tests.conftest import HOMEROLL, REPO, run_cli
from tests.service.helpers import ServiceProcess, wait_for

NONET = REPO / "tests" / "ingest" / "nonet"


class Endpoint:
    """A loopback HTTP server that records every POST and answers with the next of ``statuses`` (the last
    one repeats), after ``delay`` seconds."""

    def __init__(self, statuses=(200,), delay: float = 0.0) -> None:
        self.statuses, self.delay = list(statuses), delay
        self.posts: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                endpoint.posts.append(json.loads(body))
                time.sleep(endpoint.delay)
                status = endpoint.statuses.pop(0) if len(endpoint.statuses) > 1 else endpoint.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    made = []

    def _make(*statuses, delay: float = 0.0) -> Endpoint:
        made.append(Endpoint(statuses or (200,), delay))
        return made[-1]

    yield _make
    for one in made:
        one.close()


def _thumb(cfg, name: str, seed: int) -> str:
    """A real thumbnail file in the data dir, with GPS in its EXIF (which must never leave the machine)."""
    rel = f"thumbs/{name[:2]}/{name}.jpg"
    path = cfg.data_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (640, 480), ((seed * 40) % 256, 120, 200))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (38.0, 42.0, 0.0)}  # GPSInfo
    img.save(path, "JPEG", exif=exif)
    return rel


def _suggestions(cfg, titles: list[str], *, picks: int = 4) -> list[int]:
    """Suggestions as selection leaves them: items with thumbnails, picks, a cover and a reason."""
    db = store.connect(cfg.db_path)
    library = str(cfg.libraries[0])
    ids = []
    try:
        for n, title in enumerate(titles):
            key = f"{len(titles)}-{n}-{time.monotonic_ns()}"
            items = []
            for k in range(picks + 1):
                record = {"hash": f"h{key}-{k}".replace("-", ""), "kind": "photo", "width": 640, "height": 480,
                          "taken_at_local": f"2024-08-{10 + n:02d}T12:00:00", "thumb": _thumb(cfg, f"t{key}{k}", k)}
                item_id, _ = store_items.save_item(db, record, library, f"DCIM/secret-folder/IMG_{key}_{k}.jpg",
                                                   1000, 1)
                items.append(item_id)
            day = f"2024-08-{10 + n:02d}"
            ids.append(store_memories.insert_memory(
                db, f"trip:{key}", {"kind": "trip", "title": title, "start": day, "end": day,
                                    "reason": f"a trip of {picks} photos", "cover_item": items[0]},
                items, items[:picks]))
    finally:
        db.close()
    return ids


def _db(cfg):
    return store.connect(cfg.db_path)


def _notified(cfg) -> set[int]:
    db = _db(cfg)
    try:
        return store_notify.notified_ids(db)
    finally:
        db.close()


def test_the_digest_reaches_a_loopback_endpoint_once_with_titles_and_counts_and_no_paths(make_config, endpoint):
    fake = endpoint()
    cfg = make_config(notify={"urls": [fake.url]})
    ids = _suggestions(cfg, ["Lisbon & Sintra", "Grandma's birthday", "A Sunday at the lake"])
    db = _db(cfg)
    store_memories.rename(db, ids[1], "Oma turns 80")  # the household's title wins over the automatic one
    db.close()
    out = json.loads(run_cli(cfg.path, "notify", "--json").stdout)
    assert out["sent"] and out["count"] == 3
    assert len(fake.posts) == 1
    post = fake.posts[0]
    assert post["title"] == "3 new memories are waiting"
    message = post["message"]
    assert message.startswith("3 new memories are waiting:")
    for title in ("Lisbon & Sintra", "Oma turns 80", "A Sunday at the lake"):
        assert f"- {title}, 2024-08-1" in message
    assert "Grandma's birthday" not in message
    assert message.count("4 photos: a trip of 4 photos") == 3
    assert message.rstrip().endswith("Open them with `homeroll tui`.")
    for secret in (str(cfg.data_dir), str(cfg.libraries[0]), "secret-folder", "thumbs/", ".jpg"):
        assert secret not in message
    assert post["attachments"] == []
    assert _notified(cfg) == set(ids)
    # Nothing new: nothing is sent. A new suggestion is the only one the next digest names.
    assert "nothing new" in run_cli(cfg.path, "notify").stdout
    assert len(fake.posts) == 1
    (later,) = _suggestions(cfg, ["Picnic in the park"])
    run_cli(cfg.path, "notify")
    assert len(fake.posts) == 2
    assert fake.posts[1]["title"] == "1 new memory is waiting"
    assert "Picnic in the park" in fake.posts[1]["message"] and "Lisbon" not in fake.posts[1]["message"]
    assert _notified(cfg) == {*ids, later}


def test_a_long_digest_lists_ten_and_counts_the_rest(make_config):
    cfg = make_config()
    _suggestions(cfg, [f"Day {n}" for n in range(13)], picks=1)
    db = _db(cfg)
    digest = notify.build_digest(store_notify.waiting(db))
    db.close()
    lines = digest.body.splitlines()
    assert lines[0] == "13 new memories are waiting:"
    assert sum(line.startswith("- Day ") for line in lines) == 10
    assert "and 3 more" in lines and "1 photo: a trip of 1 photos" in digest.body
    assert len(digest.ids) == 13  # all of them are told about, listed or not


def test_a_failing_endpoint_is_a_warning_without_the_password_and_is_retried(make_config, endpoint, caplog):
    fake = endpoint(500)
    url = fake.url.replace("json://", "json://anna:s3cret-pass@")
    cfg = make_config(notify={"urls": [url], "retry_minutes": 7})
    ids = _suggestions(cfg, ["Lisbon & Sintra", "A Sunday at the lake"])
    waits: list[float] = []
    db = _db(cfg)
    digest = notify.build_digest(store_notify.waiting(db))
    with caplog.at_level(logging.WARNING, logger="homeroll.daemon.service.notify"):
        sent = notify.deliver(cfg, digest, wait=lambda s: waits.append(s) and False,
                              reread=lambda: notify.build_digest(store_notify.waiting(db)),
                              mark=lambda done: store_notify.mark_notified(db, done))
    db.close()
    assert sent is False
    assert len(fake.posts) == 1 + notify.RETRIES and waits == [7 * 60.0] * notify.RETRIES
    text = caplog.text
    assert re.search(r"json://127\.0\.0\.1:\d+ did not take the digest", text), text
    assert "trying again in 7 minutes (retry 1 of 3)" in text and "not sent after 4 tries" in text
    assert "s3cret" not in text and "anna" not in text
    assert _notified(cfg) == set()  # they wait for the next digest
    # An endpoint back on the second try: the retry delivers and marks them.
    fake.statuses = [500, 200]
    db = _db(cfg)
    assert notify.deliver(cfg, notify.build_digest(store_notify.waiting(db)), wait=lambda s: False,
                          reread=lambda: notify.build_digest(store_notify.waiting(db)),
                          mark=lambda done: store_notify.mark_notified(db, done))
    db.close()
    assert _notified(cfg) == set(ids)


def test_a_url_apprise_cannot_use_is_one_warning_and_the_cli_exits_2(make_config, caplog):
    cfg = make_config(notify={"urls": ["nosuchservice://bob:hunter2@example.org/x"]})
    _suggestions(cfg, ["Lisbon & Sintra"])
    proc = run_cli(cfg.path, "notify", check=False)
    assert proc.returncode == 2, proc.stderr
    assert "apprise cannot use the URL nosuchservice://" in proc.stderr
    assert "could not be sent to nosuchservice://" in proc.stderr
    assert "hunter2" not in proc.stderr and "Traceback" not in proc.stderr
    assert _notified(cfg) == set()


def test_the_job_never_blocks_the_writer_and_marks_from_its_own_thread(make_config, endpoint):
    fake = endpoint(200, delay=2.0)
    cfg = make_config(notify={"urls": [fake.url]})
    ids = _suggestions(cfg, ["Lisbon & Sintra"])
    db = _db(cfg)
    started = time.monotonic()
    result = notify.run_notify_job(cfg, db)
    took = time.monotonic() - started
    assert took < 1.0, f"the job waited {took:.1f} s for the network"
    assert "sending the digest in the background" in result["summary"]
    assert "still being sent" in notify.run_notify_job(cfg, db)["summary"]  # one sender at a time
    wait_for(lambda: _notified(cfg) == set(ids), 20, what="the sender thread marking the memories")
    wait_for(lambda: not notify._sender.is_alive(), 5, what="the sender thread ending")
    assert "nothing new" in notify.run_notify_job(cfg, db)["summary"]
    db.close()
    assert len(fake.posts) == 1


@pytest.mark.parametrize("attach", [False, True])
def test_covers_are_attached_only_with_attach_cover(make_config, endpoint, attach):
    fake = endpoint()
    cfg = make_config(notify={"urls": [fake.url], "attach_cover": attach})
    ids = _suggestions(cfg, ["Lisbon & Sintra", "A Sunday at the lake"])
    run_cli(cfg.path, "notify")
    attachments = fake.posts[0]["attachments"]
    if not attach:
        assert attachments == []
        return
    assert sorted(a["filename"] for a in attachments) == sorted(f"memory-{i}.jpg" for i in ids)
    for one in attachments:
        img = Image.open(io.BytesIO(base64.b64decode(one["base64"])))
        assert img.format == "JPEG" and max(img.size) <= notify.COVER_SIDE
        assert not img.getexif(), "the cover must not carry EXIF (GPS) off the machine"


def test_dry_run_prints_the_digest_without_sending_or_marking(make_config, endpoint):
    fake = endpoint()
    cfg = make_config(notify={"urls": [fake.url]})
    _suggestions(cfg, ["Lisbon & Sintra"])
    proc = run_cli(cfg.path, "notify", "--dry-run")
    assert "1 new memory is waiting:" in proc.stdout and "Lisbon & Sintra" in proc.stdout
    assert "dry run" in proc.stderr
    out = json.loads(run_cli(cfg.path, "notify", "--dry-run", "--json").stdout)
    assert (out["sent"], out["dry_run"], out["count"]) == (False, True, 1)
    assert [u.split(":")[0] + ":" + u.split(":")[1] for u in out["to"]] == ["json://127.0.0.1"]
    assert fake.posts == [] and _notified(cfg) == set()


def test_without_urls_the_command_is_one_line_and_exit_2(make_config):
    cfg = make_config()
    for args in (["notify"], ["notify", "--dry-run"]):
        proc = run_cli(cfg.path, *args, check=False)
        assert proc.returncode == 2
        assert proc.stderr.strip() == f"homeroll: notifications are off: set [notify] urls in {cfg.path}"


CHILD = """
import sys
from homeroll.daemon import config as config_mod, store
from homeroll.daemon.cli import COMMAND_MODULES
import importlib
for name in COMMAND_MODULES:
    importlib.import_module(f"homeroll.daemon.cli.{name}")
from homeroll.daemon.service import jobs
cfg = config_mod.load(sys.argv[1])
scheduler = jobs.make_scheduler(cfg)
scheduled = jobs.schedule_jobs(scheduler, cfg, lambda name: None)
db = store.connect(cfg.db_path)
result = jobs.run_step("notify", cfg, db)
print(sorted(scheduled), result["summary"], "apprise" in sys.modules)
"""


def test_the_default_never_schedules_the_digest_nor_imports_apprise(make_config, tmp_path):
    cfg = make_config()
    _suggestions(cfg, ["Lisbon & Sintra"])
    net_log = tmp_path / "net.log"
    env = {**os.environ, "PYTHONPATH": f"{NONET}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HOMEROLL_NET_LOG": str(net_log)}
    proc = subprocess.run([HOMEROLL[0], "-c", CHILD, str(cfg.path)], capture_output=True, text=True, env=env,
                          timeout=120, check=True)
    scheduled, rest = proc.stdout.split("]", 1)
    assert "notify" not in scheduled
    assert rest.strip() == "off ([notify] urls is empty) False"
    assert not net_log.exists(), net_log.read_text()


def test_a_running_service_delivers_the_digest_on_its_cron(service_config, endpoint, tmp_path):
    fake = endpoint()
    cfg, _, _ = service_config("polling")
    cfg.sections["notify"].update(urls=[fake.url], cron="* * * * *")
    from homeroll.daemon import config as config_mod

    config_mod.save(cfg)
    ids = _suggestions(cfg, ["Lisbon & Sintra", "A Sunday at the lake"])
    with ServiceProcess(cfg.path, tmp_path, log_level="info") as svc:
        svc.wait_ready()
        wait_for(lambda: "notify: a digest of new suggestions goes to json://127.0.0.1" in svc.log(), 10,
                 what="the digest's schedule logged at start")
        wait_for(lambda: fake.posts, 75, interval=0.5, what="a digest from the service")
        wait_for(lambda: _notified(cfg) == set(ids), 15, what="the memories marked notified")
        assert fake.posts[0]["title"] == "2 new memories are waiting"
        assert svc.stop() == 0
        assert "Traceback" not in svc.log()
    assert len(fake.posts) == 1
