"""`homeroll backup`, `homeroll db check` and `homeroll db restore`: the household's way back from a worn-out SD
card or a bad upgrade.

The copying, checking and replacing live in store/backup.py (the nightly job and the pre-migration copy use
the same routine); this module adds what only a person at a terminal needs: the refusal to restore under a
running service, the confirmation, and one line saying what happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from homeroll.daemon import config as config_mod
from homeroll.daemon.cli.context import AppContext, json_option, pass_app, print_json
from homeroll.daemon.errors import UserError
from homeroll.daemon.service import diskfull, liveness
from homeroll.daemon.store import backup as store_backup
from homeroll.daemon.store import db as store_db

#: Recorded states after which no service is running, whatever the pid says.
_NOT_RUNNING = (None, "stopped")


@click.command("backup")
@click.option("--to", "folder", type=click.Path(file_okay=False),
              help="Folder for the copy (default: <data_dir>/backups, where the nightly rotation keeps them).")
@json_option("Print path, bytes, seconds and integrity as JSON.")
@pass_app
def backup(app: AppContext, folder: str | None, as_json: bool) -> None:
    """Copy the DB now (SQLite's backup API: safe while the service runs), checked with integrity_check."""
    cfg = app.config
    if not cfg.db_path.is_file():
        raise UserError(f"no database at {cfg.db_path} yet: nothing to back up (run `homeroll scan` first)")
    target = Path(folder).expanduser().absolute() if folder else store_backup.backups_dir(cfg.data_dir)
    library = config_mod.library_containing(target, cfg.libraries)
    if library is not None:
        raise UserError(f"{target} is inside library {library}; homeroll never writes to a library")
    db = store_db.connect(cfg.db_path, migrate=False)  # a copy of what is there, whatever its schema
    try:
        result = store_backup.take_backup(db, target)
    finally:
        db.close()
    if as_json:
        print_json(result)
        return
    click.echo(f"backed up {cfg.db_path} to {result['path']} ({diskfull.human(result['bytes'])}, "
               f"{result['seconds']:.1f} s, integrity ok)")


@click.group("db")
def db_group() -> None:
    """Check the DB, or put a backup back."""


@db_group.command("check")
@json_option("Print path, integrity, foreign_keys and ok as JSON.")
@pass_app
def check(app: AppContext, as_json: bool) -> None:
    """Run PRAGMA integrity_check (the full one) and foreign_key_check; exit 2 with one line if damaged."""
    cfg = app.config
    report = store_db.check(cfg.db_path)
    if as_json:
        print_json(report)
    if report["ok"]:
        if not as_json:
            click.echo(f"{cfg.db_path}: integrity ok, foreign keys ok")
        return
    raise UserError(_problem_line(cfg.db_path, report))


def _problem_line(db_path: Path, report: dict) -> str:
    if report["integrity"] != "ok":
        return store_backup.damaged_message(db_path, store_db.summary(report["integrity"]), checked=True)
    keys = report["foreign_keys"]
    first = keys[0]
    detail = first.get("error") or f"{first['table']} row {first['rowid']} points at a missing {first['parent']}"
    more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
    return store_backup.damaged_message(db_path, f"foreign keys: {detail}{more}", checked=True)


def _running_service(cfg: config_mod.Config, force: bool = False) -> str | None:
    """Why a restore must wait ("the service (pid 123) is running"), or None.

    The pid comes from the DB's kv, or, when the DB is too damaged to read, from the heartbeat file the
    service writes its pid into; liveness.assess judges it by the heartbeat's age, like `status`. A stale
    heartbeat with its pid alive is a hung service, which may still write: it blocks the restore too,
    unless ``force`` (that pid is some other program now). A service whose pid is gone blocks nothing.
    """
    kv = store_backup.read_service_kv(cfg.db_path)
    if not kv:
        try:
            pid = liveness.heartbeat_path(cfg.data_dir).read_text().strip()
        except OSError:
            pid = ""
        kv = {"service.state": "running", "service.pid": pid} if pid.isdigit() else {}
    facts = liveness.read(cfg.data_dir, kv)
    seen = liveness.assess(kv, facts, datetime.now(UTC))
    if seen["state"] in _NOT_RUNNING or facts.pid_alive is False:
        return None
    pid = kv.get("service.pid")
    if seen["state"] == "not responding":
        if force or facts.pid_alive is None:
            return None
        return (f"the service (pid {pid}) is not responding but its process is alive: stop it first "
                f"(`systemctl stop homeroll`, or SIGTERM), then restore; if pid {pid} is not homeroll, "
                f"restore with --force; nothing was changed")
    who = f"the service (pid {pid})" if pid else "the service"
    return (f"{who} is {seen['state']}: stop it first (`systemctl stop homeroll`, or "
            f"SIGTERM), then restore; nothing was changed")


@db_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
@click.option("--force", is_flag=True,
              help="Restore although the service's recorded pid is alive with a stale heartbeat (that pid is "
                   "another program now). Never while any process has the DB open.")
@pass_app
def restore(app: AppContext, file: str, yes: bool, force: bool) -> None:
    """Put backup FILE in place of the DB (checked first; the current DB is kept beside it)."""
    cfg = app.config
    busy = _running_service(cfg, force)
    if busy:
        raise UserError(busy)
    question = f"{file} passed its checks. Replace {cfg.db_path} with it? (the current one is kept beside it)"
    ask = None if yes else lambda: click.confirm(question, err=True)  # on stderr: stdout is for results
    result = store_backup.restore(cfg.db_path, file, confirm=ask)
    if result is None:
        raise click.exceptions.Abort()
    kept = f"; the previous database is kept as {result['aside']}" if result["aside"] else ""
    migrated = f" (migrated {result['migrated']} schema steps)" if result["migrated"] else ""
    click.echo(f"restored {result['from']} to {result['path']}{migrated}{kept}")


commands = [backup, db_group]
