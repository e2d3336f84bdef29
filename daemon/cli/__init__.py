"""The `homeroll` command. One module per command group; each exposes ``commands``, a list of click commands.

Contract: JSON to stdout, logs to stderr, and any error a user can act on is one line on stderr
with exit code 2 (never a traceback; ``--log-level debug`` shows one for bugs).

Errors from the DB and the disk can surface from any command, so they are turned into that one line
here, once, while the config is at hand to name the data dir: a damaged DB (with the way back: `db check`,
`db restore`), a full or read-only data dir, a lock held past the busy timeout, a DB that cannot be opened.
"""

from __future__ import annotations

import importlib
import logging
import os
import sqlite3
import sys
from pathlib import Path

import click

from homeroll.daemon import __version__
from homeroll.daemon.cli.context import AppContext
from homeroll.daemon.errors import UserError
from homeroll.daemon.service import diskfull
from homeroll.daemon.store import backup as store_backup
from homeroll.daemon.store import db as store_db

log = logging.getLogger("homeroll")

#: Command-group modules, in help order.
COMMAND_MODULES = ["setup", "scan", "run", "media", "status", "doctor", "people", "memories", "occasions", "export",
                   "motd", "notify", "db", "tui", "demo"]

_SQLITE_BUSY, _SQLITE_IOERR, _SQLITE_CANTOPEN = 5, 10, 14
#: Below this much free space an I/O error is taken for a full disk: SQLite reports a -shm it cannot grow
#: as SQLITE_IOERR_SHMSIZE ("disk I/O error"), not SQLITE_FULL.
_NEARLY_FULL_BYTES = 1 << 20
#: Commands that index: on a full disk what they had indexed is committed and stays. For the others
#: (an approval, a backup, a restore) that would be no comfort, and not what happened.
_INDEXING_COMMANDS = frozenset({"scan", "run", "demo"})


def _code(exc: BaseException) -> int:
    return (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF


def _full(exc: BaseException, data_dir: Path) -> bool:
    if diskfull.is_disk_full(exc):
        return True
    if not (isinstance(exc, sqlite3.Error) and _code(exc) == _SQLITE_IOERR):
        return False
    try:
        return diskfull.free_bytes(data_dir)[0] < _NEARLY_FULL_BYTES
    except OSError:
        return False


def _under(path: Path, folder: Path) -> bool:
    path, folder = path.absolute(), folder.absolute()
    return path == folder or folder in path.parents


def _sqlite_line(exc: sqlite3.Error, db_path: Path) -> str | None:
    code = _code(exc)
    if code == _SQLITE_IOERR:
        return (f"the database {db_path} could not be read or written ({exc}): the disk holding it may be "
                f"failing; run `homeroll db check`, and keep a backup elsewhere (`homeroll backup --to DIR`)")
    if code == _SQLITE_BUSY or "database is locked" in str(exc):
        return (f"the database {db_path} is locked: another process held its write lock longer than the "
                f"busy timeout ({store_db.BUSY_TIMEOUT_MS / 1000:.0f} s); the service (`homeroll run`) may "
                f"be holding it in a long write: try again")
    if code == _SQLITE_CANTOPEN or "unable to open database file" in str(exc):
        return (f"cannot open the database {db_path} ({exc}): check that {db_path.parent} exists, is mounted "
                f"and can be read and written by this user")
    return None


def _elsewhere_line(exc: OSError, where: Path) -> str:
    """An OSError about a file outside the data dir (the export folder, a library): name that place."""
    if diskfull.is_disk_full(exc):
        return f"{where.parent} is full ({diskfull.describe(where.parent)}): free space there"
    return f"{where}: {exc.strerror or exc}"


def db_error(exc: BaseException, app: AppContext | None, command: str | None = None) -> UserError | None:
    """The one line for a DB or disk error, or None if ``exc`` is not one (then it is a bug). ``command``:
    the top-level command that failed (a full disk during a scan keeps what was indexed)."""
    try:
        cfg = app.config if app is not None else None
    except Exception:  # noqa: BLE001 - no config: nothing to name, let the error stand
        cfg = None
    if cfg is None:
        return None
    data_dir, db_path = cfg.data_dir, cfg.db_path
    where = Path(os.fsdecode(exc.filename)) if isinstance(exc, OSError) and exc.filename else None
    if where is not None and not _under(where, data_dir):
        return UserError(_elsewhere_line(exc, where))
    if store_db.is_damaged(exc):
        return UserError(store_backup.damaged_message(db_path, str(exc)))
    if _full(exc, data_dir):
        kept = "; what was indexed is kept" if command in _INDEXING_COMMANDS else ""
        return UserError(f"{diskfull.full_reason(data_dir)}{kept}")
    if diskfull.is_read_only(exc, data_dir):
        return UserError(diskfull.read_only_reason(data_dir, exc))
    if isinstance(exc, OSError):
        return UserError(f"data dir {data_dir}: {where}: {exc.strerror}") if where and exc.strerror else None
    line = _sqlite_line(exc, db_path)
    return UserError(line) if line else None


class _Group(click.Group):
    """The top group: a DB or disk error from any command becomes its one line here, where ctx.obj is alive."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (sqlite3.Error, OSError) as exc:
            error = db_error(exc, ctx.obj, ctx.invoked_subcommand)
            if error is None:
                raise
            if log.isEnabledFor(logging.DEBUG):
                log.debug("the error behind the line below", exc_info=exc)
            raise error from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="HOMEROLL_CONFIG",
              help="Config file (default: the platform config dir, or $HOMEROLL_CONFIG).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="How much to log to stderr.")
@click.version_option(__version__, prog_name="homeroll")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str) -> None:
    """Private camera-roll memories for a home server. Nothing leaves the house."""
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = AppContext(config_path=config_path, log_level=log_level)
    ctx.call_on_close(ctx.obj.close)


for _name in COMMAND_MODULES:
    _module = importlib.import_module(f"homeroll.daemon.cli.{_name}")
    for _command in getattr(_module, "commands", []):
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the click group and turn every error into one line and exit code 2."""
    try:
        cli.main(args=argv, prog_name="homeroll", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("homeroll: aborted", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"homeroll: {exc.format_message()}", err=True)
        sys.exit(2)
    except UserError as exc:
        click.echo(f"homeroll: {exc}", err=True)
        sys.exit(2)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the contract is one line, never a traceback
        if log.isEnabledFor(logging.DEBUG):
            log.exception("unexpected error")
        click.echo(f"homeroll: internal error: {type(exc).__name__}: {exc} (run with --log-level debug)", err=True)
        sys.exit(2)
