"""Exports the way households bring them: a Google Takeout tree, XMP sidecars, XMP- and IPTC-only files, scans.

The demo adds a small Takeout folder and a folder of scanned prints to its camera roll, and the tests
build each quirk from here with exact, known values: a Takeout whose photos lost their EXIF (old and
2024 sidecar names, names cut at 46 characters, ``NAME(1).ext`` copies, ``-edited`` versions, 0,0
places, album ``metadata.json``, people), darktable/digiKam and Lightroom XMP sidecars, a Photoshop
export with its date only in embedded XMP, one with IPTC only, and scans dated only by their folder.
Nothing here is read by the service.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

from homeroll.demo.media import scene


def xmp_packet(taken: str | None = None, tag: str = "exif:DateTimeOriginal",
               gps: tuple[str, str] | None = None) -> bytes:
    """An XMP packet as Lightroom/darktable write it; ``taken`` is the XMP text value ('2019-07-04T10:11:12+02:00')."""
    props = []
    if taken is not None:
        props.append(f"<{tag}>{taken}</{tag}>")
    if gps is not None:
        props.append(f"<exif:GPSLatitude>{gps[0]}</exif:GPSLatitude><exif:GPSLongitude>{gps[1]}</exif:GPSLongitude>")
    body = "".join(props)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
        f"{body}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def _iptc_app13(date_created: str, time_created: str | None) -> bytes:
    """A Photoshop APP13 segment holding IPTC IIM 2:55 DateCreated and 2:60 TimeCreated (what Photoshop writes)."""
    records = b"\x1c\x02\x00\x00\x02\x00\x04"  # 2:00 record version 4
    for number, value in ((55, date_created), (60, time_created)):
        if value is not None:
            data = value.encode("ascii")
            records += b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(data)) + data
    if len(records) % 2:
        records += b"\x00"
    block = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(records)) + records
    payload = b"Photoshop 3.0\x00" + block
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def write_plain_jpeg(path: Path, image: Image.Image, xmp: bytes | None = None,
                     iptc: tuple[str, str | None] | None = None) -> Path:
    """A JPEG with no EXIF at all, optionally with embedded XMP and/or an IPTC block (after SOI)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if xmp is not None:
        image.save(path, "JPEG", quality=80, xmp=xmp)
    else:
        image.save(path, "JPEG", quality=80)
    if iptc is not None:
        data = path.read_bytes()
        path.write_bytes(data[:2] + _iptc_app13(*iptc) + data[2:])
    return path


def takeout_sidecar(path: Path, title: str, taken_utc: datetime | None, geo: tuple[float, float] | None = None,
                    people: list[str] | None = None) -> Path:
    """A Takeout photo sidecar with the fields Google writes (``url`` included: it must never be fetched)."""
    stamp = int(taken_utc.timestamp()) if taken_utc else 0
    lat, lon = geo or (0.0, 0.0)
    data = {
        "title": title, "description": "", "imageViews": "3",
        "creationTime": {"timestamp": str(stamp + 86400), "formatted": "upload time"},
        "photoTakenTime": {"timestamp": str(stamp), "formatted": "taken"},
        "geoData": {"latitude": lat, "longitude": lon, "altitude": 0.0, "latitudeSpan": 0.0, "longitudeSpan": 0.0},
        "geoDataExif": {"latitude": 0.0, "longitude": 0.0, "altitude": 0.0, "latitudeSpan": 0.0,
                        "longitudeSpan": 0.0},
        "url": "https://photos.google.com/photo/AF1QipNotARealPhoto",
        "googlePhotosOrigin": {"mobileUpload": {"deviceType": "ANDROID_PHONE"}},
    }
    if people:
        data["people"] = [{"name": n} for n in people]
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Expected:
    """What homeroll must read from one generated file."""

    relpath: str
    local: str              # taken_at without offset, seconds precision
    source: str             # taken_at_source prefix
    precision: str = "time"
    lat: float | None = None


def _utc(local: datetime, zone: str) -> datetime:
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def generate_takeout(dest: Path, seed: int = 3, people: list[str] | None = None) -> list[Expected]:
    """A small Takeout tree: a year folder and an album, photos whose EXIF was stripped, every naming quirk."""
    year = dest / "Takeout" / "Google Photos" / "Photos from 2019"
    album = dest / "Takeout" / "Google Photos" / "Lisbon with Anna"
    expected: list[Expected] = []
    lisbon = (38.7139, -9.1394)
    for k in range(14):  # three days in Lisbon: enough for a trip, titled after its album
        local = datetime(2019, 8, 12 + k // 5, 9 + 2 * (k % 5), 5, 0)
        name = f"IMG_{local:%Y%m%d_%H%M}0{k:02d}.jpg" if k % 2 else f"PXL_photo_{k:03d}.jpg"
        folder = album if k < 12 else year
        write_plain_jpeg(folder / name, scene(seed * 100 + k, (640, 480), "lisbon"))
        sidecar = folder / (f"{name}.supplemental-metadata.json" if k % 2 else f"{name}.json")
        # without a place, Takeout's UTC becomes wall time in the home zone (the tests' home is Berlin)
        takeout_sidecar(sidecar, name, _utc(local, "Europe/Lisbon" if k != 5 else "Europe/Berlin"),
                        lisbon if k != 5 else None, people if k < 5 else None)
        expected.append(Expected(str((folder / name).relative_to(dest)), local.isoformat(), "takeout",
                                 lat=lisbon[0] if k != 5 else None))
    # A name longer than Takeout keeps: the sidecar is cut at 46 characters before ".json".
    long_name = "Screenshot_20190815-101010_A very long app name here.jpg"
    write_plain_jpeg(year / long_name, scene(seed * 100 + 50, (640, 480)))
    local = datetime(2019, 8, 15, 19, 0, 0)
    takeout_sidecar(year / f"{long_name[:46]}.json", long_name, _utc(local, "Europe/Berlin"))
    expected.append(Expected(str((year / long_name).relative_to(dest)), local.isoformat(), "takeout"))
    # A "(1)" copy has its own "NAME.ext(1).json"; an "-edited" version shares the original's sidecar.
    for name, local in (("IMG_0042.jpg", datetime(2019, 9, 1, 9, 0)), ("IMG_0042(1).jpg", datetime(2019, 9, 2, 9, 0))):
        write_plain_jpeg(year / name, scene(seed * 100 + len(name) + local.day, (640, 480)))
        side = "IMG_0042.jpg(1).json" if "(1)" in name else "IMG_0042.jpg.json"
        takeout_sidecar(year / side, name, _utc(local, "Europe/Berlin"), (0.0, 0.0))
        expected.append(Expected(str((year / name).relative_to(dest)), local.isoformat(), "takeout"))
    write_plain_jpeg(year / "IMG_0042-edited.jpg", scene(seed * 100 + 77, (640, 480)))
    expected.append(Expected(str((year / "IMG_0042-edited.jpg").relative_to(dest)), "2019-09-01T09:00:00", "takeout"))
    (album / "metadata.json").write_text(json.dumps({"title": "Lisbon with Anna", "description": "",
                                                     "access": "protected", "date": {"timestamp": "1565600000"}}))
    (year / "print-subtitles.json").write_text("{}")
    return expected


def generate_scans(dest: Path, seed: int = 5) -> list[Expected]:
    """Scanned prints: no metadata at all, the scanner's own file names, dated only by the folders' names."""
    expected: list[Expected] = []
    for folder, count, local, precision in (("1998 Summer holiday", 8, "1998-01-01T12:00:00", "year"),
                                            ("2001-07 Lake Garda", 6, "2001-07-01T12:00:00", "month"),
                                            ("2005-12-24 Christmas", 6, "2005-12-24T12:00:00", "day")):
        for k in range(count):
            path = dest / "Scans" / folder / f"scan_{k + 1:04d}.jpg"
            write_plain_jpeg(path, scene(seed * 1000 + len(folder) * 10 + k, (800, 560), "home"))
            expected.append(Expected(str(path.relative_to(dest)), local, "folder-name", precision))
    return expected


def generate_sidecar_exports(dest: Path, seed: int = 9) -> list[Expected]:
    """darktable/digiKam and Lightroom sidecars, an embedded-XMP-only and an IPTC-only Photoshop export."""
    expected: list[Expected] = []
    base = dest / "Exports"
    write_plain_jpeg(base / "darktable" / "DSC_0001.jpg", scene(seed + 1, (640, 480)))
    (base / "darktable" / "DSC_0001.jpg.xmp").write_bytes(
        xmp_packet("2018-05-20T14:30:00+02:00", gps=("38,42.834N", "9,8.364W")))
    expected.append(Expected("Exports/darktable/DSC_0001.jpg", "2018-05-20T14:30:00", "xmp-sidecar", lat=38.7139))
    write_plain_jpeg(base / "lightroom" / "DSC_0002.jpg", scene(seed + 2, (640, 480)))
    (base / "lightroom" / "DSC_0002.xmp").write_bytes(xmp_packet("2018-05-21T09:15:00", "xmp:CreateDate"))
    expected.append(Expected("Exports/lightroom/DSC_0002.jpg", "2018-05-21T09:15:00", "xmp-sidecar"))
    write_plain_jpeg(base / "photoshop" / "xmp-only.jpg", scene(seed + 3, (640, 480)),
                     xmp=xmp_packet("2017-03-04T11:12:13+01:00", "photoshop:DateCreated"))
    expected.append(Expected("Exports/photoshop/xmp-only.jpg", "2017-03-04T11:12:13", "xmp"))
    write_plain_jpeg(base / "photoshop" / "iptc-only.jpg", scene(seed + 4, (640, 480)),
                     iptc=("20160102", "030405+0100"))
    expected.append(Expected("Exports/photoshop/iptc-only.jpg", "2016-01-02T03:04:05", "iptc"))
    (base / "lightroom" / "GONE_0003.xmp").write_bytes(xmp_packet("2018-05-22T10:00:00"))
    return expected


def settle(dest: Path) -> None:
    """Old mtimes, as a synced or copied library has (so the service does not wait for them to settle)."""
    for root, _, names in os.walk(dest):
        for name in names:
            path = os.path.join(root, name)
            stat = os.stat(path)
            os.utime(path, (stat.st_atime, stat.st_mtime - 3600))
