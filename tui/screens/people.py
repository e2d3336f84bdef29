"""People found in the photos: face crops per person, naming, merging, moving faces, forgetting.

A name Google Takeout suggests for the highlighted person shows as one line with its own keys, only
while there is such an offer (so the screen looks as before for libraries without Takeout names);
it is applied only when the household presses accept.

``h`` hides the highlighted person from memories, or shows them again: the key reads Hide or Unhide for
the person highlighted, the list marks who is hidden, and the change re-selects the suggestions in a
worker (memories.hidden.set_hidden, on the backend's connection), so the memories screen shows them
without the person when the household goes back to it.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Static

from homeroll.daemon.memories import hidden
from homeroll.daemon.store import hiding as store_hiding
from homeroll.tui.backend import image_from_bytes
from homeroll.tui.format import clip
from homeroll.tui.messages import FacesLoaded, PeopleLoaded, ThumbLoaded
from homeroll.tui.screens.base import DataScreen, decision_bindings
from homeroll.tui.screens.dialogs import NEW_PERSON, ChoosePersonScreen, ConfirmScreen, FormScreen
from homeroll.tui.widgets.key_footer import KeyFooter
from homeroll.tui.widgets.people_table import PeopleTable, person_label
from homeroll.tui.widgets.thumb_tile import prepare_preview
from homeroll.tui.widgets.tile_grid import GraphicTileGrid, TileGrid, make_tile_grid

#: Face crops shown per person (the count in the header is always the full one).
FACES_SHOWN = 48
#: After a hidden person's name in the list (the name column is 16 cells: the name is cut, never the mark).
HIDDEN_MARK = " (hidden)"
_SHOWN = {"hidden_at": None, "hidden_by": None}


def forget_text(person: dict[str, Any]) -> str:
    """The confirmation body: exactly what forgetting deletes, and what it leaves alone."""
    label = person_label(person)
    faces = person.get("face_count") or 0
    photos = person.get("item_count") or 0
    lines = [
        f"This deletes, for {label}:",
        f"  - the face signatures of {faces} face(s) in {photos} photo(s), which recognise {label}",
        f"  - their {faces} face crop(s)",
    ]
    if person.get("name") or person.get("birthday"):
        lines.append(f"  - the name {person.get('name') or '(none)'} and birthday {person.get('birthday') or '(none)'}")
    lines += [
        "It keeps: the photos and their files, every memory, and the bare face boxes (unassigned).",
        "homeroll keeps one anonymous average of these faces so it will not suggest this person again. "
        "This cannot be undone.",
    ]
    return "\n".join(lines)


class PeopleScreen(DataScreen):
    SUB_TITLE = "People"
    AUTO_FOCUS = "PeopleTable"
    BINDINGS = [
        Binding("n", "name", "Name"),
        Binding("g", "merge", "Merge"),
        Binding("m", "move", "Move face"),
        Binding("f", "forget", "Forget"),
        # one key, two meanings: check_action shows the one that fits the highlighted person
        Binding("h", "hide", "Hide"),
        Binding("h", "unhide", "Unhide"),
        # hidden (check_action) unless a name is offered
        *decision_bindings("accept_name", "Accept name", "decline_name", "Decline name"),
        Binding("tab", "switch", "Faces/list", show=False),
    ]

    OFFER_ACTIONS = ("accept_name", "decline_name")
    HIDE_ACTIONS = {"hide": False, "unhide": True}  # action -> whether the highlighted person must be hidden

    DEFAULT_CSS = """
    PeopleScreen #people-side { width: 44; }
    PeopleScreen #faces-side { width: 1fr; }
    PeopleScreen #person-header { height: auto; padding: 0 1; }
    PeopleScreen #name-offer { height: auto; padding: 0 1; color: $warning; display: none; }
    PeopleScreen #name-offer.-offered { display: block; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._faces_for: int | None = None
        self._face_ids: list[int] = []
        self._offer: tuple[int, dict[str, Any]] | None = None  # (person id, offer) for the highlighted person
        self._hidden = False  # whether the highlighted person is hidden (which of Hide / Unhide h means)

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        with Horizontal():
            with Vertical(id="people-side"):
                yield PeopleTable(id="people")
            with Vertical(id="faces-side"):
                yield Static("", id="person-header")
                yield Static("", id="name-offer")
                yield make_tile_grid(self.app.image_renderer, id="faces")  # type: ignore[attr-defined]
        yield KeyFooter()

    @property
    def grid(self) -> TileGrid | GraphicTileGrid:
        return self.query_one("#faces")  # type: ignore[return-value]

    @property
    def table(self) -> PeopleTable:
        return self.query_one(PeopleTable)

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="people")
    def load(self) -> None:
        people = self.backend.people()
        if people:
            try:
                offers = self.backend.name_offers()
            except Exception:  # noqa: BLE001 - an offer is a nicety: the people list must load without it
                offers = {}
            hidden_people = self.backend.call(store_hiding.hidden_people)
            people = [{**p, "suggested_name": offers.get(p["id"]), **hidden_people.get(p["id"], _SHOWN)}
                      for p in people]
        if not self.cancelled():
            self.post_message(PeopleLoaded(people))

    def on_people_loaded(self, message: PeopleLoaded) -> None:
        self.table.show(message.people)
        self._mark_hidden(message.people)
        if not message.people:
            self.query_one("#person-header", Static).update(
                "Nobody yet: people appear after the faces job has found a face several times.")
            self.grid.set_tiles([])
            self._faces_for, self._face_ids = None, []
            self._set_offer(None)
            return
        self._show_person(force=True)

    def _mark_hidden(self, people: list[dict[str, Any]]) -> None:
        """The name cell of each hidden person, marked (the shared PeopleTable knows nothing of hiding)."""
        width = 16 - len(HIDDEN_MARK)
        for p in people:
            if p.get("hidden_at"):
                self.table.update_cell(str(p["id"]), "name", clip(person_label(p), width) + HIDDEN_MARK)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.table:
            self._show_person()

    def _show_person(self, force: bool = False) -> None:
        person = self.table.current()
        if person is None:
            return
        header = f"{person_label(person)}"
        if person.get("birthday"):
            header += f"  birthday {person['birthday']}"
        header += f"  |  {person.get('face_count') or 0} faces in {person.get('item_count') or 0} photos"
        hidden_now = bool(person.get("hidden_at"))
        if hidden_now:
            header += f"  |  hidden since {person['hidden_at'][:10]} by {person.get('hidden_by')}"
        self.query_one("#person-header", Static).update(header)
        if hidden_now != self._hidden:
            self._hidden = hidden_now
            self.refresh_bindings()  # h turns from Hide to Unhide and back
        offer = person.get("suggested_name")
        self._set_offer((person["id"], offer) if offer else None)
        if force or person["id"] != self._faces_for:
            self.load_faces(person["id"])

    def _set_offer(self, offer: tuple[int, dict[str, Any]] | None) -> None:
        line = self.query_one("#name-offer", Static)
        if offer is not None:
            line.update(f"{offer[1]['text']}: accept? (a/r)")
        line.set_class(offer is not None, "-offered")
        if offer != self._offer:
            self._offer = offer
            self.refresh_bindings()  # the accept/decline keys come and go with the offer

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.OFFER_ACTIONS:
            return self._offer is not None
        if action in self.HIDE_ACTIONS:
            return self._hidden == self.HIDE_ACTIONS[action]
        return True

    @work(thread=True, exclusive=True, exit_on_error=False, group="faces")
    def load_faces(self, person_id: int) -> None:
        faces = self.backend.person_faces(person_id, limit=FACES_SHOWN)
        if not self.cancelled():
            self.post_message(FacesLoaded(person_id, faces))

    def on_faces_loaded(self, message: FacesLoaded) -> None:
        face_ids = [f["id"] for f in message.faces]
        if message.person_id == self._faces_for and face_ids == self._face_ids:
            return
        self._faces_for, self._face_ids = message.person_id, face_ids
        missing = self.grid.set_tiles([
            (f["id"], f"photo {f['item_id']}" + (" (you)" if f.get("assigned_by") == "user" else ""), f)
            for f in message.faces])
        if missing:
            self.load_crops(missing)

    @work(thread=True, exclusive=True, exit_on_error=False, group="crops")
    def load_crops(self, face_ids: list[int]) -> None:
        renderer = self.app.image_renderer  # type: ignore[attr-defined]
        for face_id in face_ids:
            if self.cancelled():
                return
            crop = self.backend.face_crop(face_id)
            self.post_message(ThumbLoaded(face_id, prepare_preview(image_from_bytes(crop), renderer)))

    def on_thumb_loaded(self, message: ThumbLoaded) -> None:
        self.grid.set_image(message.key, message.image)

    # -- actions --------------------------------------------------------------------------------
    def _person(self) -> dict[str, Any] | None:
        person = self.table.current()
        if person is None:
            self.notify("No person is highlighted.", severity="warning", timeout=3)
        return person

    def action_switch(self) -> None:
        grid = self.grid
        if grid.focused_tile() is None and grid.tiles():
            grid.focus_first()
        else:
            self.table.focus()

    def action_name(self) -> None:
        person = self._person()
        if person is None:
            return

        def save(values: dict[str, str] | None) -> None:
            if values is not None:
                name = values["name"] or None
                self.act(self.backend.name_person, person["id"], name, values["birthday"] or None,
                         done=f"Saved: {name or 'unnamed'}")

        self.app.push_screen(FormScreen(f"Name {person_label(person)}", [
            ("name", "Name (empty = unnamed)", person.get("name") or ""),
            ("birthday", "Birthday (MM-DD or YYYY-MM-DD, optional)", person.get("birthday") or ""),
        ]), save)

    def _offered(self) -> tuple[dict[str, Any], str] | None:
        person = self._person()
        if person is None or self._offer is None or self._offer[0] != person["id"]:
            return None
        return person, self._offer[1]["name"]

    def action_accept_name(self) -> None:
        offered = self._offered()
        if offered is not None:
            person, name = offered
            self.act(self.backend.accept_name, person["id"], name, done=f"Saved: {person_label(person)} is {name}")

    def action_decline_name(self) -> None:
        offered = self._offered()
        if offered is not None:
            person, name = offered
            self.act(self.backend.decline_name, person["id"], name,
                     done=f"{person_label(person)} is not {name}: that name will not be offered again")

    def action_merge(self) -> None:
        keep = self._person()
        if keep is None:
            return
        others = [p for p in self.table.people_rows() if p["id"] != keep["id"]]
        if not others:
            self.notify("There is nobody else to merge with.", severity="warning", timeout=3)
            return
        keep_label = person_label(keep)

        def chosen(other_id: int | None) -> None:
            if other_id is None:
                return
            other = next(p for p in others if p["id"] == other_id)
            other_label = person_label(other)
            body = (f"All {other.get('face_count') or 0} faces of {other_label} become {keep_label}'s.\n"
                    f"{keep_label} keeps its name and birthday (taking {other_label}'s where it has none);\n"
                    f"{other_label} is then removed from the list.")

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self.act(self.backend.merge_people, keep["id"], other_id,
                             done=f"Merged {other_label} into {keep_label}")

            self.app.push_screen(ConfirmScreen(f"Merge {other_label} into {keep_label}?", body, yes="Merge"),
                                 confirmed)

        self.app.push_screen(ChoosePersonScreen(f"Who else is {keep_label}? (merged into {keep_label})", others),
                             chosen)

    def action_move(self) -> None:
        tile = self.grid.focused_tile()
        if tile is None:
            self.notify("Highlight a face first (tab, then arrow keys).", severity="warning", timeout=3)
            return
        current = self._faces_for
        others = [p for p in self.table.people_rows() if p["id"] != current]

        def chosen(target: int | None) -> None:
            if target is None:
                return
            person_id = None if target == NEW_PERSON else target
            label = "a new person" if person_id is None else person_label(
                next(p for p in others if p["id"] == person_id))
            self.act(self.backend.move_face, tile.key, person_id, done=f"Moved the face to {label}")

        self.app.push_screen(ChoosePersonScreen("Whose face is this?", others, allow_new=True), chosen)

    def action_forget(self) -> None:
        person = self._person()
        if person is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.act(self.backend.forget_person, person["id"],
                         done=lambda r: (f"Forgot {person_label(person)}: {r.get('faces_deleted', 0)} faces and "
                                         f"{r.get('crops_deleted', 0)} crops deleted"))

        self.app.push_screen(ConfirmScreen(f"Forget {person_label(person)}?", forget_text(person), yes="Forget"),
                             confirmed)

    def action_hide(self) -> None:
        self._set_hidden(True)

    def action_unhide(self) -> None:
        self._set_hidden(False)

    def _set_hidden(self, hide: bool) -> None:
        """No confirmation: hiding deletes nothing and h again undoes it (forget is the one that deletes)."""
        person = self._person()
        if person is None:
            return
        cfg = self.backend.cfg
        today = self.app.clock().astimezone(cfg.zone).date()  # type: ignore[attr-defined]
        self.act(self.backend.call, hidden.set_hidden, cfg, person["id"], hide, today, done=lambda r: r["text"])
