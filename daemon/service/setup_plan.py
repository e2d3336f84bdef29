"""`homeroll setup`: the README's Raspberry Pi steps as one plan of files, folders and commands.

The plan: the service user (joined to the groups that can read the libraries), the household members
joined to its group (setup_household.py), the data dir shared with that group, the DB migrated on
`--upgrade` (setup_upgrade.py), the export folder, config, unit, `/usr/local/bin/homeroll`, the inotify
sysctl, and systemctl. `--user-unit` builds the same for one login (setup_user.py).

A plan first, then apply or print it: `--dry-run` shows exactly what a real run would do because both
walk the same list. Re-running is safe: the config is loaded and only its libraries, export folder and
zone change; a file whose content is already right is not rewritten; the data dir (the DB) is only
created when missing, never touched otherwise.

`root` (tests, CI) prefixes every file and folder setup owns (/etc, /var/lib); the libraries and the export
folder are the user's own paths and are used as given. With a root, commands that change the machine's
users are printed, not run, unless `real_users`; systemctl and sysctl are never run with a root (the unit
they would load is not in the real /etc).
"""

from __future__ import annotations

import grp
import pwd
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from homeroll.daemon import config as config_mod
from homeroll.daemon.errors import UserError
from homeroll.daemon.service import doctor_checks, setup_household, setup_upgrade, unitgen

DATA_DIR = Path("/var/lib/homeroll")
SYSCTL_PATH = Path("/etc/sysctl.d/90-homeroll.conf")
COMMAND_LINK = Path("/usr/local/bin/homeroll")
WATCHES_PROC = doctor_checks.WATCHES_PROC
#: The folder walk stops here: enough to know a big library needs more watches, without walking it all.
WALK_LIMIT = 1_000_000
#: Watches other programs of the same user may hold, and folders added later.
WATCH_HEADROOM = 2.0
MIN_WATCHES = 524_288


@dataclass
class Request:
    """What was asked. Libraries and export folder may be left out when a config exists (a re-run, a member
    added, an upgrade): the config's are used."""

    libraries: list[Path] = field(default_factory=list)
    export_dir: Path | None = None
    home_tz: str | None = None
    user: str = "homeroll"
    root: Path | None = None
    real_users: bool = False
    python: str | None = None
    members: list[str] = field(default_factory=list)
    upgrade: bool = False


@dataclass
class Step:
    """One thing to do: write a file (content), make a folder (content None), run a command (argv), or call
    a function of ours (action, which returns what it did)."""

    kind: str  # "file", "dir", "run" or "call"
    path: Path | None = None
    content: str | None = None
    mode: int = 0o644
    owner: str | None = None
    rooted: bool = True
    argv: list[str] = field(default_factory=list)
    run: bool = True
    why: str = ""
    #: False: a failure is reported and setup goes on (a container may forbid sysctl; the file is written).
    must: bool = True
    #: For a step that may fail (must=False): what that means, said in the warning.
    if_failed: str = ""
    action: Callable[[], str] | None = None
    #: A file whose previous text is kept beside it (``.bak``) when it is rewritten: the config.
    keep_previous: bool = False


@dataclass
class Plan:
    root: Path | None
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def target(self, step: Step) -> Path:
        assert step.path is not None
        if self.root is None or not step.rooted:
            return step.path
        return self.root / step.path.relative_to("/")


def installed_config(req: Request, path: Path) -> config_mod.Config | None:
    """The config at ``path``, if any; it fills in the libraries and export folder when they were not given
    (the system plan's /etc/homeroll/config.toml, the user unit's own)."""
    cfg = config_mod.load(path) if path.is_file() else None
    if cfg is None and not (req.libraries and req.export_dir is not None):
        raise UserError(f"no config at {path} yet: the first setup needs --library and --export")
    if cfg is not None:
        req.libraries = req.libraries or list(cfg.libraries)
        req.export_dir = req.export_dir or cfg.export_dir
    return cfg


def _dropped_libraries(cfg: config_mod.Config | None, libs: list[Path], plan: Plan) -> None:
    """--library replaces the list: say so for each library the new list leaves out."""
    for lib in cfg.libraries if cfg is not None else []:
        if lib not in libs:
            plan.notes.append(f"library {lib} is not in the new list: the service stops watching it and its photos "
                              "feed no new memories (they stay in the DB); give every --library to keep it")


def data_dir_of(cfg: config_mod.Config | None, plan: Plan) -> tuple[Path, bool]:
    """The data dir setup acts on, and whether it is the unit's StateDirectory (/var/lib/homeroll): a config's
    own data_dir (data moved to an SSD) is used as it says, never re-rooted."""
    if cfg is None or cfg.data_dir == DATA_DIR:
        return plan.target(Step("dir", path=DATA_DIR)), True
    return cfg.data_dir, False


def check_request(req: Request) -> list[Path]:
    libs = [p.expanduser().absolute() for p in req.libraries]
    for lib in libs:
        if not lib.is_dir():
            raise UserError(f"library {lib} does not exist (mount or create it first)")
    assert req.export_dir is not None
    export = req.export_dir.expanduser().absolute()
    inside = config_mod.library_containing(export, libs)
    if inside is not None:
        raise UserError(f"export folder {export} is inside library {inside}; homeroll never writes to a library")
    if not export.parent.is_dir():
        raise UserError(f"the export folder's parent {export.parent} does not exist (mount it first)")
    return libs


def reading_groups(libraries: list[Path]) -> dict[str, Path]:
    """Groups that can read a library others cannot: the service user must join them to see the photos."""
    groups: dict[str, Path] = {}
    for lib in libraries:
        st = lib.stat()
        if st.st_mode & 0o050 == 0o050 and st.st_mode & 0o005 != 0o005:
            try:
                groups.setdefault(grp.getgrgid(st.st_gid).gr_name, lib)
            except KeyError:
                groups.setdefault(str(st.st_gid), lib)
    return groups


def _user_steps(req: Request, libs: list[Path], plan: Plan) -> None:
    run = req.root is None or req.real_users
    try:
        pw = pwd.getpwnam(req.user)
    except KeyError:
        pw = None
        plan.steps.append(Step("run", argv=["useradd", "--system", "--user-group", "--home-dir", str(DATA_DIR),
                                            "--shell", "/usr/sbin/nologin", req.user], run=run, why="the service user"))
    member = set() if pw is None else {g.gr_name for g in grp.getgrall() if req.user in g.gr_mem}
    if pw is not None:
        member.add(grp.getgrgid(pw.pw_gid).gr_name)
    for name, lib in reading_groups(libs).items():
        if name in member:
            plan.notes.append(f"{req.user} is already in group {name}, which can read {lib}")
            continue
        plan.notes.append(f"adding {req.user} to group {name}: it can read {lib} and others cannot")
        plan.steps.append(Step("run", argv=["usermod", "-aG", name, req.user], run=run, why=f"to read {lib}"))
    for lib in libs:
        mode = lib.stat().st_mode
        if mode & 0o050 != 0o050 and mode & 0o005 != 0o005:
            plan.notes.append(f"warning: {lib} can be read only by its owner: {req.user} will not see its photos "
                              f"(chmod g+rx or o+rx it)")


def config_text(req: Request, libs: list[Path], export: Path, path: Path, data_dir: Path = DATA_DIR) -> str:
    """The config with only libraries, export_dir and home_tz set: every other setting a person made stays
    (``data_dir`` is used for a new config only)."""
    if path.exists():
        old = config_mod.load(path)
        zone = req.home_tz or old.home_tz
        if (old.libraries, old.export_dir, old.home_tz) == (libs, export, zone):
            return path.read_text(encoding="utf-8")  # nothing to change: a person's comments and layout stay
        overrides = {k: v for k, v in old.to_toml().items() if k in config_mod.DEFAULTS}
        data_dir = old.data_dir
    else:
        overrides, zone = {}, req.home_tz or config_mod.system_zone()
    cfg = config_mod.build(path, libs, data_dir, export, zone, overrides)
    return tomli_w.dumps(cfg.to_toml())


def count_folders(libraries: list[Path], limit: int = WALK_LIMIT) -> int:
    """Folders under the libraries (each costs one inotify watch), counting at most ``limit``."""
    return doctor_checks.count_folders(libraries, limit)


def current_watch_limit() -> int | None:
    return doctor_checks.watch_limit(WATCHES_PROC)


def sysctl_text(folders: int, limit: int | None) -> str | None:
    """The sysctl file when the folders (with headroom) need more watches than the limit; else None."""
    needed = int(folders * WATCH_HEADROOM)
    if limit is None or needed <= limit:
        return None
    watches = max(MIN_WATCHES, 1 << (needed - 1).bit_length())
    return ("# Written by `homeroll setup`: one inotify watch per library folder "
            f"({folders} folders; the limit was {limit}).\n"
            f"fs.inotify.max_user_watches={watches}\nfs.inotify.max_user_instances=512\n")


def systemd_running() -> bool:
    return Path("/run/systemd/system").is_dir()


def _member_steps(req: Request, plan: Plan) -> None:
    """Each --member joins the service's group (named after the service user, as the unit's Group=)."""
    run = req.root is None or req.real_users
    setup_household.check_members(req.members, req.user)
    for name in req.members:
        if setup_household.is_member(name, req.user):
            plan.notes.append(f"{name} is already in group {req.user}: they can run `homeroll tui` as themselves")
            continue
        plan.notes.append(f"adding {name} to group {req.user}: after logging in again they run `homeroll tui` "
                          "and the CLI as themselves (no sudo)")
        plan.steps.append(Step("run", argv=["usermod", "-aG", req.user, name], run=run, why=f"member {name}"))


def _data_steps(req: Request, plan: Plan, data_dir: Path) -> None:
    """The data dir (made only when missing), the DB migrated first on --upgrade, then shared with the group."""
    plan.steps.append(Step("dir", path=data_dir, mode=setup_household.DATA_DIR_MODE, owner=req.user, rooted=False,
                           why="data dir; an existing one keeps its content"))
    if req.upgrade:
        db_path = data_dir / "homeroll.db"
        plan.notes.extend(setup_upgrade.changes(db_path))
        plan.steps.append(Step("call", action=lambda: setup_upgrade.migrate(db_path),
                               why="migrate the DB (backup first, check after)"))
    plan.steps.append(Step("call", action=lambda: setup_household.share(data_dir, req.user, req.user),
                           why=f"give group {req.user} read and write in the data dir (modes and owners only)"))


def _differs(plan: Plan, step: Step) -> bool:
    path = plan.target(step)
    return not path.is_file() or path.read_bytes() != (step.content or "").encode("utf-8")


def _system_steps(req: Request, plan: Plan, sysctl: bool, reinstall: bool) -> None:
    """daemon-reload and enable --now; on a re-run that changed the config or the unit, try-restart too
    (enable --now leaves a running service on its old config and mounts)."""
    commands = [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "homeroll"]]
    if reinstall and not req.upgrade and any(s.kind == "file" and _differs(plan, s) for s in plan.steps):
        commands.append(["systemctl", "try-restart", "homeroll"])
    if req.upgrade and req.root is None and systemd_running():
        # Stopped before the DB is migrated, so the old version never writes a half-upgraded DB.
        plan.steps.insert(0, Step("run", argv=["systemctl", "stop", "homeroll"], must=False,
                                  why="the old version stops before the migration",
                                  if_failed="it was not running, or has no unit yet"))
    if sysctl:
        commands.insert(0, ["sysctl", "-p", str(SYSCTL_PATH)])
    if req.root is not None:
        plan.notes.append(f"--root {req.root}: not running {'; '.join(' '.join(c) for c in commands)}")
        return
    if not systemd_running():
        plan.notes.append("systemd is not running here (no /run/systemd/system): skipped "
                          "`systemctl daemon-reload` and `systemctl enable --now homeroll`; run them once it is")
        commands = [c for c in commands if c[0] != "systemctl"]
    plan.steps.extend(Step("run", argv=c, must=c[0] != "sysctl",
                           if_failed="the file is in place for the next boot" if c[0] == "sysctl" else "")
                      for c in commands)


def _command_steps(req: Request, plan: Plan) -> None:
    script = Path(req.python or sys.executable).with_name("homeroll")
    if not script.is_file():
        plan.notes.append(f"no homeroll script beside {req.python or sys.executable}: {COMMAND_LINK} not linked")
        return
    target = plan.target(Step("file", path=COMMAND_LINK))
    if script.is_relative_to("/root") or unitgen.under_home(script):
        plan.notes.append(f"warning: {script} is under /root or /home, which the service user may not reach "
                          "(ProtectHome, a 0700 home): install homeroll in /opt (README, 'Install on a Raspberry Pi')")
    from homeroll.daemon.service import setup_apply  # it imports this module's Plan and Step

    plan.steps.append(Step("call", action=lambda: setup_apply.link_command(target, script),
                           why=f"link {COMMAND_LINK} -> {script}, so every login finds `homeroll`"))


def build(req: Request) -> Plan:
    plan = Plan(root=req.root)
    cfg = installed_config(req, plan.target(Step("file", path=unitgen.CONFIG_PATH)))
    libs = check_request(req)
    _dropped_libraries(cfg, libs, plan)
    assert req.export_dir is not None
    export = req.export_dir.expanduser().absolute()
    data_dir, standard = data_dir_of(cfg, plan)
    _user_steps(req, libs, plan)
    _member_steps(req, plan)
    _data_steps(req, plan, data_dir)
    plan.steps.append(Step("dir", path=export, mode=0o2775, owner=req.user, rooted=False, why="export folder"))
    config_step = Step("file", path=unitgen.CONFIG_PATH, mode=0o644, why="config", keep_previous=True)
    config_step.content = config_text(req, libs, export, plan.target(config_step))
    plan.steps.append(config_step)
    unit = unitgen.render(libs, export, req.user, unitgen.exec_start(req.python),
                          data_dir=None if standard else data_dir)
    unit_step = Step("file", path=unitgen.UNIT_PATH, content=unit, why="systemd unit")
    reinstall = plan.target(unit_step).is_file()
    plan.steps.append(unit_step)
    _command_steps(req, plan)
    sysctl = sysctl_text(count_folders(libs), current_watch_limit())
    if sysctl is not None:
        plan.steps.append(Step("file", path=SYSCTL_PATH, content=sysctl, why="inotify limits"))
    _system_steps(req, plan, sysctl is not None, reinstall)
    return plan
