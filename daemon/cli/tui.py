"""`homeroll tui`: the terminal UI. Textual is imported only inside the command, so the daemon's
import graph stays free of UI libraries (a test checks this)."""

from __future__ import annotations

import sys

import click

from homeroll.daemon.cli.context import AppContext, pass_app
from homeroll.daemon.errors import UserError


@click.command("tui")
@pass_app
def tui(app: AppContext) -> None:
    """Open the terminal UI: review memories, name people, check the service (works over SSH)."""
    cfg = app.config
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError("tui needs an interactive terminal (run it in a terminal or over `ssh -t`)")
    app.close()
    from homeroll.tui.app import run_tui

    run_tui(cfg)


commands = [tui]
