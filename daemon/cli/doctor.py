"""`homeroll doctor`: print service/doctor.py's checks, one line each, and exit 0 (ok), 1 (warnings) or 2 (failures).

The checks live in the core so the TUI's status screen can show the same ones; this module only prints.
It loads the config itself (not through AppContext): a config that does not load is a finding here,
not an error that stops the command.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from homeroll.daemon.cli.context import AppContext, json_option, pass_app, print_json
from homeroll.daemon.service import doctor as doctor_mod

_LABEL = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


@click.command("doctor")
@json_option("Print the checks as JSON.")
@click.option("--unit", "unit_file", type=click.Path(dir_okay=False, exists=True),
              help="Check this systemd unit file instead of the installed one.")
@pass_app
def doctor(app: AppContext, as_json: bool, unit_file: str | None) -> None:
    """Check the installation: config, access, unit, service, DB, disk, inotify, clock, faces."""
    checks = doctor_mod.run(app.config_path, Path(unit_file) if unit_file else None)
    if as_json:
        print_json({"checks": [c._asdict() for c in checks], "worst": doctor_mod.worst(checks)})
    else:
        width = max(len(c.name) for c in checks) + 2
        for check in checks:
            fix = f": {check.fix}" if check.fix and check.status != "ok" else ""
            click.echo(f"{_LABEL[check.status]:6}{check.name:{width}}{check.detail}{fix}")
    # sys.exit, not ctx.exit: the CLI runs click with standalone_mode=False, which returns ctx.exit's code
    sys.exit(doctor_mod.exit_code(checks))


commands = [doctor]
