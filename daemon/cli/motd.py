"""`homeroll motd`: the SSH login line, "3 new memories are waiting (...): run `homeroll tui`", or nothing.

A plain `homeroll motd` never gets here: daemon/__main__.py answers it before this package is imported,
since importing the CLI alone takes longer than a login may wait. This command is the same line for
`--help`, the docs and `--json`; both read the DB read-only through daemon/store/motd.py, which also
makes the line. Without ``--json`` a login must never break: a missing config or DB is one line on
stderr and exit 0. ``--json`` is for scripts, so it keeps the CLI's contract (one line, exit 2).
"""

from __future__ import annotations

import sqlite3

import click

from homeroll.daemon import config as config_mod
from homeroll.daemon.cli.context import AppContext, json_option, pass_app, print_json
from homeroll.daemon.errors import UserError
from homeroll.daemon.store import motd as store_motd


def _waiting(app: AppContext, config_path: str | None) -> list[dict]:
    cfg = config_mod.load(config_path) if config_path else app.config
    try:
        return store_motd.waiting(str(cfg.db_path))
    except (OSError, sqlite3.Error) as exc:
        raise UserError(store_motd.reason(exc, str(cfg.db_path))) from None


@click.command("motd")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Config file, as the top-level --config (so `homeroll motd --config PATH` works too).")
@json_option('Print {"waiting": N, "memories": [{id, title, start}]}, newest first.')
@pass_app
def motd(app: AppContext, config_path: str | None, as_json: bool) -> None:
    """Print one or two lines when suggested memories wait, nothing when none do (for the SSH login)."""
    try:
        memories = _waiting(app, config_path)
    except UserError as exc:
        if as_json:
            raise
        click.echo(f"homeroll motd: {exc}", err=True)
        return
    if as_json:
        print_json({"waiting": len(memories), "memories": memories})
        return
    for line in store_motd.login_lines(memories):
        click.echo(line)


commands = [motd]
