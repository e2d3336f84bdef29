"""What `make test` does on a fresh machine: it names the system tools it lacks in one line, and in CI a
missing corpus stops the run instead of skipping a quarter of it in silence.

Real processes: the check script under a PATH without the tools, and pytest itself on a corpus test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "need-system-tools"
CORPUS_TEST = "tests/ingest/test_corpus_scan.py::test_every_corpus_file_is_an_item_or_a_skip_reason"


def _bin(tmp_path: Path, uid: int, tools: list[str]) -> Path:
    """A PATH of bash, an `id` that answers ``uid``, and the named tools (stubs that do nothing)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "bash").symlink_to(shutil.which("bash"))
    for name, body in [("id", f"echo {uid}")] + [(tool, "exit 0") for tool in tools]:
        (folder / name).write_text(f"#!{shutil.which('bash')}\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def test_a_user_without_the_tools_gets_the_one_install_command(tmp_path):
    folder = _bin(tmp_path, 1000, ["tmux"])
    done = subprocess.run([shutil.which("bash"), str(SCRIPT)], capture_output=True, text=True,
                          env={"PATH": str(folder)})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "make test needs system tools that are not installed; run: "
        "sudo apt-get install -y libimage-exiftool-perl systemd"]


def test_with_every_tool_there_the_check_says_nothing(tmp_path):
    folder = _bin(tmp_path, 1000, ["exiftool", "tmux", "systemd-analyze"])
    done = subprocess.run([shutil.which("bash"), str(SCRIPT)], capture_output=True, text=True,
                          env={"PATH": str(folder)})
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def _pytest(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")}
    env["HOMEROLL_CORPUS"] = str(tmp_path / "no-corpus-here")
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", CORPUS_TEST],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)


def test_in_ci_a_missing_corpus_stops_the_run(tmp_path):
    done = _pytest(tmp_path, "true")
    assert done.returncode == 3, done.stdout[-2000:]
    assert "CI=true but the shared corpus is not at" in done.stdout + done.stderr


def test_locally_a_missing_corpus_is_one_summary_line(tmp_path):
    done = _pytest(tmp_path, None)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 tests skipped: the shared corpus is not at" in done.stdout
