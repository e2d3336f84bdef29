"""TUI fixtures: a fixed test library, an app factory with a pinned clock and half-block images."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from textual_image._terminal import CellSize, get_cell_size

from homeroll.tui.app import HomerollApp
from tests.tui.library import NOW, build, pinned_doctor

# Pin the terminal cell size textual-image uses, so image previews render the same everywhere.
get_cell_size._result = CellSize(10, 20)  # type: ignore[attr-defined]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run ``async def`` tests here with asyncio (no async plugin is installed; Pilot needs a loop)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None


@pytest.fixture
def tui_library(make_config):
    """(cfg, ids) for a freshly built fixed library."""
    cfg = make_config(home_tz="Europe/Berlin")
    ids = build(cfg)
    return cfg, ids


@pytest.fixture
def make_app(tui_library):
    cfg, _ = tui_library

    def _make(**kwargs) -> HomerollApp:
        kwargs.setdefault("clock", lambda: NOW)
        kwargs.setdefault("image_renderer", "halfcell")
        kwargs.setdefault("refresh_interval", None)
        app = HomerollApp(cfg, **kwargs)
        app.backend.run_doctor = pinned_doctor
        return app

    return _make


async def settle(pilot, rounds: int = 6) -> None:
    """Wait until workers are done and their messages handled (loads chain: rows, tiles, images)."""
    from textual.worker import WorkerCancelled

    for _ in range(rounds):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # an exclusive worker replaced by a newer one: wait for that one
            pass
        await pilot.pause()


def screen_text(app) -> str:
    """The current screen as plain text (what a user would read), for assertions."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def read(cfg, fn, *args):
    """A store function's answer on a connection of the test's own (as another process would see it)."""
    from homeroll.daemon import store

    db = store.connect(cfg.db_path)
    try:
        return fn(db, *args)
    finally:
        db.close()


async def open_screen(pilot, screen_class):
    """Push a screen onto the test app once it settled, and wait for it to settle (its first load)."""
    await settle(pilot)
    screen = screen_class()
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen
