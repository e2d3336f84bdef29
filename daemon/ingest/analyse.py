"""One file in, one record (or a skip reason) out: hash, metadata, taken_at, thumbnail, quality.

Runs inside a worker process (see ``workers``), so a decoder that crashes or hangs on a hostile file
takes down only that worker. Writes only the thumbnail, into the data dir.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import xxhash

from homeroll.daemon.ingest import dating, timeinfo
from homeroll.daemon.ingest.metadata import SkipFile, open_photo
from homeroll.daemon.ingest.video import VIDEO_EXTENSIONS, poster_frame, read_video

CHUNK = 1 << 20
_SCREENSHOT_NAME = re.compile(r"screen[ _-]?shot|screen[_ ]?recording|screenrecord|screencast", re.I)
_MESSENGER_NAME = re.compile(r"^(IMG|VID|AUD|PTT|STK)-\d{8}-WA\d+|^signal-\d{4}-\d{2}-\d{2}|^photo_\d+@\d{2}-\d{2}-\d{4}", re.I)
_MESSENGER_DIRS = {"whatsapp", "whatsapp images", "whatsapp video", "signal", "telegram", "telegram images",
                   "telegram video", "messenger"}


def content_hash(path: str) -> str:
    """xxh3-128 of the whole file: the item's identity (fast enough for a Pi without SHA extensions)."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_messenger(relpath: str) -> bool:
    parts = [p.lower() for p in relpath.split("/")]
    return _MESSENGER_NAME.search(parts[-1]) is not None or any(p in _MESSENGER_DIRS for p in parts[:-1])


def is_screenshot(relpath: str, fmt: str, has_camera: bool) -> bool:
    parts = relpath.split("/")
    if _SCREENSHOT_NAME.search(parts[-1]) or any(_SCREENSHOT_NAME.search(p) for p in parts[:-1]):
        return True
    return fmt == "PNG" and not has_camera


def analyse(path: str, relpath: str, settings: dict[str, Any],
            sidecars: dict[str, str] | None = None) -> dict[str, Any]:
    """Return {"record": {...}} or raise SkipFile. ``settings``: home_tz, data_dir, thumbnail_size, thumbnails,
    and ``clock_floor`` (optional): the time the DB trusts, so a Pi booted in 1970 rejects no date as future.

    ``sidecars``: kind ("xmp", "takeout") -> absolute path of the files ``sidecars.pair_folder`` paired
    with this one. What they say, and why any was not used, comes back in the result. Only photos and
    videos come here: the classify stage gives other types their skip reason without a worker.
    """
    timeinfo.use_clock_floor(settings.get("clock_floor"))
    before = os.stat(path)
    if before.st_size == 0:
        raise SkipFile("empty file (0 bytes)")
    try:
        digest = content_hash(path)
    except OSError as exc:
        raise SkipFile(f"unreadable ({exc.strerror})") from None
    home_tz = settings["home_tz"]
    record: dict[str, Any] = {"hash": digest, "size": before.st_size, "is_messenger": int(is_messenger(relpath))}
    read = _read_video if os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS else _read_photo
    taken, evidence, thumb_image, warning = read(path, relpath, settings, sidecars, record)
    precision = "time"
    if taken is None:
        taken, precision = dating.fallback_time(evidence, relpath, before.st_mtime_ns, record.get("lat"),
                                                record.get("lon"), home_tz)
    record.update(
        taken_at_local=taken.local_iso(), utc_offset_min=taken.offset_min, tz_name=taken.tz_name,
        taken_at_source=taken.source, taken_at_utc=taken.utc_iso(), taken_at_precision=precision,
        name_hints=list(evidence.people),
    )
    if thumb_image is not None:
        from homeroll.daemon.ingest.thumbs import quality_signals, write_thumbnail

        record.update(quality_signals(thumb_image))
        record["thumb"] = write_thumbnail(thumb_image, Path(settings["data_dir"]), digest)
    after = os.stat(path)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise SkipFile("still changing (modified while being read)")
    return {"record": record, "size": before.st_size, "mtime_ns": before.st_mtime_ns, "warning": warning,
            "sidecar_notes": evidence.sidecar_notes}


def _read_video(path: str, relpath: str, settings: dict[str, Any], sidecars: dict[str, str] | None,
                record: dict[str, Any]) -> tuple:
    """Fill ``record`` from a video; (taken or None, evidence, poster frame or None, warning)."""
    info = read_video(path)
    evidence = dating.gather(None, sidecars)
    if info.lat is None and evidence.positions:
        info.lat, info.lon = evidence.positions[0]
    record.update(kind="video", format=info.format, width=info.width, height=info.height, orientation=1,
                  camera=info.camera, duration=info.duration, lat=info.lat, lon=info.lon)
    poster, warning = None, None
    if settings.get("thumbnails", True):
        try:
            poster = poster_frame(path, settings["thumbnail_size"])
        except SkipFile:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken stream means no poster, not no item
            warning = f"no poster frame ({type(exc).__name__})"
    return info.taken_at(settings["home_tz"]), evidence, poster, warning


def _read_photo(path: str, relpath: str, settings: dict[str, Any], sidecars: dict[str, str] | None,
                record: dict[str, Any]) -> tuple:
    """Fill ``record`` from a still; (taken or None, evidence, thumbnail image or None, warning)."""
    image, info = open_photo(path)
    with image:
        evidence = dating.gather(image, sidecars, save_time=info.save_time)
        if info.lat is None and evidence.positions:
            info.lat, info.lon = evidence.positions[0]
        taken = dating.with_xmp_offset(info.taken_at(settings["home_tz"]), evidence)
        width, height = info.displayed_size
        kind = "screenshot" if is_screenshot(relpath, info.format, bool(info.make or info.model)) else "photo"
        record.update(kind=kind, format=info.format, width=width, height=height, orientation=info.orientation,
                      camera=info.camera, lat=info.lat, lon=info.lon)
        warning = "; ".join(w for w in (info.metadata_warning, *evidence.warnings) if w) or None
        thumb_image = None
        if settings.get("thumbnails", True):
            from homeroll.daemon.ingest.thumbs import decode_for_thumbnail

            thumb_image = decode_for_thumbnail(image, settings["thumbnail_size"])
            record["width"], record["height"] = _displayed_from_thumb(width, height, thumb_image)
    return taken, evidence, thumb_image, warning


def _displayed_from_thumb(width: int, height: int, thumb) -> tuple[int, int]:
    """Trust the header size, but take the orientation (portrait/landscape) the decoded pixels show."""
    if (thumb.width > thumb.height) != (width > height) and thumb.width != thumb.height:
        return height, width
    return width, height
