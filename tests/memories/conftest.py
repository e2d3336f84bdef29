"""Fixtures for the memories tests: generated camera rolls in real SQLite DBs, copied per test."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import db as store_db
from tests.memories.camera_roll import generate

SEEDS = (1, 2, 3)
TODAY = date(2023, 12, 26)
_templates: dict[tuple, tuple] = {}


def selection_config(tmp: Path, *, geocoder: dict | None = None, **memories) -> config_mod.Config:
    """A config with data in ``tmp``; ``memories`` and ``geocoder`` override those sections' defaults."""
    sections = {name: values for name, values in (("memories", memories), ("geocoder", geocoder)) if values}
    return config_mod.build(tmp / "config.toml", [Path("/library")], tmp / "data", tmp / "export",
                            "Europe/Berlin", sections or None)


def roll_db(seed: int, **kw):
    """A private copy of a generated roll (generated once per session and seed)."""
    key = (seed, tuple(sorted(kw.items())))
    if key not in _templates:
        template = store.connect(None)
        truth = generate(template, seed, **kw)
        _templates[key] = (template, truth)
    template, truth = _templates[key]
    conn = sqlite3.connect(":memory:", isolation_level=None)  # as store.connect sets it up
    template.conn.backup(conn)
    db = store_db.Database(conn)  # the store's write path (BEGIN IMMEDIATE), as in production
    db.execute("PRAGMA foreign_keys = ON")
    return db, truth


@pytest.fixture
def cfg(tmp_path):
    return selection_config(tmp_path)


@pytest.fixture(scope="session")
def selected():
    """seed -> (db, truth, summary) after one selection run; read-only for the tests that use it."""
    out = {}
    for seed in SEEDS:
        db, truth = roll_db(seed)
        summary = run_selection(selection_config(Path("/tmp/homeroll-memories-tests")), db, today=TODAY)
        out[seed] = (db, truth, summary)
    return out
