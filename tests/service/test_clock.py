"""A wrong clock (a Pi without an RTC boots in 1970, or months back, then NTP jumps it forward): nothing is
marked missing or purged for it, no capture date is "in the future" for it, no on-this-day memory is made
for a "today" before the newest photo, and the service notices the jump.

Clocks are injected (``now=``, ``wall=``/``mono=``); the real-process test does not fake the system clock
but gives the DB a high water mark ahead of it, which is exactly what a clock that went back looks like.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from homeroll.daemon import store
from homeroll.daemon.ingest import folderdate, timeinfo, xmp
from homeroll.daemon.ingest.pipeline import Indexer
from homeroll.daemon.ingest.workers import WorkerPool
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.service import clockwatch
from homeroll.daemon.service.clockwatch import JUMP_AT_KEY, ClockWatch, describe, record_jump
from homeroll.daemon.store import clock as store_clock
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories
from homeroll.demo.media import scene, write_jpeg
from tests.conftest import cli_json, run_cli
from tests.memories.conftest import TODAY, roll_db, selection_config
from tests.service.helpers import ServiceProcess, jpeg_bytes, wait_for, write_file

EPOCH = datetime(1970, 1, 1, 0, 0, 30, tzinfo=UTC)
#: The last time the library saw a right clock: after any scan a test makes (those record the real time).
LAST_SEEN = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
YEARS = round((LAST_SEEN - EPOCH).days / 365.25)  # 57 in late 2026


@pytest.fixture(autouse=True)
def _no_floor_left_behind():
    """The worker-side floor is process state: no test leaves one for the next."""
    yield
    timeinfo.use_clock_floor(None)
    store_clock.use_sync_check(None)


@pytest.fixture
def indexed(make_config):
    """A real library of three photos, scanned into a real DB."""
    cfg = make_config()
    lib = cfg.libraries[0]
    for k in range(3):
        write_jpeg(lib / f"p{k}.jpg", scene(k, (160, 120)), taken=datetime(2025, 5, 1 + k, 12))
    db = store.connect(cfg.db_path)
    with Indexer(cfg, db, workers=1) as indexer:
        indexer.scan()
    yield cfg, db
    db.close()


# -- the future-date rule --------------------------------------------------------------------------------

def test_a_2026_photo_is_no_future_date_when_the_worker_clock_reads_1970():
    naive_epoch = datetime(1970, 1, 1, 0, 1)
    taken = datetime(2026, 11, 28, 15, 30)  # last week, when this was written
    # the control: with the system clock as the only judge, last week's photo is decades in the future
    assert not timeinfo.plausible(taken, naive_epoch)
    assert folderdate.parse_folder("2026-11 Lisbon", naive_epoch)[0] is None
    timeinfo.use_clock_floor(LAST_SEEN.isoformat())
    assert timeinfo.plausible(taken, naive_epoch)
    assert xmp.plausible_human(taken, naive_epoch)
    assert xmp.parse_xmp_date("2026-11-28T15:30:00+01:00", "xmp:CreateDate", naive_epoch) is not None
    assert folderdate.parse_folder("2026-11 Lisbon", naive_epoch)[0].precision == "month"
    # garbage is still garbage: a camera's 2099 default, and the epoch itself
    assert not timeinfo.plausible(datetime(2099, 1, 1), naive_epoch)
    assert not xmp.plausible_human(datetime(1970, 1, 1), naive_epoch, offset_min=0)
    # a right clock keeps the usual rule: a day ahead at most
    right = datetime.now().replace(microsecond=0) + timedelta(hours=2)  # after the floor, whatever today is
    assert not timeinfo.plausible(right + timedelta(days=2), right)


def test_the_analyse_worker_reads_the_floor_from_its_settings(tmp_path):
    """A real worker process; its clock is right, so the floor given is ahead of it, as a clock gone back sees."""
    now = datetime.now()
    ahead = (now + timedelta(days=200)).replace(microsecond=0)
    photo = write_jpeg(tmp_path / "lib" / "ahead.jpg", scene(3, (160, 120)), taken=ahead)
    base = {"home_tz": "Europe/Berlin", "data_dir": str(tmp_path / "data"), "thumbnail_size": 64,
            "thumbnails": False, "max_image_pixels": 50_000_000}
    floor = (datetime.now(UTC) + timedelta(days=400)).isoformat(timespec="seconds")
    sources = {}
    for name, settings in (("without", base), ("with", {**base, "clock_floor": floor})):
        pool = WorkerPool(settings, 1, 60.0)
        try:
            [[(_, _, result)]] = list(pool.batches([(str(photo), "ahead.jpg", None)]))
        finally:
            pool.close()
        record = result["ok"]["record"]
        sources[name] = (record["taken_at_source"], record["taken_at_local"])
    assert sources["without"][0] == "mtime"  # the control: "200 days ahead" is the future to a right clock
    assert sources["with"] == ("exif+home_tz", ahead.isoformat())


# -- missing and purge -----------------------------------------------------------------------------------

def test_nothing_is_marked_missing_or_purged_while_the_clock_is_behind(indexed, caplog):
    cfg, db = indexed
    assert store_clock.missing_allowed(db, LAST_SEEN)  # a right clock: the mark is recorded
    assert store_clock.high_water(db) == LAST_SEEN
    store_items.mark_missing(db, str(cfg.libraries[0]), ["p0.jpg"])
    db.execute("UPDATE paths SET missing_since = ? WHERE relpath = 'p0.jpg'",
               [(LAST_SEEN - timedelta(days=90)).isoformat(timespec="seconds")])
    with caplog.at_level(logging.WARNING, logger="homeroll.daemon.store.clock"):
        for minute in range(3):  # 1970, and fake-hwclock's four months back
            for behind in (EPOCH + timedelta(minutes=minute), LAST_SEEN - timedelta(days=120)):
                assert store_clock.clock_is_behind(db, behind)
                assert not store_clock.missing_allowed(db, behind)
                assert store_clock.purge_cutoff(db, 30, behind) is None
    warnings = [r.getMessage() for r in caplog.records if "behind the last time" in r.getMessage()]
    assert len(warnings) == 1, warnings  # once, not per file
    assert "system clock reads 1970-01-01" in warnings[0]
    assert LAST_SEEN.isoformat(timespec="seconds") in warnings[0]
    assert store_clock.high_water(db) == LAST_SEEN  # a clock in 1970 never lowers it
    # after the jump: the 90-day-old missing path goes, as it should with a right clock
    after = LAST_SEEN + timedelta(minutes=3)
    assert store_clock.missing_allowed(db, after)
    cutoff = store_clock.purge_cutoff(db, 30, after)
    assert cutoff is not None and store_items.purge_missing(db, cutoff) == 1


def test_a_new_db_in_1970_is_behind_the_release_floor(memdb):
    assert store_clock.high_water(memdb) is None
    assert store_clock.clock_is_behind(memdb, EPOCH)
    assert store_clock.trusted_now(memdb, EPOCH) == store_clock.FLOOR
    assert store_clock.purge_cutoff(memdb, 30, EPOCH) is None
    assert store_clock.high_water(memdb) is None  # nothing learnt from a wrong clock
    assert not store_clock.clock_is_behind(memdb, LAST_SEEN)


def test_the_high_water_moves_at_most_every_few_minutes(memdb):
    store_clock.observe(memdb, LAST_SEEN)
    store_clock.observe(memdb, LAST_SEEN + timedelta(minutes=1))
    assert store_clock.high_water(memdb) == LAST_SEEN
    # a few minutes back is NTP slewing or the mark's own lag, not a wrong clock
    assert not store_clock.clock_is_behind(memdb, LAST_SEEN - timedelta(minutes=5))
    store_clock.observe(memdb, LAST_SEEN + timedelta(minutes=6))
    assert store_clock.high_water(memdb) == LAST_SEEN + timedelta(minutes=6)


def test_a_1970_missing_stamp_from_before_the_fix_gets_a_fresh_grace_period(indexed):
    cfg, db = indexed
    store_items.mark_missing(db, str(cfg.libraries[0]), ["p1.jpg"])
    db.execute("UPDATE paths SET missing_since = '1970-01-01T00:02:11+00:00' WHERE relpath = 'p1.jpg'")
    cutoff = store_clock.purge_cutoff(db, 30, LAST_SEEN)
    assert store_items.purge_missing(db, cutoff) == 0
    [(stamp,)] = db.execute("SELECT missing_since FROM paths WHERE relpath = 'p1.jpg'").fetchall()
    assert stamp == LAST_SEEN.isoformat(timespec="seconds")
    later = LAST_SEEN + timedelta(days=31)
    assert store_items.purge_missing(db, store_clock.purge_cutoff(db, 30, later)) == 1


AHEAD = datetime(2038, 1, 1, tzinfo=UTC)


def _missing_since(db, relpath: str, stamp: datetime | None = None) -> str:
    if stamp is not None:
        db.execute("UPDATE paths SET missing_since = ? WHERE relpath = ?", [stamp.isoformat(timespec="seconds"), relpath])
    return db.execute("SELECT missing_since FROM paths WHERE relpath = ?", [relpath]).fetchone()[0]


def test_a_clock_put_right_while_the_service_was_down_is_accepted_once_synchronised(indexed, caplog):
    """The clock read 2038 (the mark says so, and p0 was stamped missing then); now it is right."""
    cfg, db = indexed
    store_clock.observe(db, AHEAD)
    store_items.mark_missing(db, str(cfg.libraries[0]), ["p0.jpg"])
    _missing_since(db, "p0.jpg", AHEAD)
    for synced in (None, False):  # nobody says it is right: behind, and status can say so
        assert not store_clock.missing_allowed(db, LAST_SEEN, synchronized=synced)
    assert store_items.kv_get(db, store_clock.BEHIND_KEY) == AHEAD.isoformat(timespec="seconds")
    assert not store_clock.missing_allowed(db, EPOCH, synchronized=True)  # 1970 is never right, whoever says so
    with caplog.at_level(logging.WARNING, logger="homeroll.daemon.store.clock"):
        assert store_clock.purge_cutoff(db, 30, LAST_SEEN, synchronized=True) is not None
        assert store_clock.missing_allowed(db, LAST_SEEN + timedelta(minutes=1), synchronized=True)
    accepted = [r.getMessage() for r in caplog.records if "the kernel says it is synchronised" in r.getMessage()]
    assert len(accepted) == 1 and "2038-01-01" in accepted[0], caplog.text
    assert store_clock.high_water(db) == LAST_SEEN and store_items.kv_get(db, store_clock.BEHIND_KEY) is None
    assert store_clock.worker_floor(db, LAST_SEEN) == LAST_SEEN.isoformat(timespec="seconds")
    assert _missing_since(db, "p0.jpg") == LAST_SEEN.isoformat(timespec="seconds")  # its grace starts now
    assert store_items.purge_missing(db, store_clock.purge_cutoff(db, 30, LAST_SEEN + timedelta(days=29))) == 0
    assert store_items.purge_missing(db, store_clock.purge_cutoff(db, 30, LAST_SEEN + timedelta(days=31))) == 1


def test_the_services_sync_check_is_asked_about_the_real_clock_only(memdb):
    asked = []
    store_clock.use_sync_check(lambda: asked.append(1) or True)
    store_items.kv_set(memdb, store_clock.HIGH_WATER_KEY, (datetime.now(UTC) + timedelta(days=400)).isoformat())
    assert not store_clock.missing_allowed(memdb, LAST_SEEN)  # an injected clock is not the one the kernel knows
    assert asked == []
    assert store_clock.missing_allowed(memdb) and asked == [1]
    assert not store_clock.clock_is_behind(memdb)


def test_a_forward_jump_of_a_right_clock_restarts_the_grace_period_and_a_step_back_too(indexed):
    cfg, db = indexed
    store_clock.observe(db, LAST_SEEN)
    store_items.mark_missing(db, str(cfg.libraries[0]), ["p0.jpg", "p1.jpg"])
    _missing_since(db, "p0.jpg", LAST_SEEN)  # missing for 0 days
    _missing_since(db, "p1.jpg", LAST_SEEN - timedelta(days=20))
    record_jump(db, (AHEAD - LAST_SEEN).total_seconds(), AHEAD)
    assert store_items.purge_missing(db, store_clock.purge_cutoff(db, 30, AHEAD)) == 0
    assert _missing_since(db, "p0.jpg") == _missing_since(db, "p1.jpg") == AHEAD.isoformat(timespec="seconds")
    store_items.mark_missing(db, str(cfg.libraries[0]), ["p2.jpg"])
    _missing_since(db, "p2.jpg", AHEAD + timedelta(days=1))  # stamped while ahead
    back = LAST_SEEN + timedelta(days=1)
    record_jump(db, -(AHEAD + timedelta(days=1) - back).total_seconds(), back)
    assert {_missing_since(db, f"p{k}.jpg") for k in range(3)} == {back.isoformat(timespec="seconds")}
    assert store_items.purge_missing(db, store_clock.purge_cutoff(db, 30, back + timedelta(days=31))) == 3


def test_a_jump_from_a_clock_behind_keeps_the_stamps_a_right_clock_wrote(indexed):
    cfg, db = indexed
    store_clock.observe(db, LAST_SEEN)
    store_items.mark_missing(db, str(cfg.libraries[0]), ["p0.jpg"])
    _missing_since(db, "p0.jpg", LAST_SEEN - timedelta(days=60))
    later = LAST_SEEN + timedelta(days=2)  # fake-hwclock booted four months back, then NTP
    record_jump(db, (later - (LAST_SEEN - timedelta(days=120))).total_seconds(), later)
    assert store_items.purge_missing(db, store_clock.purge_cutoff(db, 30, later)) == 1


# -- on this day -----------------------------------------------------------------------------------------

def _by_kind(db) -> dict[str, int]:
    counts: dict[str, int] = {}
    for memory in store_memories.list_memories(db):
        counts[memory["kind"]] = counts.get(memory["kind"], 0) + 1
    return counts


@pytest.mark.parametrize("today", [date(1970, 1, 1), date(2023, 8, 26)], ids=["1970", "four-months-back"])
def test_no_on_this_day_before_the_newest_photo(tmp_path, today):
    control, _ = roll_db(1)
    run_selection(selection_config(tmp_path / "control"), control, today=TODAY)
    expected = _by_kind(control)
    assert expected.get("on_this_day") == 1  # the control: a right today has one
    db, _ = roll_db(1)
    summary = run_selection(selection_config(tmp_path / "wrong"), db, today=today)
    found = _by_kind(db)
    assert "on_this_day" not in found
    assert found == {kind: n for kind, n in expected.items() if kind != "on_this_day"}
    assert summary["today"] == today.isoformat()


@pytest.mark.parametrize("today", [TODAY, date(2023, 8, 26)], ids=["right", "four-months-back"])
def test_one_photo_dated_2031_does_not_turn_on_this_day_off(tmp_path, today):
    db, _ = roll_db(1)
    [newest] = db.execute("SELECT id FROM items WHERE taken_at_source = 'exif' ORDER BY taken_at_local DESC LIMIT 1")
    db.execute("UPDATE items SET taken_at_local = '2031-06-01T12:00:00', taken_at_utc = '2031-06-01T10:00:00.000000Z' "
               "WHERE id = ?", [newest[0]])  # a camera whose clock was wrong; the DB's trusted time is now
    run_selection(selection_config(tmp_path), db, today=today)
    assert _by_kind(db).get("on_this_day") == (1 if today == TODAY else None)


# -- the jump --------------------------------------------------------------------------------------------

class _Clocks:
    """Wall and monotonic seconds that a test moves by hand."""

    def __init__(self, wall: float) -> None:
        self.wall_s, self.mono_s = wall, 1000.0

    def tick(self, seconds: float, wall_extra: float = 0.0) -> None:
        self.mono_s += seconds
        self.wall_s += seconds + wall_extra


def test_clockwatch_sees_the_ntp_jump_and_nothing_else():
    clocks = _Clocks(EPOCH.timestamp())
    watch = ClockWatch(wall=lambda: clocks.wall_s, mono=lambda: clocks.mono_s)
    for _ in range(5):
        clocks.tick(1.0, wall_extra=0.01)  # NTP slewing: not a jump
        assert watch.check() is None
    clocks.tick(30.0)  # a slow tick (a long file) is time passing, not a jump
    assert watch.check() is None
    jump = LAST_SEEN.timestamp() - clocks.wall_s
    clocks.tick(1.0, wall_extra=jump)
    seen = watch.check()
    assert seen == pytest.approx(jump)
    assert describe(seen) == f"forward by {YEARS} years"
    clocks.tick(1.0)
    assert watch.check() is None  # once
    clocks.tick(1.0, wall_extra=-3 * 3600)
    assert describe(watch.check()) == "back by 3 hours"


def test_recording_a_jump_carries_on(memdb, caplog):
    with caplog.at_level(logging.WARNING):
        record_jump(memdb, LAST_SEEN.timestamp() - EPOCH.timestamp(), LAST_SEEN)
    assert f"system clock jumped forward by {YEARS} years; carrying on" in caplog.text
    assert store_items.kv_get(memdb, JUMP_AT_KEY) == LAST_SEEN.isoformat(timespec="seconds")
    assert store_clock.high_water(memdb) == LAST_SEEN and not store_clock.clock_is_behind(memdb, LAST_SEEN)


def test_a_step_back_forgets_the_mark_a_clock_ahead_left(memdb):
    store_clock.observe(memdb, datetime(2099, 1, 1, tzinfo=UTC))  # a bad RTC, once
    assert store_clock.clock_is_behind(memdb, LAST_SEEN)
    record_jump(memdb, -(datetime(2099, 1, 1, tzinfo=UTC) - LAST_SEEN).total_seconds(), LAST_SEEN)
    assert not store_clock.clock_is_behind(memdb, LAST_SEEN)


# -- a real `homeroll scan` with a clock behind the DB's ----------------------------------------------------

def test_scan_with_the_clock_behind_the_db_marks_nothing_missing_and_keeps_new_dates(make_config):
    """The system clock is right here; the DB's high water is 400 days ahead of it. To `homeroll scan`
    that is the clock of a Pi switched on after a long time off, before NTP: behind what the library saw."""
    cfg = make_config()
    lib = cfg.libraries[0]
    write_jpeg(lib / "kept.jpg", scene(1, (160, 120)), taken=datetime(2025, 5, 1, 12))
    write_jpeg(lib / "deleted.jpg", scene(2, (160, 120)), taken=datetime(2025, 5, 2, 12))
    run_cli(cfg.path, "scan")
    db = store.connect(cfg.db_path)
    try:
        ahead = datetime.now(UTC) + timedelta(days=400)
        store_items.kv_set(db, store_clock.HIGH_WATER_KEY, ahead.isoformat(timespec="seconds"))
    finally:
        db.close()
    (lib / "deleted.jpg").unlink()
    new_date = (datetime.now() + timedelta(days=200)).replace(microsecond=0)
    write_jpeg(lib / "new.jpg", scene(3, (160, 120)), taken=new_date)
    run_cli(cfg.path, "scan")
    media = {m["path"].rsplit("/", 1)[-1]: m for m in cli_json(cfg.path, "media", "--json")}
    assert "deleted.jpg" in media  # not missing while the clock is behind
    assert media["new.jpg"]["taken_at_source"] == "exif+home_tz"
    assert media["new.jpg"]["taken_at"].startswith(new_date.isoformat())
    # the clock is right again (the mark is back to it): the same scan marks the deleted file missing
    db = store.connect(cfg.db_path)
    try:
        store_items.kv_set(db, store_clock.HIGH_WATER_KEY, datetime.now(UTC).isoformat(timespec="seconds"))
    finally:
        db.close()
    run_cli(cfg.path, "scan")
    media = {m["path"].rsplit("/", 1)[-1] for m in cli_json(cfg.path, "media", "--json")}
    assert media == {"kept.jpg", "new.jpg"}


def test_the_service_with_the_clock_behind_marks_nothing_missing_and_purges_nothing(service_config, tmp_path):
    """A real `homeroll run` whose DB saw a time 400 days ahead of the system clock; then the clock is right.
    The service asks the kernel (the worker installs the check): where it says synchronised, the mark is
    rightly dropped at once, so this premise cannot be built there."""
    synced = clockwatch.kernel_says_synchronised()
    if synced:
        pytest.skip("cannot stage a clock behind the library here: this machine's clock is NTP-synchronised, "
                    "so the service rightly trusts it (that path is covered by the synchronised-clock tests)")
    cfg, lib, reader = service_config(missing_grace_days=30)
    for k in range(3):
        write_file(lib / f"IMG_{k}.jpg", jpeg_bytes(k))
    run_cli(cfg.path, "scan")
    db = store.connect(cfg.db_path)
    try:
        store_items.mark_missing(db, str(lib), ["IMG_2.jpg"])
        long_ago = (datetime.now(UTC) - timedelta(days=60)).isoformat(timespec="seconds")
        db.execute("UPDATE paths SET missing_since = ? WHERE relpath = 'IMG_2.jpg'", [long_ago])
        ahead = datetime.now(UTC) + timedelta(days=400)
        store_items.kv_set(db, store_clock.HIGH_WATER_KEY, ahead.isoformat(timespec="seconds"))
    finally:
        db.close()
    (lib / "IMG_2.jpg").unlink()
    with ServiceProcess(cfg.path, tmp_path) as svc:
        svc.wait_ready()
        wait_for(lambda: "behind the last time this library saw" in svc.log(), 15, what="the clock warning")
        said = {False: "the kernel says it is not synchronised", None: "nobody can tell whether it is synchronised"}
        assert said[synced] in svc.log()  # the worker asked the kernel
        behind = f"SELECT COUNT(*) FROM kv WHERE key = '{store_clock.BEHIND_KEY}' AND value = ?"
        assert reader.count(behind, [ahead.isoformat(timespec="seconds")]) == 1  # for status
        (lib / "IMG_0.jpg").unlink()
        write_file(lib / "IMG_9.jpg", jpeg_bytes(9))  # indexed after the delete was seen: the worker is past it
        wait_for(lambda: "IMG_9.jpg" in reader.live_paths(), 20, what="the new file")
        time.sleep(2.5)  # two more root checks, each of which purges when the clock is right
        assert reader.live_paths() == ["IMG_0.jpg", "IMG_1.jpg", "IMG_9.jpg"]  # IMG_0 is gone, not missing
        assert reader.count("SELECT COUNT(*) FROM paths WHERE relpath = 'IMG_2.jpg'") == 1  # not purged
        assert svc.log().count("behind the last time this library saw") == 1
        # the clock is right again: the next root check purges the path missing for 60 days
        db = store.connect(cfg.db_path)
        try:
            store_items.kv_set(db, store_clock.HIGH_WATER_KEY, datetime.now(UTC).isoformat(timespec="seconds"))
        finally:
            db.close()
        wait_for(lambda: reader.count("SELECT COUNT(*) FROM paths WHERE relpath = 'IMG_2.jpg'") == 0, 15,
                 what="the purge with a right clock")
        assert reader.count(f"SELECT COUNT(*) FROM kv WHERE key = '{store_clock.BEHIND_KEY}'") == 0
        assert svc.stop() == 0
