"""Choosing a photo's time and place from every source it has, in one documented order.

EXIF (or the video container) is the camera's own record and wins. After it come XMP embedded in the
file (what Photoshop and Lightroom write), IPTC, the sidecars beside the file (an XMP sidecar, a
Google Takeout JSON), a date in a folder name, the file name, and last the file's mtime. A sidecar
fills what the file lacks; it never overrides a value the file has (the camera's EXIF is more often
right than a sidecar's copy of it). Every source that cannot be read costs only itself: its reason is
noted and the photo falls through to the next source. The order is the README's "Indexing" section.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from homeroll.daemon.ingest import folderdate, takeout, timeinfo, xmp
from homeroll.daemon.ingest.xmp import EmbeddedTime, MetadataError, embedded_packet, parse_xmp


@dataclass
class Evidence:
    """What the non-EXIF sources of one file say, each already checked for sense."""

    times: list[tuple[str, EmbeddedTime]] = field(default_factory=list)   # (source, time), best first
    takeout_utc: datetime | None = None
    positions: list[tuple[float, float]] = field(default_factory=list)    # best first
    people: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)                     # the file's own metadata
    sidecar_notes: dict[str, str | None] = field(default_factory=dict)    # sidecar path -> why unused, or None


def _embedded(image, evidence: Evidence) -> None:
    from homeroll.daemon.ingest.iptc import read_iptc

    try:
        packet = embedded_packet(image)
        if packet:
            facts = parse_xmp(packet)
            if facts.time:
                evidence.times.append(("xmp", facts.time))
            if facts.lat is not None and facts.lon is not None:
                evidence.positions.append((facts.lat, facts.lon))
    except MetadataError as exc:
        evidence.warnings.append(f"embedded XMP ignored: {exc}")
    try:
        iptc_time = read_iptc(image)
        if iptc_time:
            evidence.times.append(("iptc", iptc_time))
    except MetadataError as exc:
        evidence.warnings.append(f"IPTC ignored: {exc}")


def _sidecars(sidecars: dict[str, str], evidence: Evidence, now: datetime | None) -> None:
    evidence.sidecar_notes = dict.fromkeys(sidecars.values())
    xmp_path = sidecars.get("xmp")
    if xmp_path:
        try:
            facts = xmp.read_sidecar(xmp_path, now)
            if facts.time:
                evidence.times.append(("xmp-sidecar", facts.time))
            if facts.lat is not None and facts.lon is not None:
                evidence.positions.append((facts.lat, facts.lon))
        except MetadataError as exc:
            evidence.sidecar_notes[xmp_path] = str(exc)
    takeout_path = sidecars.get("takeout")
    if takeout_path:
        try:
            found = takeout.read_sidecar(takeout_path, now)
            evidence.takeout_utc = found.taken_utc
            if found.lat is not None and found.lon is not None:
                evidence.positions.append((found.lat, found.lon))
            evidence.people = found.people
            if found.taken_utc is None:
                evidence.sidecar_notes[takeout_path] = "Takeout JSON has no usable photoTakenTime"
        except MetadataError as exc:
            evidence.sidecar_notes[takeout_path] = str(exc)


def gather(image, sidecars: dict[str, str] | None, now: datetime | None = None, save_time: object = None) -> Evidence:
    """Read embedded XMP and IPTC (photos: ``image`` is the opened file) and the sidecars (kind -> path).

    ``save_time``: a PNG's or WebP's IFD0 DateTime, when it has no DateTimeOriginal. It is when the file
    was written, so it ranks after the file's XMP and IPTC capture dates and before any sidecar.
    """
    evidence = Evidence()
    if image is not None:
        _embedded(image, evidence)
    local = timeinfo.parse_exif_datetime(save_time)
    if local is not None:
        evidence.times.append(("exif", EmbeddedTime(local, None, "EXIF:DateTime")))
    if sidecars:
        _sidecars(sidecars, evidence, now)
    return evidence


def with_xmp_offset(taken: timeinfo.TakenAt | None, evidence: Evidence) -> timeinfo.TakenAt | None:
    """An EXIF time without an offset takes the offset of XMP's copy of the same wall time (Nikon, Pentax).

    Lightroom and camera firmware write ``exif:DateTimeOriginal`` with the zone EXIF had no tag for; a
    guess from GPS or the home zone is worse than the camera's own record.
    """
    if taken is None or taken.offset_min is not None and not taken.source.endswith(("+gps_tz", "+home_tz")):
        return taken
    if not taken.source.startswith("exif"):
        return taken
    for source, value in evidence.times:
        if (source == "xmp" and value.offset_min is not None and value.precision == "time"
                and value.local.replace(microsecond=0) == taken.local.replace(microsecond=0)):
            zone = taken.tz_name if taken.tz_name and timeinfo.offset_in_zone(
                taken.local, taken.tz_name) == value.offset_min else None
            return timeinfo.TakenAt(taken.local, value.offset_min, zone, "exif")
    return taken


def fallback_time(evidence: Evidence, relpath: str, mtime_ns: int, lat: float | None, lon: float | None,
                  home_tz: str, now: datetime | None = None) -> tuple[timeinfo.TakenAt, str]:
    """(taken_at, precision) for a file whose EXIF/container gave no date: every later source in order."""
    if evidence.times:
        source, value = evidence.times[0]
        for later_source, later in evidence.times[1:]:
            # XMP often keeps only the day where IPTC has the time (Photo Mechanic): same day, more precise
            if value.precision != "time" and later.precision == "time" and later.local.date() == value.local.date():
                source, value = later_source, later
                break
        taken = timeinfo.from_local(value.local, value.offset_min, lat, lon, home_tz, source)
        return taken, value.precision
    if evidence.takeout_utc is not None:
        return timeinfo.from_utc(evidence.takeout_utc, lat, lon, home_tz, "takeout"), "time"
    folder = folderdate.folder_date(relpath, now)
    named = timeinfo.parse_filename(os.path.basename(relpath))
    # A file name inside the folder's period is the same story told more precisely ("2019/IMG_20190704…");
    # one outside it is the scanner's clock, and the folder a person named wins.
    if named is not None and (folder is None or folderdate.within(named, folder)):
        return timeinfo.from_local(named, None, lat, lon, home_tz, "filename"), "time"
    if folder is not None:
        taken = timeinfo.from_local(folder.local, None, lat, lon, home_tz, "folder-name")
        return taken, folder.precision
    mtime = datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)
    return timeinfo.from_utc(mtime, lat, lon, home_tz, "mtime"), "time"


#: The order above, by source name (the part before any "+gps_tz"/"+home_tz").
SOURCE_ORDER = ("exif", "quicktime", "video", "xmp", "iptc", "xmp-sidecar", "takeout", "filename", "folder-name",
                "mtime")


def ranks_better(new: str | None, old: str | None) -> bool:
    """Is a new reading's source higher in the order than the stored one (another copy of the same bytes)?"""
    def rank(source: str | None) -> int:
        base = (source or "").split("+")[0]
        return SOURCE_ORDER.index(base) if base in SOURCE_ORDER else len(SOURCE_ORDER)

    return rank(new) < rank(old)
