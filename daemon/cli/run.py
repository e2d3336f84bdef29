"""`homeroll run`: the background service (what the systemd unit starts), or one pass with --once."""

from __future__ import annotations

import sys

import click

from homeroll.daemon.cli.context import AppContext, pass_app


@click.command("run")
@click.option("--once", is_flag=True,
              help="Run scan, faces, memory selection and export once, then exit (for cron and tests).")
@pass_app
def run(app: AppContext, once: bool) -> None:
    """Watch the libraries, index each file once it is complete, and keep the job schedule.

    Logs go to stderr (journald keeps them). SIGTERM finishes the current file and exits;
    SIGHUP reloads the config.
    """
    from homeroll.daemon.service.main import run_service

    code = run_service(app.config_path, app.log_level, once=once)
    if code:
        sys.exit(code)


commands = [run]
