"""Real exports, made by the project's own generator: Takeout, XMP sidecars, XMP- and IPTC-only files, scans.

Each generated file carries an exact known date (and sometimes place), and the real `homeroll scan`
process must read it from the right source; sidecars are accounted for, never items or skips; a
sidecar that appears, changes or goes away re-reads its photo; hostile sidecars cost only themselves.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from homeroll.daemon.ingest import sidecars
from homeroll.daemon.ingest.folderdate import album_title, parse_folder
from homeroll.demo import exports as demo_exports
from tests.conftest import cli_json, run_cli


@pytest.fixture
def exports(make_config):
    cfg = make_config(home_tz="Europe/Berlin")
    lib = cfg.libraries[0]
    expected = (demo_exports.generate_takeout(lib, people=["Anna"]) + demo_exports.generate_scans(lib)
                + demo_exports.generate_sidecar_exports(lib))
    demo_exports.settle(lib)
    return cfg, lib, expected


def _media(cfg) -> dict[str, dict]:
    lib = str(cfg.libraries[0])
    return {os.path.relpath(m["path"], lib): m for m in cli_json(cfg.path, "media", "--json")}


def _check(media: dict[str, dict], want: demo_exports.Expected) -> None:
    got = media[want.relpath]
    assert got["taken_at"][:19] == want.local, (want.relpath, got["taken_at"], got["taken_at_source"])
    assert got["taken_at_source"].split("+")[0] == want.source, (want.relpath, got["taken_at_source"])
    assert got["taken_at_precision"] == want.precision, want.relpath
    if want.lat is not None:
        assert got["lat"] == pytest.approx(want.lat, abs=0.01), want.relpath


def test_every_export_quirk_gets_its_date_from_the_right_source(exports):
    cfg, lib, expected = exports
    summary = cli_json(cfg.path, "scan", "--json")
    media = _media(cfg)
    for want in expected:
        _check(media, want)
    # Sidecars are never items and never "unsupported" skips; the stray tool JSON is.
    assert not [p for p in media if p.endswith((".json", ".xmp"))]
    skipped = {os.path.relpath(s["path"], lib): s["reason"] for s in cli_json(cfg.path, "media", "--skipped", "--json")}
    assert list(skipped) == ["Takeout/Google Photos/Photos from 2019/print-subtitles.json"]
    listed = {os.path.relpath(s["path"], lib): s for s in cli_json(cfg.path, "media", "--sidecars", "--json")}
    orphan = listed["Exports/lightroom/GONE_0003.xmp"]
    assert orphan["media"] is None and "without its photo" in orphan["note"]
    assert listed["Takeout/Google Photos/Lisbon with Anna/metadata.json"]["kind"] == "album"
    assert summary["sidecars"] == len(listed)
    status = cli_json(cfg.path, "status", "--json")
    assert status["sidecars"] == {"sidecars": len(listed), "orphans": 1, "unusable": 0}
    # Takeout's 0,0 geoData is no place, not the Gulf of Guinea.
    assert media["Takeout/Google Photos/Photos from 2019/IMG_0042.jpg"]["lat"] is None
    # A rescan with nothing changed reads nothing again.
    again = cli_json(cfg.path, "scan", "--json")
    assert again["indexed"] == 0 and again["unchanged"] == summary["seen"] - summary["sidecars"]


def test_a_sidecar_that_appears_changes_or_goes_away_rereads_its_photo(exports):
    cfg, lib, _ = exports
    cli_json(cfg.path, "scan", "--json")
    photo = "Exports/darktable/DSC_0001.jpg"
    side = lib / f"{photo}.xmp"
    assert _media(cfg)[photo]["taken_at"] == "2018-05-20T14:30:00+02:00"
    side.write_bytes(demo_exports.xmp_packet("2018-06-01T08:00:00+02:00"))
    os.utime(side, (time.time() - 3600, time.time() - 3600))
    stats = cli_json(cfg.path, "scan", "--json")
    assert stats["indexed"] == 1
    got = _media(cfg)[photo]
    assert got["taken_at"] == "2018-06-01T08:00:00+02:00" and got["lat"] is None  # its new sidecar has no GPS
    side.unlink()
    cli_json(cfg.path, "scan", "--json")
    got = _media(cfg)[photo]
    assert got["taken_at_source"] == "mtime" and got["taken_at_precision"] == "time"
    # A Lightroom-style sidecar for a photo that had none.
    (lib / "Exports/darktable/DSC_0001.xmp").write_bytes(demo_exports.xmp_packet("2018-07-07T07:07:07", "xmp:CreateDate"))
    cli_json(cfg.path, "scan", "--json")
    assert _media(cfg)[photo]["taken_at"].startswith("2018-07-07T07:07:07")
    # The orphan finds its photo once the photo arrives.
    demo_exports.write_plain_jpeg(lib / "Exports/lightroom/GONE_0003.jpg", demo_exports.scene(4242, (320, 240)))
    cli_json(cfg.path, "scan", "--json")
    assert _media(cfg)["Exports/lightroom/GONE_0003.jpg"]["taken_at"].startswith("2018-05-22T10:00:00")


def test_the_file_s_own_date_wins_over_its_sidecar(make_config):
    cfg = make_config(home_tz="Europe/Berlin")
    lib = cfg.libraries[0]
    from homeroll.demo.media import scene, write_jpeg

    write_jpeg(lib / "cam.jpg", scene(5, (320, 240)), taken=datetime(2020, 2, 2, 10, 0), offset="+01:00")
    (lib / "cam.jpg.xmp").write_bytes(demo_exports.xmp_packet("2011-01-01T00:00:00+01:00", gps=("52,31.2N", "13,24.3E")))
    cli_json(cfg.path, "scan", "--json")
    got = _media(cfg)["cam.jpg"]
    assert got["taken_at"] == "2020-02-02T10:00:00+01:00" and got["taken_at_source"] == "exif"
    assert got["place"]["city"] == "Berlin"  # the sidecar fills the place the file lacks


@pytest.mark.parametrize("content, reason", [
    (b"{not json", "malformed Takeout JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"photoTakenTime": {"timestamp": "99999999999999"}}', "no usable photoTakenTime"),
    (b'{"photoTakenTime": {"timestamp": "-5"}}', "no usable photoTakenTime"),
    (None, "too large"),
], ids=["garbage", "not-an-object", "absurd-date", "negative-date", "huge"])
def test_hostile_takeout_sidecars_cost_only_themselves(make_config, content, reason):
    cfg = make_config(home_tz="Europe/Berlin")
    lib = cfg.libraries[0]
    demo_exports.write_plain_jpeg(lib / "IMG_20210304_050607.jpg", demo_exports.scene(8, (320, 240)))
    (lib / "IMG_20210304_050607.jpg.json").write_bytes(content or b" " * (sidecars.MAX_SIDECAR_BYTES + 10))
    proc = run_cli(cfg.path, "scan", "--json")
    assert "Traceback" not in proc.stderr
    got = _media(cfg)["IMG_20210304_050607.jpg"]
    assert got["taken_at"].startswith("2021-03-04T05:06:07") and got["taken_at_source"].startswith("filename")
    note = cli_json(cfg.path, "media", "--sidecars", "--json")[0]["note"]
    assert reason in note


@pytest.mark.parametrize("packet, reason", [
    (b"<x:xmpmeta><unclosed", "XMP"),
    (b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
     b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>', "entit"),
    (demo_exports.xmp_packet("2099-01-01T00:00:00"), None),  # absurd: falls through, noted nowhere (no date)
], ids=["unclosed", "entities", "absurd-date"])
def test_hostile_xmp_sidecars_cost_only_themselves(make_config, packet, reason):
    cfg = make_config(home_tz="Europe/Berlin")
    lib = cfg.libraries[0]
    folder = lib / "2015-06-07 Wedding"
    demo_exports.write_plain_jpeg(folder / "a.jpg", demo_exports.scene(9, (320, 240)))
    (folder / "a.jpg.xmp").write_bytes(packet)
    proc = run_cli(cfg.path, "scan", "--json")
    assert "Traceback" not in proc.stderr
    got = _media(cfg)["2015-06-07 Wedding/a.jpg"]
    assert got["taken_at"].startswith("2015-06-07T12:00:00") and got["taken_at_precision"] == "day"
    note = cli_json(cfg.path, "media", "--sidecars", "--json")[0]["note"]
    if reason:
        assert reason in note
    else:
        assert note is None


def test_takeout_scan_opens_no_socket_and_names_nobody(exports, tmp_path):
    """Takeout's url fields are never fetched: the scan process and its workers run under the audit hook."""
    cfg, _, _ = exports
    log = tmp_path / "net.log"
    nonet = Path(__file__).parent / "nonet"
    env = {"PYTHONPATH": f"{nonet}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "HOMEROLL_NET_LOG": str(log)}
    run_cli(cfg.path, "scan", env=env)
    assert not log.exists(), log.read_text()
    # Takeout's people are hints for the people screen, never names applied on their own.
    assert not [p for p in cli_json(cfg.path, "people", "--json") if p.get("name")]


def test_folder_names_give_dates_with_their_precision_and_titles():
    cases = {
        "1998 Summer holiday": ("1998-01-01", "year", "Summer holiday"),
        "2001-07 Lake Garda": ("2001-07-01", "month", "Lake Garda"),
        "2005-12-24 Christmas": ("2005-12-24", "day", "Christmas"),
        "Photos from 2019": ("2019-01-01", "year", None),
        "July 2001": ("2001-07-01", "month", None),
        "2019 Lisbon": ("2019-01-01", "year", "Lisbon"),
    }
    now = datetime(2026, 12, 1)
    for name, (day, precision, title) in cases.items():
        found, _ = parse_folder(name, now)
        assert found is not None and found.local.date().isoformat() == day and found.precision == precision, name
        assert album_title(name) == title, name
    for name in ("DCIM", "100APPLE", "IMG_2019", "Camera", "2030 future", "1850 daguerreotypes"):
        assert parse_folder(name, now)[0] is None, name


def test_takeout_pairing_rules():
    pairing = sidecars.pair_folder([
        "a.jpg", "a.jpg.json", "b.jpg", "b.jpg.supplemental-metadata.json", "b-edited.jpg",
        "c.jpg", "c.jpg.json", "c(1).jpg", "c.jpg(1).json", "metadata.json", "print-subtitles.json",
        "Screenshot_20190815-101010_A very long app name here.jpg", "Screenshot_20190815-101010_A very long app nam.json",
        "d.heic", "d.heic.xmp", "e.jpg", "e.xmp", "e.mov", "orphan.jpg.json",
    ])
    assert pairing.sidecars_of["a.jpg"] == {"takeout": "a.jpg.json"}
    assert pairing.sidecars_of["b-edited.jpg"] == pairing.sidecars_of["b.jpg"]
    assert pairing.sidecars_of["c(1).jpg"] == {"takeout": "c.jpg(1).json"}  # never the original's sidecar
    assert pairing.sidecars_of["c.jpg"] == {"takeout": "c.jpg.json"}
    assert pairing.sidecars_of["Screenshot_20190815-101010_A very long app name here.jpg"]["takeout"].endswith("nam.json")
    assert pairing.sidecars_of["d.heic"] == {"xmp": "d.heic.xmp"}
    assert set(pairing.media_of["e.xmp"]) == {"e.jpg", "e.mov"}
    assert pairing.albums == ["metadata.json"] and pairing.not_sidecars == ["print-subtitles.json"]
    assert pairing.orphans == {"orphan.jpg.json": "takeout"}


def test_takeout_time_is_utc_shown_in_the_zone_of_its_place(make_config):
    cfg = make_config(home_tz="Europe/Berlin")
    lib = cfg.libraries[0]
    demo_exports.write_plain_jpeg(lib / "t.jpg", demo_exports.scene(11, (320, 240)))
    taken = datetime(2023, 4, 5, 1, 2, 3, tzinfo=UTC)
    demo_exports.takeout_sidecar(lib / "t.jpg.json", "t.jpg", taken, (35.68, 139.69))
    cli_json(cfg.path, "scan", "--json")
    got = _media(cfg)["t.jpg"]
    assert got["taken_at"] == "2023-04-05T10:02:03+09:00" and got["tz"] == "Asia/Tokyo"
    assert json.loads(json.dumps(got))["taken_at_source"] == "takeout+gps_tz"


def test_sidecar_watched_by_the_service_rereads_its_photo(exports, tmp_path):
    """`homeroll run` sees a sidecar written next to an indexed photo and re-reads the photo."""
    import subprocess
    import sys

    cfg, lib, _ = exports
    cli_json(cfg.path, "scan", "--json")
    photo = "Exports/photoshop/xmp-only.jpg"
    proc = subprocess.Popen([sys.executable, "-m", "homeroll.daemon", "--config", str(cfg.path), "run"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = cli_json(cfg.path, "status", "--json")
            if status["service"]["state"] == "running":
                break
            time.sleep(0.3)
        # the file's own XMP has a date, so a sidecar must not change it: write one for the IPTC file's
        # neighbour instead, a photo with no date of its own
        demo_exports.write_plain_jpeg(lib / "Exports/photoshop/nodate.jpg", demo_exports.scene(77, (320, 240)))
        time.sleep(0.2)
        (lib / "Exports/photoshop/nodate.jpg.xmp").write_bytes(demo_exports.xmp_packet("2012-12-12T12:12:12+01:00"))
        deadline = time.monotonic() + 60
        got = None
        while time.monotonic() < deadline:
            got = _media(cfg).get("Exports/photoshop/nodate.jpg")
            if got and got["taken_at"] == "2012-12-12T12:12:12+01:00":
                break
            time.sleep(0.5)
        assert got and got["taken_at"] == "2012-12-12T12:12:12+01:00", got
        (lib / "Exports/photoshop/nodate.jpg.xmp").unlink()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = _media(cfg).get("Exports/photoshop/nodate.jpg")
            if got and got["taken_at_source"] == "mtime":
                break
            time.sleep(0.5)
        assert got["taken_at_source"] == "mtime", got
        assert _media(cfg)[photo]["taken_at_source"] == "xmp"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.corpus
def test_exif_time_takes_the_offset_of_xmp_s_copy_and_xmp_beats_a_webp_save_time(corpus, make_config):
    """Nikon_D70: EXIF 09:52:01 without an offset, XMP the same time at -04:00. flower2.webp: only an IFD0
    save time in EXIF, and an XMP CreateDate (what exiftool reads as the capture time)."""
    import shutil

    cfg = make_config(home_tz="Europe/Berlin")
    lib = cfg.libraries[0]
    shutil.copy2(corpus / "exif-samples/jpg/Nikon_D70.jpg", lib / "Nikon_D70.jpg")
    shutil.copy2(corpus / "Pillow/flower2.webp", lib / "flower2.webp")
    cli_json(cfg.path, "scan", "--json")
    media = _media(cfg)
    assert media["Nikon_D70.jpg"]["taken_at"] == "2008-03-15T09:52:01-04:00"
    assert media["Nikon_D70.jpg"]["taken_at_source"] == "exif"
    assert media["flower2.webp"]["taken_at_source"] == "xmp"
    assert media["flower2.webp"]["taken_at"].endswith("-03:00")
