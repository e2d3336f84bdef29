"""Repository rules that keep the tree honest: every daemon subpackage is installed, and the core never imports textual."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, name in (("daemon", "homeroll.daemon"), ("tui", "homeroll.tui"), ("demo", "homeroll.demo")):
        for init in (REPO / top).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / top)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    assert found <= listed, f"add to pyproject packages: {sorted(found - listed)}"


def test_core_never_imports_textual():
    code = ("import sys, homeroll.daemon.cli, homeroll.daemon.service.main, homeroll.daemon.memories.select, "
            "homeroll.daemon.collage.export, homeroll.daemon.faces.job; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_image')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
