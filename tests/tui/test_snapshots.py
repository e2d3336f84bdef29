"""Snapshot tests: every screen at 80x24 and 120x40 on the fixed library with a pinned clock and
half-block images. Update with `pytest tests/tui/test_snapshots.py --snapshot-update` and review the SVGs."""

from __future__ import annotations

import pytest

from tests.tui.conftest import settle

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]



def keys(*presses: str):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in presses:
            await pilot.press(key)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_memories_screen(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=keys())


@pytest.mark.parametrize("size", SIZES)
def test_memory_detail_screen(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=keys("down", "enter", "right"))


@pytest.mark.parametrize("size", SIZES)
def test_people_screen(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=keys("2"))


@pytest.mark.parametrize("size", SIZES)
def test_status_screen(snap_compare, make_app, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=keys("3"))
