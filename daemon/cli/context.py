"""What every command gets through ``click.pass_obj`` (the config and the DB, opened on first use), and
the pieces every command group declares the same way (``--json``, a subcommand on one id)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.store import fsutil


class AppContext:
    def __init__(self, config_path: str | None, log_level: str = "info") -> None:
        self.config_path = config_path
        self.log_level = log_level
        self._config: config_mod.Config | None = None
        self._db = None

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
            fsutil.follow_shared_dir(self._config.data_dir)
        return self._config

    @property
    def db(self):
        if self._db is None:
            self._db = store.connect(self.config.db_path)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


pass_app = click.make_pass_decorator(AppContext)


def json_option(text: str) -> Callable:
    """``--json`` (as ``as_json``): the scripting contract of every command that prints something."""
    return click.option("--json", "as_json", is_flag=True, help=text)


def subcommand(group: click.Group, name: str, id_name: str, doc: str | None = None) -> Callable:
    """``name ID …`` under ``group``, called with the AppContext and ID first (a memory, person or face id).

    The help is ``doc`` or the function's docstring; arguments and options declared below come after ID.
    """

    def register(fn: Callable) -> click.Command:
        command = group.command(name, help=doc)(pass_app(fn))
        command.params.insert(0, click.Argument([id_name], type=int))
        return command

    return register


def print_json(data: Any) -> None:
    """JSON to stdout, UTF-8, one document, newline-terminated."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    sys.stdout.flush()
