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
import os
import pwd
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from homeroll.daemon import config as config_mod
from homeroll.daemon.errors import UserError
from homeroll.daemon.service import doctor_checks, setup_household, setup_upgrade, unitgen
from homeroll.daemon.store import fsutil

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
    action: Callable[[], str] | None = None


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


def _from_config(req: Request, plan: Plan) -> None:
    """Fill in the libraries and export folder from the installed config when they were not given."""
    if req.libraries and req.export_dir is not None:
        return
    path = plan.target(Step("file", path=unitgen.CONFIG_PATH))
    if not path.is_file():
        raise UserError(f"no config at {path} yet: the first setup needs --library and --export")
    cfg = config_mod.load(path)
    req.libraries = req.libraries or list(cfg.libraries)
    req.export_dir = req.export_dir or cfg.export_dir


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
        plan.steps.append(Step("run", argv=["useradd", "--system", "--home-dir", str(DATA_DIR), "--shell",
                                            "/usr/sbin/nologin", req.user], run=run, why="the service user"))
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
        overrides = {k: v for k, v in old.to_toml().items() if k in config_mod.DEFAULTS}
        data_dir, zone = old.data_dir, req.home_tz or old.home_tz
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


def _data_steps(req: Request, plan: Plan) -> None:
    """The data dir (made only when missing), the DB migrated first on --upgrade, then shared with the group."""
    plan.steps.append(Step("dir", path=DATA_DIR, mode=setup_household.DATA_DIR_MODE, owner=req.user,
                           why="data dir (created only if missing)"))
    data_dir = plan.target(Step("dir", path=DATA_DIR))
    if req.upgrade:
        db_path = data_dir / "homeroll.db"
        plan.notes.extend(setup_upgrade.changes(db_path))
        plan.steps.append(Step("call", action=lambda: setup_upgrade.migrate(db_path),
                               why="migrate the DB (backup first, check after)"))
    plan.steps.append(Step("call", action=lambda: setup_household.share(data_dir, req.user, req.user),
                           why=f"give group {req.user} read and write in the data dir (modes and owners only)"))


def _system_steps(req: Request, plan: Plan, sysctl: bool) -> None:
    commands = [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", "homeroll"]]
    if req.upgrade and req.root is None and systemd_running():
        # Stopped before the DB is migrated, so the old version never writes a half-upgraded DB.
        plan.steps.insert(0, Step("run", argv=["systemctl", "stop", "homeroll"], must=False,
                                  why="the old version stops before the migration"))
    if sysctl:
        commands.insert(0, ["sysctl", "-p", str(SYSCTL_PATH)])
    if req.root is not None:
        plan.notes.append(f"--root {req.root}: not running {'; '.join(' '.join(c) for c in commands)}")
        return
    if not systemd_running():
        plan.notes.append("systemd is not running here (no /run/systemd/system): skipped "
                          "`systemctl daemon-reload` and `systemctl enable --now homeroll`; run them once it is")
        commands = commands[:-2]
    plan.steps.extend(Step("run", argv=c, must=c[0] != "sysctl") for c in commands)


def _link_command(target: Path, script: Path) -> str:
    """/usr/local/bin/homeroll pointing at this install, so `homeroll tui` works in every login's PATH.
    A real file there (another install) is left alone: setup never overwrites what it did not make."""
    if target.is_symlink():
        if os.readlink(target) == str(script):
            return f"unchanged {target} -> {script}"
        target.unlink()
    elif target.exists():
        return f"left {target} as it is (not a link setup made); members run {script}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(script)
    return f"linked {target} -> {script}"


def _command_steps(req: Request, plan: Plan) -> None:
    script = Path(req.python or sys.executable).with_name("homeroll")
    if not script.is_file():
        plan.notes.append(f"no homeroll script beside {req.python or sys.executable}: {COMMAND_LINK} not linked")
        return
    target = plan.target(Step("file", path=COMMAND_LINK))
    plan.steps.append(Step("call", action=lambda: _link_command(target, script),
                           why=f"link {COMMAND_LINK} -> {script}, so every login finds `homeroll`"))


def build(req: Request) -> Plan:
    plan = Plan(root=req.root)
    _from_config(req, plan)
    libs = check_request(req)
    assert req.export_dir is not None
    export = req.export_dir.expanduser().absolute()
    _user_steps(req, libs, plan)
    _member_steps(req, plan)
    _data_steps(req, plan)
    plan.steps.append(Step("dir", path=export, mode=0o2775, owner=req.user, rooted=False, why="export folder"))
    config_step = Step("file", path=unitgen.CONFIG_PATH, mode=0o644, why="config")
    config_step.content = config_text(req, libs, export, plan.target(config_step))
    plan.steps.append(config_step)
    unit = unitgen.render(libs, export, req.user, unitgen.exec_start(req.python))
    plan.steps.append(Step("file", path=unitgen.UNIT_PATH, content=unit, why="systemd unit"))
    _command_steps(req, plan)
    sysctl = sysctl_text(count_folders(libs), current_watch_limit())
    if sysctl is not None:
        plan.steps.append(Step("file", path=SYSCTL_PATH, content=sysctl, why="inotify limits"))
    _system_steps(req, plan, sysctl is not None)
    return plan


def describe(plan: Plan) -> list[str]:
    """The dry run: every folder, file (with its content) and command, in the order they would happen."""
    out = [f"note: {n}" for n in plan.notes]
    for step in plan.steps:
        if step.kind == "run":
            out.append(f"{'run' if step.run else 'print only'}: {' '.join(step.argv)}")
        elif step.kind == "call":
            out.append(f"then: {step.why}")
        elif step.kind == "dir":
            out.append(f"folder: {plan.target(step)} (mode {step.mode:o}, owner {step.owner}; {step.why})")
        else:
            out.append(f"file: {plan.target(step)} (mode {step.mode:o}; {step.why})")
            out.extend(f"    {line}" for line in (step.content or "").splitlines())
    return out


def _chown(path: Path, user: str | None) -> str | None:
    if user is None:
        return None
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return f"{path}: user {user} does not exist (yet), owner left as is"
    st = path.stat()
    if (st.st_uid, st.st_gid) != (pw.pw_uid, pw.pw_gid):
        try:
            os.chown(path, pw.pw_uid, pw.pw_gid)
        except PermissionError:
            return f"{path}: not root, owner left as is (run `chown {user}:{user} {path}` as root)"
    return None


def _make_dir(plan: Plan, step: Step) -> str:
    path = plan.target(step)
    if path.is_dir() and step.path == DATA_DIR:
        return f"kept {path} (exists; the DB is never touched)"
    path.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != step.mode:
        path.chmod(step.mode)
    return _chown(path, step.owner) or f"folder {path} ready"


def _write(plan: Plan, step: Step) -> str:
    path = plan.target(step)
    data = (step.content or "").encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return f"unchanged {path}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fsutil.write_atomic(path, data, step.mode)
    return f"wrote {path}"


def apply(plan: Plan, echo: Callable[[str], None], runner: Callable = subprocess.run) -> None:
    for note in plan.notes:
        echo(f"note: {note}")
    for step in plan.steps:
        if step.kind == "run":
            _run(step, echo, runner)
            continue
        if step.kind == "call":
            assert step.action is not None
            try:
                echo(step.action())
            except OSError as exc:
                raise UserError(f"{step.why}: {exc.strerror or exc} ({exc.filename})") from None
            continue
        try:
            echo(_make_dir(plan, step) if step.kind == "dir" else _write(plan, step))
        except OSError as exc:
            raise UserError(f"cannot write {plan.target(step)} ({exc.strerror})") from None


def _run(step: Step, echo: Callable[[str], None], runner: Callable) -> None:
    line = " ".join(step.argv)
    if not step.run:
        echo(f"not run (--root without --real-users): {line}")
        return
    echo(f"running: {line}")
    try:
        done = runner(step.argv, capture_output=True, text=True)
    except OSError as exc:
        raise UserError(f"`{line}` could not start ({exc.strerror})") from None
    if done.returncode != 0 and not step.must:
        echo(f"warning: `{line}` failed ({(done.stderr or '').strip()[-200:]}); the file is in place for the next boot")
    elif done.returncode != 0:
        raise UserError(f"`{line}` failed: {(done.stderr or done.stdout).strip()[-300:]}")
