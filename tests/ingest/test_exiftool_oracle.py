"""homeroll's taken_at and GPS against exiftool's, on every corpus file exiftool reads a date or position from.

Each disagreement must be explained by a rule homeroll applies on purpose (an implausible date, a
0,0 or NaN fix, Apple's local creation date preferred to the UTC one…); unexplained ones count
against the >= 98% agreement target and are printed.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from homeroll.daemon.ingest import timeinfo

pytestmark = pytest.mark.corpus

TAGS = ["-EXIF:DateTimeOriginal", "-ExifIFD:CreateDate", "-EXIF:OffsetTimeOriginal", "-GPSLatitude", "-GPSLongitude",
        "-QuickTime:CreateDate", "-QuickTime:CreationDate"]


@pytest.fixture(scope="module")
def exiftool_rows(corpus):
    if shutil.which("exiftool") is None:
        pytest.fail("exiftool is not installed (.ci/run installs libimage-exiftool-perl)")
    out = subprocess.run(["exiftool", "-json", "-n", "-r", "-q", "-q", "-api", "QuickTimeUTC", *TAGS, str(corpus)],
                         capture_output=True, text=True, timeout=600)
    return {str(Path(r["SourceFile"]).resolve()): r for r in json.loads(out.stdout or "[]")}


ON_PURPOSE = "on purpose: "


def _exif_local(row):
    for tag in ("DateTimeOriginal", "CreateDate"):
        value = row.get(tag)
        if isinstance(value, str) and "+" not in value[10:] and value.count(":") >= 4:
            return tag, value
    return None, None


def _compare(item, row):
    """Yield (field, agreed, explanation)."""
    tag, exif_value = _exif_local(row)
    if exif_value is not None and item["taken_at_source"] != "quicktime":
        parsed = timeinfo.parse_exif_datetime(exif_value)
        if parsed is None:
            yield "taken_at", True, f"{ON_PURPOSE}exiftool {tag}={exif_value!r} is blank, malformed or implausible: homeroll falls through"
        else:
            agreed = item["taken_at"][:19] == parsed.isoformat()[:19]
            yield "taken_at", agreed, f"exiftool {exif_value} vs homeroll {item['taken_at']}"
            offset = row.get("OffsetTimeOriginal")
            if isinstance(offset, str) and tag == "DateTimeOriginal" and timeinfo.parse_offset(offset) is not None:
                yield "offset", item["taken_at"].endswith(offset), f"exiftool {offset} vs homeroll {item['taken_at']}"
    elif item["kind"] == "video" and isinstance(row.get("CreateDate"), str):
        apple = row.get("CreationDate")
        if isinstance(apple, str) and item["taken_at_source"] == "quicktime":
            yield "taken_at", item["taken_at"][:19] == apple.replace(":", "-", 2).replace(" ", "T")[:19], f"{apple}"
        else:
            created = datetime.strptime(row["CreateDate"][:19], "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
            if created.year < 1990:
                yield "taken_at", True, f"{ON_PURPOSE}exiftool CreateDate {row['CreateDate']} is the container's zero epoch: unset"
            else:
                ours = datetime.fromisoformat(item["taken_at"]).astimezone(UTC)
                yield "taken_at", abs(ours - created) < timedelta(seconds=1), f"{row['CreateDate']} vs {item['taken_at']}"
    lat, lon = row.get("GPSLatitude"), row.get("GPSLongitude")
    if "GPSLatitude" in row or "GPSLongitude" in row:
        if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)) or math.isnan(lat) or (lat == 0 and lon == 0):
            yield "gps", item["lat"] is None, f"{ON_PURPOSE}exiftool position {lat!r},{lon!r} is no fix: homeroll stores none"
        else:
            agreed = item["lat"] is not None and abs(item["lat"] - lat) < 1e-5 and abs(item["lon"] - lon) < 1e-5
            yield "gps", agreed, f"exiftool {lat},{lon} vs homeroll {item['lat']},{item['lon']}"


def test_taken_at_and_gps_agree_with_exiftool(corpus_scan, exiftool_rows):
    _, media, skipped, _ = corpus_scan
    compared = agreed = 0
    disagreements = []
    explained = []
    for item in media:
        row = exiftool_rows.get(str(Path(item["path"]).resolve()))
        if row is None:
            continue
        for field, ok, why in _compare(item, row):
            compared += 1
            if ok:
                agreed += 1
                if why.startswith(ON_PURPOSE):
                    explained.append(f"{item['path']}: {field}: {why}")
            else:
                disagreements.append(f"{item['path']}: {field}: {why}")
    print(f"\ncompared {compared} values, agreed {agreed} ({agreed / max(compared, 1):.1%})")
    print("explained (homeroll is right on purpose):\n  " + "\n  ".join(explained))
    print("disagreements:\n  " + "\n  ".join(disagreements))
    assert compared >= 150, "the oracle must actually compare the corpus"
    assert agreed / compared >= 0.98, "\n".join(disagreements)
