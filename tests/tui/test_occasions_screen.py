"""Pilot tests for the occasions screen: add one with the dialog, remove one, import a calendar file.

The screen is pushed onto the app the TUI tests build (tests/tui/conftest.py): its mode is wired in
tui/app.py, which these tests do not depend on.
"""

from __future__ import annotations

from datetime import date

from icalendar import Calendar, Event

from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store import occasions as store_occasions
from homeroll.tui.screens.dialogs import ConfirmScreen
from homeroll.tui.screens.occasions import OccasionFormScreen, OccasionsScreen
from tests.tui.conftest import open_screen, read, screen_text, settle


async def open_occasions(pilot) -> OccasionsScreen:
    return await open_screen(pilot, OccasionsScreen)


async def test_a_adds_an_occasion_and_its_memory_appears(make_app, tui_library):
    cfg, _ = tui_library
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_occasions(pilot)
        assert "No occasions yet" in screen_text(app)
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, OccasionFormScreen)
        # the library's barbecue day (tests/tui/library.py): six photos at home
        await pilot.press(*"Garden party", "tab", *"2024-08-17", "tab", *"ana", "tab", "tab", "space")
        await pilot.click("#save")
        await settle(pilot)
        [occasion] = read(cfg, store_occasions.list_occasions)
        assert (occasion["title"], occasion["date"], occasion["people"], occasion["yearly"], occasion["source"]) == (
            "Garden party", "2024-08-17", ["Ana"], True, "tui")
        [memory] = read(cfg, lambda db: store_memories.list_memories(db, kind="occasion"))
        assert memory["title"] == "Garden party, Aug 17, 2024"  # year 0 of a yearly one: the day itself
        text = screen_text(app)
        assert "Garden party" in text and f"#{memory['id']} suggested" in text
        assert any("added occasion" in n.message and "selection:" in n.message for n in app._notifications)


async def test_a_bad_date_or_person_is_one_error_and_nothing_is_added(make_app, tui_library):
    cfg, _ = tui_library
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_occasions(pilot)
        await pilot.press("a")
        await pilot.pause()
        await pilot.press(*"Party", "tab", *"2024-08-17", "tab", *"Nobody", "enter")
        await settle(pilot)
        assert read(cfg, store_occasions.list_occasions) == []
        assert any(n.severity == "error" and "no person named 'Nobody'" in n.message for n in app._notifications)


async def test_x_removes_after_a_confirmation(make_app, tui_library):
    cfg, _ = tui_library
    read(cfg, lambda db: store_occasions.add_occasion(db, "Moving day", "2024-03-01"))
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_occasions(pilot)
        assert "Moving day" in screen_text(app)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert read(cfg, store_occasions.list_occasions) == []
        assert "No occasions yet" in screen_text(app)


def _calendar(path) -> None:
    cal = Calendar()
    cal.add("prodid", "-//homeroll tests//EN")
    cal.add("version", "2.0")
    for uid, summary, day, freq in (("w@x", "Our wedding anniversary", date(2014, 7, 3), "yearly"),
                                    ("b@x", "Ben's birthday", date(1985, 9, 3), "yearly"),
                                    ("y@x", "Yoga", date(2024, 1, 8), "weekly")):
        event = Event()
        event.add("uid", uid)
        event.add("summary", summary)
        event.add("dtstart", day)
        event.add("rrule", {"freq": freq})
        cal.add_component(event)
    path.write_bytes(cal.to_ical())


async def test_i_imports_a_calendar_and_asks_about_birthdays(make_app, tui_library, tmp_path):
    cfg, ids = tui_library
    path = tmp_path / "family.ics"
    _calendar(path)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await open_occasions(pilot)
        await pilot.press("i")
        await pilot.pause()
        await pilot.press(*str(path), "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)  # Ben is named and has no birthday: asked first
        assert "Ben (person" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert [o["title"] for o in read(cfg, store_occasions.list_occasions)] == ["Our wedding anniversary"]
        assert read(cfg, store_faces.person, ids["people"][1])["birthday"] == "09-03"
        assert any("family.ics: 1 added" in n.message for n in app._notifications)
        # a file that is no calendar: one error, nothing else changes
        bad = tmp_path / "bad.ics"
        bad.write_text("not a calendar")
        await pilot.press("i")
        await pilot.pause()
        await pilot.press(*str(bad), "enter")
        await settle(pilot)
        assert any(n.severity == "error" and "is not a calendar file" in n.message for n in app._notifications)
        assert len(read(cfg, store_occasions.list_occasions)) == 1
