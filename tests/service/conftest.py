"""Fixtures for the service tests: a config with a short stability window and fast root checks."""

from __future__ import annotations

import pytest

from tests.service.helpers import DB


@pytest.fixture
def service_config(make_config, tmp_path):
    """make_config with service-friendly defaults; returns (cfg, library path, DB reader)."""

    def _make(mode: str = "auto", libraries=None, **watch):
        settings = {"mode": mode, "stable_seconds": 1.0, "poll_interval": 0.5, "root_check_seconds": 1.0,
                    **watch}
        # faces/select/export are not what these tests are about: keep their crons far away.
        cfg = make_config(libraries=libraries, watch=settings, faces={"enabled": False},
                          memories={"cron": "0 4 1 1 *"}, export={"auto": False})
        return cfg, cfg.libraries[0], DB(cfg.db_path)

    return _make


@pytest.fixture
def site(tmp_path):
    """What `homeroll setup` is pointed at: a library with a folder, an export folder to be, a scratch root."""
    lib = tmp_path / "photos" / "anna"
    (lib / "2024" / "06").mkdir(parents=True)
    return {"lib": lib, "export": tmp_path / "export", "root": tmp_path / "root", "tmp": tmp_path}
