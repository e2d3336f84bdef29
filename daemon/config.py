"""TOML configuration: where the libraries, the data dir and the export folder are, and every tunable.

One file, read at start and on SIGHUP. Every key has a default here, so a config written by
`homeroll init` stays short and old configs keep working when new keys appear.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
import tomli_w

from homeroll.daemon.errors import UserError
from homeroll.daemon.store import fsutil

_CRON_LINE = re.compile(r"^\s*[\w*/,?#-]+(\s+[\w*/,?#-]+){4}\s*$")

#: Every section and key with its default. Documented in docs/config.md (a test checks that).
DEFAULTS: dict[str, dict[str, Any]] = {
    "scan": {
        # Pillow refuses images above this many pixels (decompression bombs); raise it for 108/200 MP phones.
        "max_image_pixels": 80_000_000,
        # A decoder that takes longer than this on one file is stopped and the file skipped.
        "per_file_timeout": 60,
        # Worker processes for indexing; 0 = one less than the cores, at least one.
        "workers": 0,
        # Folder names (anywhere under a root) that are never indexed.
        "excluded_folders": [],
        "thumbnail_size": 512,
    },
    "watch": {
        # "auto" picks polling on network/FUSE mounts, "inotify" or "polling" force one.
        "mode": "auto",
        "stable_seconds": 5.0,
        "poll_interval": 10.0,
        "reconcile_hours": 6.0,
        "missing_grace_days": 7.0,
        # How often the service checks that each root is still there (missing/emptied/unmounted = offline).
        "root_check_seconds": 60.0,
        # Paths waiting to settle; beyond this the service stops tracking single files and reconciles.
        "max_pending": 50_000,
    },
    "faces": {
        "enabled": True,
        "disabled_roots": [],
        "workers": 0,
        "detector": "hog",
        "distance_threshold": 0.5,
        "min_cluster_size": 3,
        "batch_size": 200,
        "cron": "*/30 * * * *",
        # Long side (px) of the first detection pass, and of the second pass run only when small faces were found.
        "detect_size": 1024,
        "detect_size_max": 1600,
        # HOG/CNN upsampling of the detection image (1 finds faces down to ~40 px at detect_size).
        "upsample": 1,
        # Niceness added in face worker processes.
        "nice": 10,
    },
    "memories": {
        "cron": "30 3 * * *",
        "home_lat": None,
        "home_lon": None,
        "home_country": None,
        "trip_min_km": 50.0,
        "excluded_folders": [],
        "on_this_day_window_days": 3,
        "min_picks": 6,
        "max_picks": 30,
        # Home: a base needs this many photos over >= home_min_span_days on >= home_min_share of those days.
        "home_min_photos": 10,
        "home_min_span_days": 90,
        "home_min_share": 0.10,
        # Trips: up to this many days without evidence (no photos / no GPS) inside one trip.
        "trip_max_gap_days": 2,
        "trip_min_photos": 10,
        # One day away (> trip_min_km, back the same day) is a "day out" with at least this many photos.
        "day_out_min_photos": 12,
        # Gatherings: photos at home closer than this in time form a session; a gathering is a session
        # with >= gathering_min_photos moments and >= gathering_rate_factor x the library's usual session.
        "gathering_gap_minutes": 60,
        "gathering_min_photos": 15,
        "gathering_rate_factor": 4.0,
        "gathering_max_per_year": 24,
        "holiday_min_photos": 10,
        "birthday_window_days": 2,
        "birthday_min_photos": 3,
        "on_this_day_min_photos": 5,
        "on_this_day_min_years": 2,
        # People: "<Name> through the years" needs photos in this many years; pairs need this many together.
        "people_min_years": 3,
        "pair_min_photos": 10,
        "pair_max": 5,
        # The name of the person who is "you" (for "You and Ben"); empty = pairs are titled "Anna & Ben".
        "me": "",
        # Near-duplicates and bursts: frames this close in time and perceptual hash collapse to the best one.
        "burst_seconds": 5.0,
        "burst_hamming": 10,
        # A hidden person: "photos" leaves out the photos they are in, "days" every photo of a day they are in;
        # an occasion with this many photos is a memory; "2024 in review" from 1 January on.
        "hide_mode": "photos",
        "occasion_min_photos": 3,
        "year_in_review": True,
        "year_in_review_picks": 40,
    },
    "export": {
        "auto": True,
        "cron": "*/15 * * * *",
        "layout": "auto",
        "size": "landscape",
        "style": "clean",
        "file_mode": "0644",
        "title": True,
        # Space between photos and around the page, as fractions of the page's shorter side.
        "gutter": 0.012,
        "margin": 0.035,
        # "" = the style's own colour; else a colour name or "#rrggbb".
        "background": "",
        # "" = Source Sans Pro (font-source-sans-pro), else DejaVu Sans, else Pillow's bundled font.
        "font": "",
        "jpeg_quality": 90,
        # What an approved memory becomes: any of "collage", "video", "album" (see export_outputs below).
        "outputs": ["collage", "video"],
        # The film's height in pixels (1080 = 1920x1080; 720 for slow Pis) and length (0 = automatic, 20-60 s).
        "video_height": 1080,
        "video_seconds": 0,
        # At most this long from each of the memory's own videos.
        "clip_seconds": 3.0,
        # "" = no music; else a folder of the household's own mp3/m4a/ogg/flac (never shipped or fetched).
        "music_dir": "",
        # "auto" = the Pi's hardware encoder where it works, else libx264; or name one.
        "video_encoder": "auto",
    },
    "backup": {
        # Nightly backups of the DB kept in <data_dir>/backups (the oldest beyond this are deleted); 0 = none.
        "keep": 7,
        "cron": "0 3 * * *",
    },
    "notify": {
        # Opt-in digests of new suggestions through apprise: [] = off, no socket is ever opened.
        "urls": [],
        "cron": "0 19 * * *",
        "attach_cover": False,  # otherwise titles, counts and reasons only
        "retry_minutes": 30,
    },
    "geocoder": {
        # "offline" never opens a socket. "nominatim" or "photon" use geopy against `url` (opt-in).
        "provider": "offline",
        "url": "",
        "user_agent": "homeroll",
        "min_delay_seconds": 1.0,
        # Prefer the most populous place within this radius ('Baixa' is 'Lisbon').
        "prefer_populous_km": 8.0,
    },
}


def known_keys() -> list[str]:
    """Every setting this version knows, as ``section.key``: an upgrade lists the ones the last version lacked."""
    return sorted(f"{section}.{key}" for section, values in DEFAULTS.items() for key in values)


#: Where `homeroll setup` puts the system service's config: members of its group read it from here.
SYSTEM_CONFIG = Path("/etc/homeroll/config.toml")


def user_config_path() -> Path:
    """Where this login's own config is written (`init`, `setup --user-unit`): $HOMEROLL_CONFIG, else the
    platform config dir."""
    env = os.environ.get("HOMEROLL_CONFIG")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir("homeroll")) / "config.toml"


def default_config_path() -> Path:
    """The config a command reads without --config: this login's own, else the system service's, so a
    household member types `homeroll tui`, not the path of /etc/homeroll/config.toml."""
    own = user_config_path()
    if own.exists() or "HOMEROLL_CONFIG" in os.environ or not SYSTEM_CONFIG.is_file():
        return own
    return SYSTEM_CONFIG


@dataclass
class Config:
    """The loaded configuration: top-level paths plus one dict per section, defaults filled in."""

    path: Path
    libraries: list[Path]
    data_dir: Path
    export_dir: Path
    home_tz: str
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.sections[section]

    @property
    def db_path(self) -> Path:
        return self.data_dir / "homeroll.db"

    @property
    def thumbs_dir(self) -> Path:
        return self.data_dir / "thumbs"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.home_tz)

    def to_toml(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "libraries": [str(p) for p in self.libraries],
            "data_dir": str(self.data_dir),
            "export_dir": str(self.export_dir),
            "home_tz": self.home_tz,
        }
        for name, values in self.sections.items():
            changed = {k: v for k, v in values.items() if v != DEFAULTS[name].get(k) and v is not None}
            if changed:
                data[name] = changed
        return data


def _check_zone(name: str, where: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(f"{where}: unknown time zone {name!r} (use an IANA name like Europe/Lisbon)") from exc
    return name


def _check_backup(path: Path, backup: dict[str, Any]) -> None:
    """Checked at load, not when the job is due: a typo must not mean weeks without backups, found out later.

    The cron line gets a shape check only (five fields); the service's scheduler parses it fully at start
    (service/jobs.py), and importing APScheduler here would slow every CLI command.
    """
    keep = backup["keep"]
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 0:
        raise UserError(f"{path}: [backup] keep = {keep!r} must be a whole number >= 0 (0 = no nightly backups)")
    cron = backup["cron"]
    if not isinstance(cron, str) or not _CRON_LINE.match(cron):
        raise UserError(f"{path}: [backup] cron = {cron!r} is not a crontab line (five fields, e.g. '30 3 * * *')")


#: What an export can write, in the order they are rendered.
EXPORT_OUTPUTS = ("collage", "video", "album")
#: The encoders collage/encoder.py knows (it takes this list: a config load must not import PyAV).
VIDEO_ENCODERS = ("auto", "libx264", "h264_v4l2m2m")


def export_outputs(value: Any, where: str) -> tuple[str, ...]:
    """``[export] outputs`` (a list) or ``--outputs`` (a comma list) as a tuple in EXPORT_OUTPUTS order."""
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise UserError(f"{where} = {value!r} must be a list like [\"collage\", \"video\"]")
    unknown = [n for n in names if n not in EXPORT_OUTPUTS]
    if unknown or not names:
        what = f"unknown output {unknown[0]!r}" if unknown else "no output"
        raise UserError(f"{where}: {what} (choose one or more of {', '.join(EXPORT_OUTPUTS)})")
    return tuple(n for n in EXPORT_OUTPUTS if n in names)


def _check_export(path: Path, export: dict[str, Any]) -> None:
    """The video settings are checked at load: a typo must not surface as a failed render at 3 am."""
    if isinstance(export["outputs"], str):  # a comma list is for --outputs; the file says it as TOML does
        raise UserError(f"{path}: [export] outputs = {export['outputs']!r} must be a list like [\"collage\", \"video\"]")
    export_outputs(export["outputs"], f"{path}: [export] outputs")
    if export["video_seconds"] and isinstance(export["video_seconds"], int | float) and export["video_seconds"] < 10:
        # cards and one photo take about 5 s: shorter can never render, and would fail every export
        raise UserError(f"{path}: [export] video_seconds = {export['video_seconds']!r} must be 0 (from the picks) "
                        "or at least 10")
    for key, low, high in (("video_height", 144, 2160), ("video_seconds", 0, 600), ("clip_seconds", 0.5, 30)):
        value = export[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise UserError(f"{path}: [export] {key} = {value!r} must be a number from {low} to {high}")
    if export["video_height"] % 2:
        raise UserError(f"{path}: [export] video_height = {export['video_height']!r} must be even (H.264 needs it)")
    if not isinstance(export["music_dir"], str):
        raise UserError(f"{path}: [export] music_dir = {export['music_dir']!r} must be a folder name or \"\"")
    if export["video_encoder"] not in VIDEO_ENCODERS:
        raise UserError(f"{path}: [export] video_encoder = {export['video_encoder']!r}: choose from "
                        f"{', '.join(VIDEO_ENCODERS)}")


def _check_household(path: Path, memories: dict[str, Any], notify: dict[str, Any], watch: dict[str, Any]) -> None:
    """A typo must not show a hidden person, fail a digest at 7 pm or stop the service with an internal error."""
    if watch["mode"] not in ("auto", "inotify", "polling"):
        raise UserError(f"{path}: [watch] mode = {watch['mode']!r} must be 'auto', 'inotify' or 'polling'")
    if memories["hide_mode"] not in ("photos", "days"):
        raise UserError(f"{path}: [memories] hide_mode = {memories['hide_mode']!r} must be 'photos' or 'days'")
    urls = notify["urls"]
    if not isinstance(urls, list) or not all(isinstance(u, str) and u.strip() for u in urls):
        raise UserError(f"{path}: [notify] urls = {urls!r} must be a list of apprise URLs like [\"ntfy://host/topic\"]")
    cron = notify["cron"]
    if not isinstance(cron, str) or not _CRON_LINE.match(cron):
        raise UserError(f"{path}: [notify] cron = {cron!r} is not a crontab line (five fields, e.g. '0 19 * * *')")


def system_zone() -> str:
    """The machine's zone name, for `init` when --home-tz is not given."""
    try:
        import tzlocal

        return tzlocal.get_localzone_name() or "UTC"
    except Exception:  # noqa: BLE001 - any failure means we simply fall back to UTC
        return "UTC"


def build(
    path: Path,
    libraries: list[Path],
    data_dir: Path,
    export_dir: Path,
    home_tz: str,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> Config:
    sections = copy.deepcopy(DEFAULTS)
    for name, values in (overrides or {}).items():
        if name not in sections:
            raise UserError(f"{path}: unknown section [{name}]")
        for key, value in values.items():
            if key not in sections[name]:
                raise UserError(f"{path}: unknown key {key!r} in [{name}]")
            sections[name][key] = value
    _check_backup(path, sections["backup"])
    _check_export(path, sections["export"])
    _check_household(path, sections["memories"], sections["notify"], sections["watch"])
    libs = [Path(p).expanduser().absolute() for p in libraries]
    data = Path(data_dir).expanduser().absolute()
    lib = library_containing(data, libs)
    if lib is not None:
        raise UserError(f"{path}: data_dir {data} is inside library {lib}; homeroll never writes to a library")
    return Config(
        path=path,
        libraries=libs,
        data_dir=data,
        export_dir=Path(export_dir).expanduser().absolute(),
        home_tz=_check_zone(home_tz, str(path)),
        sections=sections,
    )


def library_containing(path: Path, libraries: list[Path]) -> Path | None:
    """The library ``path`` is in (or is), symlinks resolved: homeroll writes nothing there."""
    resolved = Path(path).resolve()
    for lib in libraries:
        lib_resolved = lib.resolve()
        if resolved == lib_resolved or lib_resolved in resolved.parents:
            return lib
    return None


def load(path: Path | str | None = None) -> Config:
    cfg_path = Path(path) if path else default_config_path()
    try:
        raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"no config at {cfg_path}: run `homeroll init --library DIR --data DIR --export DIR`") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{cfg_path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise UserError(f"{cfg_path}: not UTF-8 text (save it as UTF-8)") from None
    except OSError as exc:
        raise UserError(f"{cfg_path}: cannot read ({exc.strerror})") from None
    for key in ("libraries", "data_dir", "export_dir"):
        if key not in raw:
            raise UserError(f"{cfg_path}: missing {key!r}")
    if not isinstance(raw["libraries"], list) or not raw["libraries"]:
        raise UserError(f"{cfg_path}: 'libraries' must be a non-empty list of folders")
    known = {"libraries", "data_dir", "export_dir", "home_tz", *DEFAULTS}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UserError(f"{cfg_path}: unknown key {unknown[0]!r}")
    overrides = {k: v for k, v in raw.items() if k in DEFAULTS}
    for name, values in overrides.items():
        if not isinstance(values, dict):
            raise UserError(f"{cfg_path}: [{name}] must be a table")
    return build(cfg_path, [Path(p) for p in raw["libraries"]], Path(raw["data_dir"]), Path(raw["export_dir"]),
                 raw.get("home_tz") or "UTC", overrides)


def save(cfg: Config) -> None:
    """Write the config atomically so a crash never leaves half a file."""
    cfg.path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.write_atomic(cfg.path, tomli_w.dumps(cfg.to_toml()).encode("utf-8"))
