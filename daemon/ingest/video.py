"""Video metadata and a poster frame through PyAV (FFmpeg): creation time, Apple's local date, ISO 6709 place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from homeroll.daemon.ingest import timeinfo
from homeroll.daemon.ingest.metadata import SkipFile, valid_position

VIDEO_EXTENSIONS = {".mov", ".mp4", ".m4v", ".3gp", ".3g2"}

_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")
_APPLE_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?([+-]\d{2}):?(\d{2})$")


@dataclass
class VideoInfo:
    format: str
    width: int
    height: int
    duration: float | None
    creation_utc: datetime | None
    apple_local: datetime | None
    apple_offset: int | None
    lat: float | None
    lon: float | None
    make: str | None
    model: str | None
    rotation: int = 0

    @property
    def camera(self) -> str | None:
        return " ".join(p for p in (self.make, self.model) if p) or None

    def taken_at(self, home_tz: str) -> timeinfo.TakenAt | None:
        if self.apple_local is not None and timeinfo.plausible(self.apple_local):
            return timeinfo.from_local(self.apple_local, self.apple_offset, self.lat, self.lon, home_tz, "quicktime")
        if self.creation_utc is not None:
            naive = self.creation_utc.replace(tzinfo=None)
            if timeinfo.plausible(naive):
                return timeinfo.from_utc(self.creation_utc, self.lat, self.lon, home_tz, "video")
        return None


def parse_iso6709(value: str | None) -> tuple[float | None, float | None]:
    """'+38.7100-009.1400+010.000/' -> (38.71, -9.14); only the decimal-degree form phones write."""
    if not value:
        return None, None
    match = _ISO6709.match(value)
    if not match:
        return None, None
    return valid_position(float(match.group(1)), float(match.group(2)))


def parse_creation_time(value: str | None) -> datetime | None:
    """FFmpeg's creation_time ('2024-01-01T12:00:00.000000Z'); 1904/1970 epochs mean 'unset'."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_apple_date(value: str | None) -> tuple[datetime | None, int | None]:
    """'2024-01-01T13:00:00+0100' -> (local wall time, +60)."""
    if not value:
        return None, None
    match = _APPLE_DATE.match(value.strip())
    if not match:
        return None, None
    y, mo, d, h, mi, s, oh, om = match.groups()
    try:
        local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
    except ValueError:
        return None, None
    offset = int(oh) * 60 + (int(om) if not oh.startswith("-") else -int(om))
    return local, offset


def _tag(metadata: dict, *names: str) -> str | None:
    lowered = {k.lower(): v for k, v in metadata.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value:
            return value
    return None


def read_video(path: str) -> VideoInfo:
    import av

    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.error.InvalidDataError, av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise SkipFile(f"unreadable video ({type(exc).__name__})") from None
    with container:
        streams = container.streams.video
        if not streams:
            raise SkipFile("video without a video stream")
        stream = streams[0]
        meta = dict(container.metadata)
        for s in container.streams:
            for key, value in s.metadata.items():
                meta.setdefault(key, value)
        lat, lon = parse_iso6709(_tag(meta, "com.apple.quicktime.location.ISO6709", "location", "location-eng"))
        apple_local, apple_offset = parse_apple_date(_tag(meta, "com.apple.quicktime.creationdate"))
        duration = container.duration / 1_000_000 if container.duration else None
        rotation = 0
        try:
            rotation = int(float(meta.get("rotate", 0)))
        except ValueError:
            rotation = 0
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation % 180 == 90:
            width, height = height, width
        return VideoInfo(
            format=(path.rsplit(".", 1)[-1] or "video").upper(),
            width=width,
            height=height,
            duration=duration,
            creation_utc=parse_creation_time(_tag(meta, "creation_time")),
            apple_local=apple_local,
            apple_offset=apple_offset,
            lat=lat,
            lon=lon,
            make=_tag(meta, "com.apple.quicktime.make", "make"),
            model=_tag(meta, "com.apple.quicktime.model", "model"),
            rotation=rotation,
        )


def poster_frame(path: str, max_side: int = 1024):
    """A PIL image of the first decodable frame about one second in (black intro frames are common)."""
    import av

    with av.open(path, metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        target = None
        if stream.duration and stream.time_base:
            target = min(int(1 / stream.time_base), stream.duration // 2)
        if target:
            try:
                container.seek(target, stream=stream)
            except av.error.FFmpegError:
                container.seek(0)
        for frame in container.decode(stream):
            image = frame.to_image()
            image.thumbnail((max_side, max_side))
            return image
    raise SkipFile("video has no decodable frame")
