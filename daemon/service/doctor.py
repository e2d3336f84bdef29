"""`homeroll doctor`: the installation checked the way a helpful friend would, each finding with what to do.

An edit missed in the unit gives a service that cannot read the photos or write the export folder, and
nothing says why: the service sees an offline root or a failed export, the household sees no collages.
So every check here names the folder and the one change that fixes it. Each is ``ok``, ``warn`` (works,
but worse than it should: polling instead of inotify, no unit to restart it, an unsynchronised clock) or
``fail`` (something the household will miss). The checks reuse what the service itself decides with:
config.load, liveness.read/assess (as `homeroll status`), store.db.quick_check, store.clock, diskfull,
faces.models.engine_problem; the systemd and kernel facts are in doctor_checks.py.

Doctor never writes the DB or creates it: as root it would leave files the service user cannot open.

Free space (data dir and export folder): fail below ``FAIL_FREE_BYTES`` (50 MB: a few hundred thumbnails,
one night's backup of a small DB); warn below ``WARN_FREE_BYTES`` (1 GB) or below ``WARN_FREE_SHARE`` (5 %)
of the file system, that share counted up to 10 GB (a 4 TB drive with 150 GB free is fine). inotify: warn when the folders under the libraries use more
than ``INOTIFY_SHARE`` (80 %) of ``fs.inotify.max_user_watches`` (the limit is per user, shared with
other programs), since past it the service polls instead.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.errors import UserError
from homeroll.daemon.faces import models as face_models
from homeroll.daemon.service import diskfull, liveness, watch
from homeroll.daemon.service import doctor_checks as facts
from homeroll.daemon.store import clock as store_clock
from homeroll.daemon.store import db as store_db
from homeroll.daemon.store import service as store_service

__all__ = ["Check", "exit_code", "run", "worst"]

FAIL_FREE_BYTES = 50 * 1024 * 1024
WARN_FREE_BYTES = 1024 * 1024 * 1024
WARN_FREE_SHARE = 0.05
WARN_SHARE_CAP_BYTES = 10 * 1024 * 1024 * 1024
INOTIFY_SHARE = 0.8
_RANK = {"ok": 0, "warn": 1, "fail": 2}


def _ctl(unit: facts.Unit | None) -> str:
    """systemctl as the unit needs it: a user unit's commands take --user (and no sudo)."""
    return "systemctl --user" if unit is not None and unit.user_scope else "systemctl"


def _reload(unit: facts.Unit | None) -> str:
    return f"{_ctl(unit)} daemon-reload && {_ctl(unit)} restart homeroll"


class Check(NamedTuple):
    name: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def worst(checks: list[Check]) -> str:
    return max((c.status for c in checks), key=_RANK.__getitem__, default="ok")


def exit_code(checks: list[Check]) -> int:
    """0 all ok, 1 warnings, 2 failures."""
    return _RANK[worst(checks)]


def check_config(path: Path | None) -> tuple[Check, config_mod.Config | None]:
    try:
        cfg = config_mod.load(path)
    except UserError as exc:
        return Check("config", "fail", str(exc), "fix that line in the config; the other checks need it"), None
    return Check("config", "ok", str(cfg.path)), cfg


# --- access as the service user ---------------------------------------------------------------------------

def _writable_targets(cfg: config_mod.Config) -> list[str]:
    db_files = [p for p in (cfg.db_path, Path(f"{cfg.db_path}-wal"), Path(f"{cfg.db_path}-shm")) if p.is_file()]
    return [str(cfg.data_dir), *map(str, db_files)] if cfg.data_dir.is_dir() else []


def check_access(cfg: config_mod.Config, unit: facts.Unit | None) -> list[Check]:
    """Each library readable, the data dir (and its DB files) and the export folder writable, by the service user."""
    user, who = facts.probe_user(unit)
    name = user or who.split()[1]
    writes = _writable_targets(cfg) + ([str(cfg.export_dir)] if cfg.export_dir.is_dir() else [])
    try:
        seen = facts.probe(user, [str(p) for p in cfg.libraries if p.is_dir()], writes, unit)
    except (KeyError, OSError) as exc:
        why = f"no such user or group ({exc.args[0]})" if isinstance(exc, KeyError) else str(exc)
        return [Check("libraries", "fail", f"cannot test {who}: {why}",
                      f"create the service user (useradd --system {name}) or fix User=/Group= in the unit")]
    out = [_library_check(cfg.libraries, seen["read"], who, name)]
    data_bad = {p: e for p, e in seen["write"].items() if e and p != str(cfg.export_dir)}
    if not cfg.data_dir.is_dir():
        out.append(Check("data-dir", "warn", f"{cfg.data_dir} does not exist yet",
                         f"the service makes it at its first start; or: install -d -o {name} {cfg.data_dir}"))
    elif data_bad:
        path, error = next(iter(data_bad.items()))
        out.append(Check("data-dir", "fail", f"{path} is not writable {who} ({error})", f"chown -R {name} {path}"))
    else:
        out.append(Check("data-dir", "ok", f"{cfg.data_dir} writable {who}"))
    out.append(_export_check(cfg.export_dir, seen["write"].get(str(cfg.export_dir)), who, name))
    return out


def _library_check(libraries: list[Path], read: dict, who: str, name: str) -> Check:
    for lib in libraries:
        if not lib.is_dir():
            return Check("libraries", "fail", f"library {lib} does not exist or is not a folder",
                         "mount it, or correct 'libraries' in the config")
        if read.get(str(lib)):
            return Check("libraries", "fail", f"library {lib} is not readable {who} ({read[str(lib)]})",
                         f"give {name} read access: add it to the folder's group (usermod -aG GROUP {name}) "
                         f"or chmod -R g+rX {lib}")
    return Check("libraries", "ok", f"{len(libraries)} readable {who}: {', '.join(map(str, libraries))}")


def _export_check(export: Path, error: str | None, who: str, name: str) -> Check:
    if not export.is_dir():
        return Check("export", "fail", f"{export} does not exist", f"mount it, or: install -d -o {name} {export}")
    if error:
        return Check("export", "fail", f"{export} is not writable {who} ({error})",
                     f"mount it read-write and chown {name} {export}")
    return Check("export", "ok", f"{export} writable {who}")


# --- the systemd unit ---------------------------------------------------------------------------------------

def check_unit(cfg: config_mod.Config, unit: facts.Unit | None) -> list[Check]:
    if unit is None:
        return [Check("unit", "warn", f"no systemd unit installed ({facts.SYSTEM_UNIT} or {facts.user_unit()})",
                      "install one (README, 'Install on a Raspberry Pi'), or pass --unit FILE to check one")]
    where = unit.path
    out = [Check("unit", "fail", f"{key}={path} does not exist: the service will not start",
                 f"create or mount {path}, or remove it from {where}")
           for key in ("ReadOnlyPaths", "ReadWritePaths", "InaccessiblePaths")
           for path, optional in facts.unit_paths(unit, key) if not optional and not os.path.exists(path)]
    for lib in cfg.libraries:
        access, why = facts.access_in_unit(unit, lib)
        if access == "none":
            out.append(Check("unit", "fail", f"library {lib} is hidden from the service ({why})",
                             _unit_fix(lib, why, unit, "ReadOnlyPaths")))
        elif access == "rw":
            out.append(Check("unit", "warn", f"library {lib} is writable by the service ({why})",
                             f"add {lib} to ReadOnlyPaths= in {where}"))
    for label, folder in (("data dir", cfg.data_dir), ("export folder", cfg.export_dir)):
        access, why = facts.access_in_unit(unit, folder)
        if access != "rw":
            out.append(Check("unit", "fail", f"{label} {folder} is not writable inside the unit ({why})",
                             _unit_fix(folder, why, unit, "ReadWritePaths")))
    out += _mount_checks(cfg, unit)
    return out or [Check("unit", "ok", f"{where} matches the config")]


def _unit_fix(folder: Path, why: str, unit: facts.Unit, key: str) -> str:
    where = unit.path
    if why.startswith("ProtectHome"):
        return f"set ProtectHome=read-only in {where}" + (f" and add {folder} to {key}=" if key == "ReadWritePaths" else "")
    if why.startswith("PrivateTmp"):
        return f"move {folder} out of /tmp and /var/tmp (the unit has PrivateTmp=yes)"
    return f"add {folder} to {key}= in {where}, then {_reload(unit)}"


def _mount_point(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _mount_checks(cfg: config_mod.Config, unit: facts.Unit) -> list[Check]:
    """A library or export folder on its own disk should be in RequiresMountsFor=, or the service may start
    before the disk is mounted (and see the root offline until it is)."""
    required = [Path(p) for p, _ in facts.unit_paths(unit, "RequiresMountsFor")]
    out = []
    for folder in [*cfg.libraries, cfg.export_dir]:
        mount = _mount_point(folder)
        if mount == Path("/") or any(r == mount or mount in r.parents for r in required):
            continue
        out.append(Check("unit", "warn", f"{folder} is on the mount {mount}, which RequiresMountsFor= does not name",
                         f"add {folder} to RequiresMountsFor= in {unit.path}"))
    return out


def _network_blocked(unit: facts.Unit) -> str | None:
    if unit.flag("PrivateNetwork"):
        return "PrivateNetwork=yes"
    families = unit.words("RestrictAddressFamilies")
    if families:
        denied = families[0].startswith("~")
        listed = {f.lstrip("~") for f in families}
        if (denied and {"AF_INET", "AF_INET6"} <= listed) or (not denied and not listed & {"AF_INET", "AF_INET6"}):
            return f"RestrictAddressFamilies={' '.join(families)}"
    if {"any", "0.0.0.0/0"} & set(unit.words("IPAddressDeny")) and not unit.words("IPAddressAllow"):
        return "IPAddressDeny=any"
    return None


def check_network(cfg: config_mod.Config, unit: facts.Unit | None) -> Check:
    """Online features (the opt-in geocoder, notification digests) against a unit with no network."""
    geocoder = cfg["geocoder"]
    online = [f"[geocoder] provider = {geocoder['provider']!r}"] if geocoder["provider"] != "offline" else []
    if cfg["notify"]["urls"]:
        online.append(f"[notify] urls ({len(cfg['notify']['urls'])})")
    if not online:
        return Check("network", "ok", "nothing online is configured: the service needs no network")
    what = " and ".join(online)
    blocked = _network_blocked(unit) if unit is not None else None
    if blocked is None:
        return Check("network", "ok", f"{what} and the unit allows the network"
                     if unit is not None else f"{what}; no unit to check")
    return Check("network", "fail", f"{what} but the unit forbids the network ({blocked})",
                 "systemctl edit homeroll: PrivateNetwork=no, RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6, "
                 "IPAddressDeny= (README, 'Opt-in online geocoder: what to relax', and 'Notifications (opt-in)')")


# --- the service and its DB -----------------------------------------------------------------------------------

def _open_db(cfg: config_mod.Config, unit: facts.Unit | None = None):
    """The DB as it is, or (None, the check that says why not). Never created, never migrated here."""
    if not cfg.db_path.is_file():
        return None, Check("database", "warn", f"no database at {cfg.db_path} yet",
                           f"start the service ({_ctl(unit)} enable --now homeroll, or homeroll run): it creates it")
    try:
        db = store.connect(cfg.db_path, migrate=False)
        return db, Check("database", "ok", "")
    except Exception as exc:  # noqa: BLE001 - any failure to open is the finding
        return None, _db_failure(cfg, exc)


def _db_failure(cfg: config_mod.Config, exc: BaseException) -> Check:
    if diskfull.is_disk_full(exc, cfg.data_dir):
        return Check("database", "fail", diskfull.full_reason(cfg.data_dir), "free space there or move data_dir")
    if store_db.is_damaged(exc):
        return Check("database", "fail", f"{cfg.db_path} is damaged: {exc}", "homeroll db check; homeroll db restore")
    return Check("database", "fail", f"{cfg.db_path}: {exc}", "homeroll db check")


def check_database(cfg: config_mod.Config, db) -> Check:
    try:
        result = store_db.quick_check(db)
    except Exception as exc:  # noqa: BLE001 - a check that cannot run is the finding
        return _db_failure(cfg, exc)
    if result != "ok":
        return Check("database", "fail", f"quick_check of {cfg.db_path}: {result}",
                     "homeroll db check, then homeroll db restore from a backup")
    return Check("database", "ok", f"{cfg.db_path}: quick_check ok")


def check_service(cfg: config_mod.Config, db, now: datetime, unit: facts.Unit | None = None) -> Check:
    kv = store_service.status(db)["kv"]
    facts_seen = liveness.read(cfg.data_dir, kv)
    seen = liveness.assess(kv, facts_seen, now)
    state = seen["state"]
    if state in ("running", "starting"):
        return Check("service", "ok", f"{state}, last heartbeat {seen['heartbeat']}")
    if state == "not responding":
        pid = kv.get("service.pid")
        gone = f"; pid {pid} is gone" if pid and facts_seen.pid_alive is False else ""
        return Check("service", "fail", f"not responding since {seen['not_responding_since'] or 'its start'}{gone}",
                     f"{_ctl(unit)} restart homeroll; journalctl {'--user ' if _ctl(unit) != 'systemctl' else ''}"
                     "-u homeroll says why it stopped")
    if state == "degraded":
        return Check("service", "fail", f"degraded: {kv.get('service.degraded_reason') or 'see its log'}",
                     "free space in the data dir; the service resumes by itself")
    what = "never started" if state is None else state
    return Check("service", "warn", f"{what}", f"{_ctl(unit)} enable --now homeroll (or homeroll run)")


def check_space(name: str, folder: Path, key: str) -> Check:
    try:
        free, total = diskfull.free_bytes(folder)
    except OSError as exc:
        return Check(name, "fail", f"{folder}: free space unknown ({exc.strerror or exc})", "is it mounted?")
    line = f"{folder}: {diskfull.describe(folder)}"
    if free < FAIL_FREE_BYTES:
        return Check(name, "fail", f"{line}, under {diskfull.human(FAIL_FREE_BYTES)}",
                     f"free space there, or point {key} at a bigger disk")
    if free < max(WARN_FREE_BYTES, min(WARN_FREE_SHARE * total, WARN_SHARE_CAP_BYTES)):
        return Check(name, "warn", f"{line}, getting low", f"free space there soon, or point {key} at a bigger disk")
    return Check(name, "ok", line)


def check_clock(db, now: datetime) -> Check:
    if db is not None and store_clock.clock_is_behind(db, now):
        trusted = store_clock.trusted_now(db, now).isoformat(timespec="seconds")
        return Check("clock", "fail", f"the system clock reads {now.isoformat(timespec='seconds')}, before the last "
                     f"time this library saw ({trusted})",
                     "set the time (timedatectl set-ntp true, or date -s); nothing is marked missing until then")
    synced, source = facts.ntp_synchronised()
    if synced is None:
        return Check("clock", "warn", "cannot tell whether the clock is synchronised",
                     "install systemd-timesyncd or chrony (a Pi has no real-time clock)")
    if not synced:
        return Check("clock", "warn", f"not synchronised, says {source}",
                     "timedatectl set-ntp true (a Pi without a real-time clock boots with a wrong time)")
    return Check("clock", "ok", f"synchronised, says {source}")


# --- inotify and faces ----------------------------------------------------------------------------------------

def check_inotify(cfg: config_mod.Config) -> Check:
    if cfg["watch"]["mode"] == "polling":
        return Check("inotify", "ok", "[watch] mode = 'polling': no inotify watches needed")
    roots = [lib for lib in cfg.libraries if not watch.needs_polling(watch.fstype_for(str(lib)))]
    limit = facts.watch_limit()
    if limit is None:
        return Check("inotify", "warn", f"cannot read {facts.WATCHES_PROC}", "")
    folders = facts.count_folders(roots, limit + 1)  # one past the limit says "more than"
    shown = f"{folders:,}" if folders <= limit else f"more than {limit:,}"
    line = f"{shown} folders to watch, fs.inotify.max_user_watches = {limit:,}"
    fix = ("echo 'fs.inotify.max_user_watches=524288' | sudo tee /etc/sysctl.d/90-homeroll.conf && "
           "sudo sysctl --system && sudo systemctl restart homeroll")
    if folders > limit:
        return Check("inotify", "warn", f"{line}: the service polls instead", fix)
    if folders > INOTIFY_SHARE * limit:
        return Check("inotify", "warn", f"{line}: close to the limit", fix)
    return Check("inotify", "ok", line)


def check_faces(cfg: config_mod.Config) -> Check:
    faces = cfg["faces"]
    if not faces["enabled"]:
        return Check("faces", "ok", "disabled ([faces] enabled = false)")
    problem = face_models.engine_problem(faces["detector"])
    if problem:
        return Check("faces", "fail", f"faces engine cannot load: {problem}",
                     "pip install dlib-bin face-recognition-models, or set [faces] enabled = false")
    return Check("faces", "ok", f"engine loadable ({faces['detector']})")


def run(config_path: Path | str | None, unit_file: Path | None = None, now: datetime | None = None) -> list[Check]:
    """Every check, in the order a person would fix them; only the config check when the config is bad."""
    now = now or datetime.now(UTC)
    first, cfg = check_config(Path(config_path) if config_path else None)
    if cfg is None:
        return [first]
    checks = [first]
    unit_path = facts.find_unit(unit_file)
    try:
        unit = facts.parse_unit(unit_path) if unit_path is not None else None
    except OSError as exc:
        return [*checks, Check("unit", "fail", f"cannot read {unit_path}: {exc.strerror or exc}", "")]
    checks += check_access(cfg, unit) + check_unit(cfg, unit) + [check_network(cfg, unit)]
    db, opened = _open_db(cfg, unit)
    try:
        if db is None:
            checks.append(opened)
        else:
            checks += [check_service(cfg, db, now, unit), check_database(cfg, db)]
        checks += [check_space("data-space", cfg.data_dir, "data_dir"),
                   check_space("export-space", cfg.export_dir, "export_dir"),
                   check_inotify(cfg), check_clock(db, now), check_faces(cfg)]
    finally:
        if db is not None:
            db.close()
    return checks
