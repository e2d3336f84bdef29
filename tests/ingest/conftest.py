"""One real scan of the whole shared corpus per test session, through the CLI, reused by the corpus tests."""

from __future__ import annotations

import pytest

from homeroll.daemon import config as config_mod
from tests.conftest import cli_json, run_cli


@pytest.fixture(scope="session")
def corpus_scan(corpus, tmp_path_factory):
    """(config path, media rows, skipped rows, scan summary) for a scan of the whole corpus."""
    base = tmp_path_factory.mktemp("corpus-scan")
    cfg = config_mod.build(base / "config.toml", [corpus], base / "data", base / "export", "Europe/Berlin")
    config_mod.save(cfg)
    summary = cli_json(cfg.path, "scan", "--json", timeout=900)
    media = cli_json(cfg.path, "media", "--json")
    skipped = cli_json(cfg.path, "media", "--skipped", "--json")
    return cfg.path, media, skipped, summary


@pytest.fixture(scope="session")
def corpus_rescan(corpus_scan):
    return run_cli(corpus_scan[0], "scan", "--json")
