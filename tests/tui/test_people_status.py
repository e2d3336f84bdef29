"""Pilot tests for the people screen (name, merge, move a face, forget) and the status screen."""

from __future__ import annotations

from homeroll.daemon import store
from homeroll.tui.screens.dialogs import ConfirmScreen
from homeroll.tui.screens.status import service_text
from homeroll.tui.widgets.people_table import PeopleTable
from homeroll.tui.widgets.tile_grid import TileGrid
from tests.tui.conftest import screen_text, settle
from tests.tui.library import NOW


def faces_api():
    from homeroll.daemon.store import faces as store_faces

    return store_faces


def people(cfg) -> dict[int, dict]:
    db = store.connect(cfg.db_path)
    try:
        return {p["id"]: p for p in faces_api().list_people(db)}
    finally:
        db.close()


async def open_people(pilot):
    await settle(pilot)
    await pilot.press("2")
    await settle(pilot)
    return pilot.app.screen.query_one(PeopleTable)


async def test_people_list_and_face_crops(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_people(pilot)
        assert [p.get("name") for p in table.people_rows()][:2] == ["Ana", "Ben"]
        assert len(app.screen.query_one(TileGrid).tiles()) == 5
        text = screen_text(app)
        assert "Ana" in text and "2017-05-12" in text and "5 faces" in text


async def test_n_names_a_person_with_a_birthday(make_app, tui_library):
    cfg, ids = tui_library
    unnamed = ids["people"][2]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_people(pilot)
        table.move_cursor(row=table.get_row_index(str(unnamed)))
        await settle(pilot)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press(*"Carla", "tab", *"03-09", "enter")
        await settle(pilot)
        assert people(cfg)[unnamed]["name"] == "Carla"
        assert people(cfg)[unnamed]["birthday"] == "03-09"
        # A bad birthday is refused with the store's one-line message, and nothing changes.
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("tab", "ctrl+a", "ctrl+k", *"31-31", "enter")
        await settle(pilot)
        assert people(cfg)[unnamed]["birthday"] == "03-09"
        assert any(n.severity == "error" for n in app._notifications)


async def test_g_merges_the_chosen_person_in(make_app, tui_library):
    cfg, ids = tui_library
    ana, ben, _ = ids["people"]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_people(pilot)  # Ana is highlighted (named first, most faces)
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("enter")  # the first other person: Ben
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        after = people(cfg)
        assert ben not in after and after[ana]["face_count"] == 8


async def test_m_moves_the_highlighted_face(make_app, tui_library):
    cfg, ids = tui_library
    ana, ben, _ = ids["people"]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_people(pilot)
        await pilot.press("tab")  # into Ana's faces
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("enter")  # Ben
        await settle(pilot)
        after = people(cfg)
        assert after[ana]["face_count"] == 4 and after[ben]["face_count"] == 4


async def test_f_forgets_after_a_confirmation_that_says_what_goes(make_app, tui_library):
    cfg, ids = tui_library
    ana = ids["people"][0]
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_people(pilot)
        await pilot.press("f")
        await pilot.pause()
        text = screen_text(app)
        assert "face signatures of 5 face(s)" in text and "5 face crop(s)" in text and "the name Ana" in text
        assert "photos and their files" in text
        await pilot.press("n")  # cancel: nothing happens
        await settle(pilot)
        assert ana in people(cfg)
        await pilot.press("f")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert ana not in people(cfg)


def hint_unnamed_person(cfg, person_id: int, name: str) -> None:
    """Takeout names ``name`` in every photo of this person (the fixed library has no hints of its own)."""
    from homeroll.daemon.store import sidecars as store_sidecars

    db = store.connect(cfg.db_path)
    try:
        for item_id in {f["item_id"] for f in faces_api().person_faces(db, person_id)}:
            store_sidecars.set_name_hints(db, item_id, [name], "takeout")
    finally:
        db.close()


async def test_a_takeout_name_is_offered_and_a_accepts_it(make_app, tui_library):
    cfg, ids = tui_library
    unnamed = ids["people"][2]
    hint_unnamed_person(cfg, unnamed, "Carla")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_people(pilot)  # Ana is highlighted: no offer, no offer keys
        text = screen_text(app)
        assert "Takeout calls" not in text and "Accept name" not in text
        await pilot.press("a")  # not bound without an offer: nothing happens
        await settle(pilot)
        table.move_cursor(row=table.get_row_index(str(unnamed)))
        await settle(pilot)
        text = screen_text(app)
        assert "Takeout calls this person Carla (4 of 4 photos): accept? (a/r)" in text
        assert "Accept name" in text and "Decline name" in text
        assert people(cfg)[unnamed]["name"] is None  # offered, never applied on its own
        await pilot.press("a")
        await settle(pilot)
        assert people(cfg)[unnamed]["name"] == "Carla"
        text = screen_text(app)
        assert "Takeout calls" not in text and "Accept name" not in text


async def test_r_declines_a_takeout_name_for_good(make_app, tui_library):
    cfg, ids = tui_library
    unnamed = ids["people"][2]
    hint_unnamed_person(cfg, unnamed, "Carla")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_people(pilot)
        table.move_cursor(row=table.get_row_index(str(unnamed)))
        await settle(pilot)
        assert "Takeout calls this person Carla" in screen_text(app)
        await pilot.press("r")
        await settle(pilot)
        assert "Takeout calls" not in screen_text(app)
        assert people(cfg)[unnamed]["name"] is None
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_people(pilot)
        table.move_cursor(row=table.get_row_index(str(unnamed)))
        await settle(pilot)
        assert "Takeout calls" not in screen_text(app)


async def test_status_shows_roots_offline_state_and_skipped_reasons(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        text = screen_text(app)
        assert "Service: running (last heartbeat 30 s ago)" in text
        assert "Offline: /media/usb-photos" in text
        assert "/srv/photos/phone" in text and "inotify" in text and "5 min ago" in text
        assert "cannot decode: truncated JPEG data" in text
        assert "Skipped files (2)" in text
        assert "Faces: 29 photos waiting for face detection; 3 people found" in text
        assert "scan: [###...........] 1,200/5,000 (24%), 35/s, about 2 min left" in text
        failed = "faces: failed 10 min ago: faces engine cannot load: No module named 'dlib'"
        assert failed in text
        shown = service_text(app.screen._shown, NOW)
        red = [shown.plain[span.start:span.end].strip() for span in shown.spans if "red" in str(span.style)]
        assert failed in red, red
        await pilot.press("1")
        await settle(pilot)
        assert "Garden barbecue" in screen_text(app)


async def test_status_counts_sidecars_only_when_there_are_some(make_app, tui_library):
    from homeroll.daemon import store
    from homeroll.daemon.store import sidecars as store_sidecars

    cfg, _ = tui_library
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert "Sidecars:" not in screen_text(app)  # a phone roll has none: the line would be noise
    db = store.connect(cfg.db_path)
    store_sidecars.record(db, "/srv/photos/phone", "a.jpg.xmp", "xmp", "a.jpg", 10, 1)
    store_sidecars.record(db, "/srv/photos/phone", "b.jpg.json", "takeout", None, 10, 1)
    store_sidecars.record(db, "/srv/photos/phone", "c.jpg.json", "takeout", "c.jpg", 10, 1, "malformed Takeout JSON")
    db.close()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert "Sidecars: 3 (XMP and Takeout), 1 without their photo, 1 unreadable" in screen_text(app)


async def test_daemon_never_imports_textual():
    import subprocess
    import sys

    code = ("import sys, homeroll.daemon.cli, homeroll.daemon.store; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_image')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
