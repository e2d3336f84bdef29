"""Docs cannot fall behind: every config key and every CLI command and option is documented (as in datasette)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from homeroll.daemon.cli import cli
from homeroll.daemon.config import DEFAULTS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("section, key", [(s, k) for s, values in DEFAULTS.items() for k in values])
def test_every_config_key_is_documented(section, key):
    text = (DOCS / "config.md").read_text()
    block = text.split(f"## [{section}]", 1)[1].split("\n## ", 1)[0]
    row = next((line for line in block.splitlines() if line.startswith(f"| `{key}` |")), None)
    assert row, f"[{section}] {key} is missing from docs/config.md"
    assert not row.rstrip().endswith("|  |"), f"[{section}] {key} has no explanation in docs/config.md"


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in _commands(cli)])
def test_every_command_and_option_is_documented(path):
    text = (DOCS / "cli.md").read_text()
    assert f"homeroll {path}" in text or f"`{path.split()[-1]} ID" in text, f"`homeroll {path}` missing from docs/cli.md"
    command = dict(_commands(cli))[tuple(path.split())]
    for param in command.params:
        if isinstance(param, click.Option):
            for opt in param.opts:
                assert opt in text, f"option {opt} of `homeroll {path}` missing from docs/cli.md"
