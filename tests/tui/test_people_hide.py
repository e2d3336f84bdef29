"""Pilot test for `h` on the people screen: hide the highlighted person, the list and the key say so, the
suggestions are re-selected, and `h` again shows them."""

from __future__ import annotations

from homeroll.daemon import store
from homeroll.daemon.store import hiding as store_hiding
from homeroll.daemon.store import memories as store_memories
from homeroll.tui.widgets.key_footer import KeyFooter
from homeroll.tui.widgets.people_table import PeopleTable
from tests.tui.conftest import screen_text, settle


def _read(cfg, fn, *args):
    db = store.connect(cfg.db_path)
    try:
        return fn(db, *args)
    finally:
        db.close()


def _keys(app) -> dict[str, str]:
    """The footer's shown keys: key -> description."""
    return {key: text for key, _, text, _ in app.screen.query_one(KeyFooter)._keys}


async def test_h_hides_the_highlighted_person_and_h_again_shows_them(make_app, tui_library):
    cfg, ids = tui_library
    ana = ids["people"][0]
    approved = ids["memories"]["birthday:ana"]
    picks_before = _read(cfg, store_memories.picked_items, [approved])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one(PeopleTable)
        assert table.current_id() == ana  # named first, most faces
        assert _keys(app)["h"] == "Hide"
        assert "(hidden)" not in screen_text(app)

        await pilot.press("h")
        await settle(pilot)
        state = _read(cfg, store_hiding.state, ana)
        assert state["hidden"] and state["hidden_by"]
        text = screen_text(app)
        assert "Ana (hidden)" in text and "hidden since" in text
        assert _keys(app)["h"] == "Unhide"
        said = [n.message for n in app._notifications]
        assert any(m.startswith(f"Ana (person {ana}) is hidden from new memories; selection: ") for m in said), said
        # re-selected: the fixture's suggestions no rule proposes went; the approved one keeps its picks
        left = {m["stable_key"]: m for m in _read(cfg, store_memories.list_memories)}
        assert "gathering:bbq" not in left and left["birthday:ana"]["status"] == "approved"
        assert _read(cfg, store_memories.picked_items, [approved]) == picks_before
        assert _read(cfg, store_memories.people)[ana]["name"] == "Ana"  # hidden, not forgotten

        await pilot.press("h")
        await settle(pilot)
        assert not _read(cfg, store_hiding.state, ana)["hidden"]
        assert "(hidden)" not in screen_text(app) and _keys(app)["h"] == "Hide"
        assert any(n.message.startswith(f"Ana (person {ana}) is shown in new memories again")
                   for n in app._notifications)
