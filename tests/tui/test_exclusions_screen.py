"""Pilot tests for the exclusions screen: add a period and a place with the dialog, see them listed with the
photos they leave out, remove one; a bad period is one error notification and nothing is stored.

The screen is pushed onto the app the TUI tests build (tests/tui/conftest.py): its mode is wired in
tui/app.py, which these tests do not depend on.
"""

from __future__ import annotations

from homeroll.daemon.store import exclusions as store_exclusions
from homeroll.tui.screens.dialogs import ConfirmScreen, FormScreen
from homeroll.tui.screens.exclusions import ExclusionsScreen
from tests.tui.conftest import open_screen, read, screen_text, settle


async def open_exclusions(pilot) -> ExclusionsScreen:
    return await open_screen(pilot, ExclusionsScreen)


async def _add(pilot, what: str, reason: str = "") -> None:
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(pilot.app.screen, FormScreen)
    await pilot.press(*what, "tab", "tab", *reason, "enter")
    await settle(pilot)


async def test_add_list_and_remove(make_app, tui_library):
    cfg, _ = tui_library
    # the library's barbecue day (tests/tui/library.py): six photos on 2024-08-17
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_exclusions(pilot)
        assert "Nothing is excluded" in screen_text(app)

        await _add(pilot, "2024-08-17", "a day we would rather forget")
        [period] = read(cfg, store_exclusions.list_exclusions)
        assert (period["kind"], period["start"], period["end"], period["reason"]) == (
            "period", "2024-08-17", "2024-08-17", "a day we would rather forget")
        assert any(n.message.startswith("excluded date 2024-08-17 (exclusion 1): 6 photos left out of new "
                                        "memories; selection: ") for n in app._notifications)

        await _add(pilot, "Lisbon")
        text = screen_text(app)
        assert "date 2024-08-17" in text and "a day we would rather forget" in text and "place Lisbon" in text
        assert "2 excluded" in text

        await pilot.press("x")  # the cursor is on the first row: the period
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "exclusion 1: date 2024-08-17" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert [e["place_name"] for e in read(cfg, store_exclusions.list_exclusions)] == ["Lisbon"]
        assert any(n.message.startswith("removed exclusion 1 (date 2024-08-17); selection: ")
                   for n in app._notifications)
        assert "date 2024-08-17" not in screen_text(app)


async def test_a_bad_period_is_one_error_and_nothing_is_stored(make_app, tui_library):
    cfg, _ = tui_library
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_exclusions(pilot)
        await _add(pilot, "2024-08-17..2024-08-01")
        assert read(cfg, store_exclusions.list_exclusions) == []
        assert any(n.severity == "error" and n.message == "the period ends before it starts: 2024-08-17..2024-08-01"
                   for n in app._notifications)
        await _add(pilot, "38.7,-9.1")  # a point takes the dialog's radius (0.5 km)
        [point] = read(cfg, store_exclusions.list_exclusions)
        assert (point["lat"], point["lon"], point["radius_km"]) == (38.7, -9.1, 0.5)
