"""Repository rules that keep the tree honest: every package is installed, the core never imports textual,
`ls daemon/` shows the stages, no module outgrows 400 lines, and ruff (complexity included) is clean."""

from __future__ import annotations

import ast
import re
import shutil
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


STAGES = {"cli", "ingest", "faces", "memories", "collage", "service", "store"}
MAX_MODULE_LINES = 400


def test_daemon_shows_the_stages_and_nothing_else():
    entries = {p.name for p in (REPO / "daemon").iterdir() if p.name != "__pycache__"}
    assert entries == STAGES | {"__init__.py", "__main__.py", "config.py", "errors.py"}


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(REPO)): n for top in ("daemon", "tui", "demo") for p in (REPO / top).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}, f"split these modules: {long}"


def test_ruff_is_clean_with_complexity_at_most_12():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is in the [test] extras: pip install -e '.[test]'"
    done = subprocess.run([ruff, "check", "--no-cache", str(REPO)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:]


#: SQL as it is written in this code base: upper-case keywords with what must follow them.
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+(OR\s+[A-Z]+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
                 r"PRAGMA\s+\w+\s*(=|\(|$)|BEGIN\b|COMMIT\b|ROLLBACK\b|SAVEPOINT\b|CREATE\s+(TABLE|INDEX|VIEW|TRIGGER))", re.S)
#: Connection methods that run SQL text.
SQL_CALLS = {"execute", "executemany", "executescript", "rows_where", "delete_where", "count_where",
             "execute_returning_dicts"}  # sqlite-utils methods that take SQL text


def sql_outside_store(paths) -> list[str]:
    """Each SQL string and each execute/commit call in these files, as 'file:line: what' (docstrings aside)."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and SQL.search(node.value)):
                found.append(f"{path}:{node.lineno}: {node.value[:60]!r}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
                found.append(f"{path}:{node.lineno}: .{node.func.attr}(…)")
    return found


def test_no_sql_outside_store():
    store = REPO / "daemon" / "store"
    paths = [p for top in ("daemon", "tui", "demo") for p in (REPO / top).rglob("*.py") if store not in p.parents]
    assert sql_outside_store(paths) == [], "move these into daemon/store/"


def test_the_sql_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('def f(db):\n    """SELECT x FROM y in a docstring is fine, and so is: Select one from these."""\n'
                   '    label = "Select what to show from here; PRAGMA quick_check: failed"\n'
                   '    return db.execute("SELECT id FROM items WHERE x = ?", [1])\n')
    assert sorted(sql_outside_store([bad])) == [f"{bad}:4: 'SELECT id FROM items WHERE x = ?'", f"{bad}:4: .execute(…)"]
