"""The whole third-party corpus (phones, HEIC, videos, fuzzed and hostile files) scans without a crash,
every file ends as an item or a skip reason, and the library is never written to."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.corpus


def _all_files(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def test_every_corpus_file_is_an_item_or_a_skip_reason(corpus, corpus_scan):
    _, media, skipped, summary = corpus_scan
    accounted = {m["path"] for m in media} | {s["path"] for s in skipped}
    missing = _all_files(corpus) - accounted
    assert not missing, f"files neither indexed nor skipped: {sorted(missing)[:10]}"
    assert all(s["reason"] for s in skipped)
    assert summary["seen"] == len(_all_files(corpus))
    assert summary["missing"] == 0


def test_hostile_files_get_clear_reasons(corpus, corpus_scan):
    _, media, skipped, _ = corpus_scan
    reasons = {Path(s["path"]).relative_to(corpus).as_posix(): s["reason"] for s in skipped}
    assert reasons["pillow_heif/heif_special/200MP.heic"].startswith("decompression bomb")
    assert reasons["pillow_heif/heif_corrupted/empty.heic"] == "empty file (0 bytes)"
    assert reasons["Pillow/truncated_jpeg.jpg"].startswith("truncated")
    assert reasons["exiftool/images/Nikon.nef"].startswith("unsupported file type")
    fuzz = [r for p, r in reasons.items() if p.startswith("libheif/fuzzing/")]
    assert len(fuzz) >= 30, "the libheif crash repros must be skipped, not indexed or fatal"
    for reason in reasons.values():
        assert "\n" not in reason and len(reason) < 300


def test_formats_phones_produce_are_indexed(corpus, corpus_scan):
    _, media, _, _ = corpus_scan
    by_rel = {Path(m["path"]).relative_to(corpus).as_posix(): m for m in media}
    assert by_rel["exif-samples/heic/IMG_5195.HEIC"]["format"] == "HEIF"
    assert by_rel["Pillow/frame_size.mpo"]["format"] == "MPO"
    assert by_rel["Pillow/hopper.webp"]["format"] == "WEBP"
    assert any(p.endswith(".avif") for p in by_rel)
    assert by_rel["face_recognition/examples/short_hamilton_clip.mp4"]["kind"] == "video"
    assert by_rel["face_recognition/tests/test_images/32bit.png"]["kind"] in ("photo", "screenshot")


def test_exact_duplicates_are_one_item_with_several_paths(corpus, corpus_scan):
    _, media, _, _ = corpus_scan
    obama = [m for m in media if Path(m["path"]).name == "obama.jpg"]
    assert len(obama) == 3
    assert len({m["hash"] for m in obama}) == 1
    assert len({m["id"] for m in obama}) == 1


def test_orientation_and_displayed_size(corpus, corpus_scan):
    _, media, _, _ = corpus_scan
    by_rel = {Path(m["path"]).relative_to(corpus).as_posix(): m for m in media}
    upright = by_rel["exif-samples/jpg/orientation/landscape_1.jpg"]
    for n in range(1, 9):
        item = by_rel[f"exif-samples/jpg/orientation/landscape_{n}.jpg"]
        assert item["orientation"] == n
        assert (item["width"], item["height"]) == (upright["width"], upright["height"]), n


def test_bogus_gps_is_missing_not_a_place(corpus, corpus_scan):
    _, media, _, _ = corpus_scan
    by_rel = {Path(m["path"]).relative_to(corpus).as_posix(): m for m in media}
    assert by_rel["pillow_heif/heif_other/spatial_photo.heic"]["lat"] is None  # 0,0
    assert by_rel["exiftool/images/InfiRay.jpg"]["lat"] is None  # NaN
    kodak = by_rel["exif-samples/jpg/Kodak_CX7530.jpg"]  # just south of the equator: a real place
    assert kodak["lat"] == pytest.approx(-0.3713, abs=1e-4)
    assert kodak["place"]["country_code"] == "KE"


def test_places_are_what_people_say(corpus, corpus_scan):
    _, media, _, _ = corpus_scan
    by_rel = {Path(m["path"]).relative_to(corpus).as_posix(): m for m in media}
    assert by_rel["exiftool/images/Google.jpg"]["place"]["city"] == "Madrid"
    assert by_rel["exif-samples/jpg/mobile/HMD_Nokia_8.3_5G.jpg"]["place"]["city"] == "Helsinki"
    assert by_rel["exif-samples/jpg/gps/DSCN0010.jpg"]["place"]["city"] == "Arezzo"


def test_time_zones_from_offset_gps_and_home(corpus, corpus_scan):
    _, media, _, _ = corpus_scan
    by_rel = {Path(m["path"]).relative_to(corpus).as_posix(): m for m in media}
    google = by_rel["exiftool/images/Google.jpg"]  # OffsetTimeOriginal +02:00
    assert google["taken_at"] == "2023-10-06T22:53:51.724000+02:00"
    assert google["taken_at_source"] == "exif"
    arezzo = by_rel["exif-samples/jpg/gps/DSCN0010.jpg"]  # no offset, GPS in Italy
    assert arezzo["taken_at"] == "2008-10-22T16:28:39+02:00"
    assert arezzo["taken_at_source"] == "exif+gps_tz" and arezzo["tz"] == "Europe/Rome"
    kc = by_rel["exif-samples/heic/IMG_5195.HEIC"]  # HEIC, -05:00
    assert kc["taken_at"].endswith("-05:00")
    malformed = by_rel["face_recognition/examples/obama2.jpg"]  # DTO '2009:09:09 20:27:09.60:04:00'
    assert not malformed["taken_at_source"].startswith("exif")
    future = by_rel["exif-samples/jpg/WWL_(Polaroid)_ION230.jpg"]  # DTO in the future of the corpus date
    assert future["taken_at"] is not None


def test_rescan_of_unchanged_corpus_indexes_nothing(corpus_scan, corpus_rescan):
    summary = json.loads(corpus_rescan.stdout)
    assert summary["indexed"] == 0 and summary["new_items"] == 0
    assert summary["unchanged"] == summary["seen"]


def test_library_is_never_written(corpus, corpus_scan):
    """Thumbnails and the DB live in the data dir; nothing new appears under the root."""
    cfg_path = corpus_scan[0]
    data = Path(cfg_path).parent / "data"
    assert (data / "homeroll.db").exists()
    assert any((data / "thumbs").rglob("*.jpg"))
    newer = [p for p in corpus.rglob("*") if p.is_file() and p.stat().st_mtime > os.path.getmtime(cfg_path)]
    assert newer == []
