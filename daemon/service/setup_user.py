"""`homeroll setup --user-unit`: the same install for one login, without root, as a systemd user unit.

For a household whose photos are one person's (a laptop, a NAS account without sudo). Everything lives in
that person's home: the config where every homeroll command looks for it ($HOMEROLL_CONFIG, else the
platform config dir), the data dir in $XDG_STATE_HOME/homeroll (where systemd puts a user unit's
StateDirectory=), the unit in $XDG_CONFIG_HOME/systemd/user. The unit is the system unit's template with
User=/Group= dropped and the data dir listed writable (ProtectHome=read-only covers it), so the hardening
is the same. No users, groups or sysctl: those need root, and what is missing is said, with the command.

A user service stops at logout unless lingering is on, so `loginctl enable-linger` is run (a failure is
reported, not fatal: some systems need root or polkit for it).
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import platformdirs

from homeroll.daemon import config as config_mod
from homeroll.daemon.service import doctor_checks, unitgen
from homeroll.daemon.service import setup_plan as sp

__all__ = ["build", "data_dir", "manager_running"]


def data_dir() -> Path:
    return Path(platformdirs.user_state_dir("homeroll"))


def manager_running() -> bool:
    """A user manager for this login is running (its runtime folder exists)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return (Path(runtime) / "systemd").is_dir()


def _commands(req: sp.Request, plan: sp.Plan) -> None:
    commands = [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", "homeroll"]]
    linger = ["loginctl", "enable-linger", getpass.getuser()]
    if req.root is not None or not manager_running():
        why = f"--root {req.root}" if req.root is not None else "no systemd user manager runs for this login"
        plan.notes.append(f"{why}: not running {'; '.join(' '.join(c) for c in [*commands, linger])}; "
                          "run them once logged in")
        return
    plan.steps.extend(sp.Step("run", argv=c) for c in commands)
    plan.steps.append(sp.Step("run", argv=linger, must=False, why="keep the service running after logout"))


def build(req: sp.Request) -> sp.Plan:
    """The user unit's plan: folders, config and unit under the login's home, then the user manager's commands."""
    plan = sp.Plan(root=None)
    config = config_mod.user_config_path()
    sp.installed_config(req, config)
    libs = sp.check_request(req)
    assert req.export_dir is not None
    export = req.export_dir.expanduser().absolute()
    data = data_dir()
    plan.steps.append(sp.Step("dir", path=data, mode=0o700, rooted=False, why="data dir; an existing one keeps its content"))
    plan.steps.append(sp.Step("dir", path=export, mode=0o755, rooted=False, why="export folder"))
    config_step = sp.Step("file", path=config, mode=0o644, rooted=False, why="config")
    config_step.content = sp.config_text(req, libs, export, config, data)
    plan.steps.append(config_step)
    unit = unitgen.render(libs, export, getpass.getuser(), unitgen.exec_start(req.python, config), data_dir=data,
                          user_unit=True, config=config)
    plan.steps.append(sp.Step("file", path=doctor_checks.user_unit(), content=unit, rooted=False,
                              why="systemd user unit"))
    if sp.sysctl_text(sp.count_folders(libs), sp.current_watch_limit()) is not None:
        plan.notes.append(f"warning: the libraries have more folders than inotify watches allow; as root run "
                          f"`sudo homeroll setup --dry-run ...` for the {sp.SYSCTL_PATH} it would write, or the "
                          "service polls instead")
    _commands(req, plan)
    return plan
