"""`homeroll init` writes the config file; `homeroll setup` installs the hardened system service.

`setup` is a thin shell over service/setup_plan.py, which builds the plan (files, folders, commands) so
that a dry run prints exactly what a real run does.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from homeroll.daemon import config as config_mod
from homeroll.daemon.cli.context import AppContext, pass_app
from homeroll.daemon.errors import UserError
from homeroll.daemon.service import setup_apply, setup_plan, setup_user


@click.command("init")
@click.option("--library", "libraries", multiple=True, required=True, type=click.Path(file_okay=False),
              help="A folder phones sync into (repeat for several). Only ever read.")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
              help="Where the DB and thumbnails live (never inside a library).")
@click.option("--export", "export_dir", required=True, type=click.Path(file_okay=False),
              help="The shared folder collages are written to.")
@click.option("--home-tz", default=None, help="IANA zone for photos without one (default: this machine's).")
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
@pass_app
def init(app: AppContext, libraries: tuple[str, ...], data_dir: str, export_dir: str, home_tz: str | None,
         force: bool) -> None:
    """Write the config file (to --config, $HOMEROLL_CONFIG or the platform config dir)."""
    path = Path(app.config_path) if app.config_path else config_mod.user_config_path()
    if path.exists() and not force:
        raise UserError(f"{path} exists; pass --force to overwrite it")
    cfg = config_mod.build(path, [Path(p) for p in libraries], Path(data_dir), Path(export_dir),
                           home_tz or config_mod.system_zone())
    for lib in cfg.libraries:
        if not lib.is_dir():
            click.echo(f"homeroll: warning: library {lib} does not exist (yet)", err=True)
    # The export folder is made here, once, by a person; later runs never create it (an unmounted
    # share must not silently turn into a local folder).
    if cfg.export_dir.parent.is_dir():
        cfg.export_dir.mkdir(exist_ok=True)
    else:
        click.echo(f"homeroll: warning: export folder {cfg.export_dir} cannot be created (its parent is missing)",
                   err=True)
    config_mod.save(cfg)
    click.echo(str(path))


@click.command("setup")
@click.option("--library", "libraries", multiple=True, type=click.Path(file_okay=False),
              help="A folder phones sync into (repeat for several). Read-only in the unit. Default: the config's.")
@click.option("--export", "export_dir", default=None, type=click.Path(file_okay=False),
              help="The shared folder collages are written to (created, owned by the service user). Default: the config's.")
@click.option("--home-tz", default=None, help="IANA zone for photos without one (default: the config's, else this machine's).")
@click.option("--user", default="homeroll", show_default=True,
              help="The system user the service runs as; its group is the household's.")
@click.option("--member", "members", multiple=True,
              help="A login that joins the household's group and runs `homeroll tui` as itself (repeat for several).")
@click.option("--upgrade", is_flag=True,
              help="After `pip install -U homeroll`: stop the service, back up and migrate the DB, list what changed, restart.")
@click.option("--user-unit", is_flag=True, help="Install for this login only, as a systemd user unit, without root.")
@click.option("--dry-run", is_flag=True, help="Print every folder, file and command; change nothing.")
@click.option("--root", "root", default=None, type=click.Path(file_okay=False),
              help="Write /etc and /var/lib under this folder instead (tests); user and system commands are printed.")
@click.option("--real-users", is_flag=True, help="With --root: still run useradd/usermod for real.")
def setup(libraries: tuple[str, ...], export_dir: str | None, home_tz: str | None, user: str, members: tuple[str, ...],
          upgrade: bool, user_unit: bool, dry_run: bool, root: str | None, real_users: bool) -> None:
    """Install homeroll as a service: user, config, data dir, export folder, unit, inotify limits."""
    if user_unit and (members or upgrade or root):
        raise UserError("--user-unit installs for this login only: --member, --upgrade and --root need the system unit")
    if user_unit and os.geteuid() == 0 and os.environ.get("SUDO_USER"):
        raise UserError("run `homeroll setup --user-unit` as the login itself, without sudo: it installs into your home")
    if os.geteuid() != 0 and not (dry_run or root or user_unit):
        raise UserError("setup must run as root (sudo homeroll setup ...); --dry-run shows what it would do, "
                        "--user-unit installs for this login without root")
    req = setup_plan.Request(libraries=[Path(p) for p in libraries], export_dir=Path(export_dir) if export_dir else None,
                             home_tz=home_tz, user=user, root=Path(root).absolute() if root else None,
                             real_users=real_users, members=list(members), upgrade=upgrade)
    plan = setup_user.build(req) if user_unit else setup_plan.build(req)
    if dry_run:
        for line in setup_apply.describe(plan):
            click.echo(line)
        return
    setup_apply.apply(plan, click.echo)


commands = [init, setup]
