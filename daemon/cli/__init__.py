"""The `homeroll` command. One module per command group; each exposes ``commands``, a list of click commands.

Contract: JSON to stdout, logs to stderr, and any error a user can act on is one line on stderr
with exit code 2 (never a traceback; ``--log-level debug`` shows one for bugs).
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from homeroll.daemon import __version__
from homeroll.daemon.cli.context import AppContext
from homeroll.daemon.errors import UserError

log = logging.getLogger("homeroll")

#: Command-group modules, in help order.
COMMAND_MODULES = ["setup", "scan", "run", "media", "status", "people", "memories", "export", "tui", "demo"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
