"""Shared fixtures: the third-party corpus, temporary libraries and configs, and the CLI as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("HOMEROLL_CORPUS", REPO.parent / "shared" / "corpus"))
HOMEROLL = [sys.executable, "-m", "homeroll.daemon"]


#: The reason every corpus test skips with locally when the corpus is not there.
NO_CORPUS = f"the shared corpus is not at {CORPUS}"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_sessionstart(session) -> None:
    """In CI the corpus is part of the test: without it the run stops at once with one line."""
    if in_ci() and not CORPUS.is_dir():
        pytest.exit(f"CI=true but {NO_CORPUS}: CI must run with ../shared/corpus beside the checkout", returncode=3)


def pytest_terminal_summary(terminalreporter) -> None:
    """Locally, the corpus tests that skipped are one line, not a silent gap."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if NO_CORPUS in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests skipped: {NO_CORPUS} (set HOMEROLL_CORPUS to use one)",
                                    yellow=True)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """../shared/corpus (or $HOMEROLL_CORPUS); a skip where it is absent, never in CI (see pytest_sessionstart)."""
    if not CORPUS.is_dir():
        pytest.skip(NO_CORPUS)
    return CORPUS


@pytest.fixture
def make_config(tmp_path):
    """Build and save a config with temporary library, data and export dirs; returns the Config."""

    def _make(libraries: list[Path] | None = None, home_tz: str = "Europe/Berlin", **sections) -> config_mod.Config:
        # Collages only, unless a test asks for more: a 1080p film per export would make every export test a
        # render bench (tests/collage/test_export_outputs.py and test_video.py test the film).
        sections["export"] = {"outputs": ["collage"], **sections.get("export", {})}
        libs = libraries or [tmp_path / "library"]
        for lib in libs:
            lib.mkdir(parents=True, exist_ok=True)
        cfg = config_mod.build(
            tmp_path / "config.toml", libs, tmp_path / "data", tmp_path / "export", home_tz, sections
        )
        config_mod.save(cfg)
        return cfg

    return _make


@pytest.fixture
def memdb():
    """An in-memory DB with the full schema."""
    db = store.connect(None)
    yield db
    db.close()


def run_cli(cfg_path: Path | str, *args: str, check: bool = True, timeout: float = 300,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `homeroll --config CFG ARGS…` as a real process."""
    proc = subprocess.run(
        [*HOMEROLL, "--config", str(cfg_path), *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"homeroll {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


def cli_json(cfg_path: Path | str, *args: str, **kw):
    return json.loads(run_cli(cfg_path, *args, **kw).stdout)
