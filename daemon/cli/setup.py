"""`homeroll init`: write the config file."""

from __future__ import annotations

from pathlib import Path

import click

from homeroll.daemon import config as config_mod
from homeroll.daemon.cli.context import AppContext, pass_app
from homeroll.daemon.errors import UserError


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
    path = Path(app.config_path) if app.config_path else config_mod.default_config_path()
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


commands = [init]
