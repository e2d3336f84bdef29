"""What every command gets through ``click.pass_obj``: the config and the DB, opened on first use."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from homeroll.daemon import config as config_mod
from homeroll.daemon import store


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


def print_json(data: Any) -> None:
    """JSON to stdout, UTF-8, one document, newline-terminated."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
    sys.stdout.write("\n")
    sys.stdout.flush()
