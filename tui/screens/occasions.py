"""The family's own occasions: list them, add one (`a`), remove one (`x`), import a calendar file (`i`).

The same core functions as `homeroll occasions` (memories.family_occasions, memories.ics), run in workers
through ``backend.call``, so a change re-selects at once and the notification says in one line what it
changed. A calendar's birthdays of named people are set only after the household says yes in a dialog
that lists them, as the CLI asks in a terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Header, Input, Label, Static

from homeroll.daemon.errors import UserError
from homeroll.daemon.memories import family_occasions, ics
from homeroll.daemon.store import occasions as store_occasions
from homeroll.tui.messages import ActionFailed
from homeroll.tui.screens.base import DataScreen
from homeroll.tui.screens.dialogs import DIALOG_CSS, ConfirmScreen, FormScreen
from homeroll.tui.widgets.key_footer import KeyFooter

COLUMNS = ("ID", "Title", "Date", "Days", "Yearly", "People", "From", "Memories")


@dataclass
class OccasionsLoaded(Message):
    rows: list[dict[str, Any]]


@dataclass
class CalendarRead(Message):
    """A calendar file parsed in a worker, with the birthdays that need the household's yes."""

    parsed: ics.Parsed
    offers: list[ics.BirthdayOffer]
    passed: list[dict[str, str]]


def _load(db: Any) -> list[dict[str, Any]]:
    made = store_occasions.memories_of(db)
    return [{**o, "memories": made.get(o["id"], [])} for o in store_occasions.list_occasions(db)]


def _memories_cell(made: list[dict[str, Any]]) -> str:
    if not made:
        return "-"
    if len(made) == 1:
        return f"#{made[0]['id']} {made[0]['status']}"
    return f"{len(made)} memories"


class OccasionFormScreen(ModalScreen[dict[str, Any] | None]):
    """Title, date, people, days and a yearly box; `enter` in a field saves, `escape` cancels."""

    DEFAULT_CSS = DIALOG_CSS.format(name="OccasionFormScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    FIELDS = (("title", "Title (e.g. Lea's graduation)"), ("date", "Date (YYYY-MM-DD; a yearly one: the first)"),
              ("people", "People (names, comma-separated; may be empty)"), ("days", "Days"))

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Add an occasion", classes="title")
            for key, label in self.FIELDS:
                yield Label(label)
                yield Input(value="1" if key == "days" else "", id=f"field-{key}")
            yield Checkbox("Every year (an anniversary)", id="field-yearly")
            with Horizontal(classes="buttons"):
                yield Button("Save (enter)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def _values(self) -> dict[str, Any]:
        values: dict[str, Any] = {key: self.query_one(f"#field-{key}", Input).value.strip() for key, _ in self.FIELDS}
        values["yearly"] = self.query_one("#field-yearly", Checkbox).value
        return values

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self._values())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._values() if event.button.id == "save" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class OccasionsScreen(DataScreen):
    SUB_TITLE = "Occasions"
    AUTO_FOCUS = "#occasions"
    BINDINGS = [Binding("a", "add", "Add"), Binding("x", "remove", "Remove"), Binding("i", "import_file", "Import .ics")]

    DEFAULT_CSS = """
    OccasionsScreen #occasions { height: 1fr; }
    OccasionsScreen #occasions-summary { height: auto; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        table: DataTable = DataTable(id="occasions", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static("", id="occasions-summary")
        yield KeyFooter()

    @property
    def table(self) -> DataTable:
        return self.query_one("#occasions", DataTable)

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="occasions")
    def load(self) -> None:
        rows = self.backend.call(_load)
        if not self.cancelled():
            self.post_message(OccasionsLoaded(rows))

    def on_occasions_loaded(self, message: OccasionsLoaded) -> None:
        table, current = self.table, self._current(quiet=True)
        self._rows = message.rows
        table.clear()
        for o in message.rows:
            table.add_row(str(o["id"]), o["title"], o["date"], str(o["days"]), "yes" if o["yearly"] else "",
                          ", ".join(o["people"]), o["source"], _memories_cell(o["memories"]), key=str(o["id"]))
        if current is not None and any(o["id"] == current["id"] for o in message.rows):
            table.move_cursor(row=table.get_row_index(str(current["id"])))
        summary = (f"{len(message.rows)} occasions; a adds one, i imports a calendar (.ics)" if message.rows else
                   "No occasions yet: a adds one (a graduation, a wedding anniversary), i imports a calendar (.ics).")
        self.query_one("#occasions-summary", Static).update(summary)

    def _current(self, quiet: bool = False) -> dict[str, Any] | None:
        table = self.table
        if self._rows and 0 <= table.cursor_row < len(self._rows):
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            return next((o for o in self._rows if str(o["id"]) == key), None)
        if not quiet:
            self.notify("No occasion is highlighted.", severity="warning", timeout=3)
        return None

    # -- actions --------------------------------------------------------------------------------
    def action_add(self) -> None:
        self.app.push_screen(OccasionFormScreen(), self._added)

    def _added(self, values: dict[str, Any] | None) -> None:
        if not values:
            return
        try:
            days = int(values["days"] or 1)
        except ValueError:
            self.notify(f"days must be a number, not {values['days']!r}", severity="error", timeout=6)
            return
        people = [n.strip() for n in values["people"].split(",") if n.strip()]
        run = partial(self.backend.call, family_occasions.add_and_select, self.backend.cfg, values["title"],
                      values["date"], days=days, yearly=values["yearly"], people=people, source="tui")
        self.act(run, done=lambda result: result["text"])

    def action_remove(self) -> None:
        occasion = self._current()
        if occasion is None:
            return
        body = (f"This removes occasion {occasion['id']}: {occasion['title']} on {occasion['date']}"
                f"{' (yearly)' if occasion['yearly'] else ''}.\nIts suggested memories go now; approved and "
                f"exported memories stay.")

        def answered(yes: bool | None) -> None:
            if yes:
                run = partial(self.backend.call, family_occasions.remove_and_select, self.backend.cfg, occasion["id"])
                self.act(run, done=lambda result: result["text"])

        self.app.push_screen(ConfirmScreen("Remove this occasion?", body, yes="Remove"), answered)

    def action_import_file(self) -> None:
        self.app.push_screen(FormScreen("Import a calendar file (.ics)", [("path", "Path of the .ics file", "")]),
                             self._import_path)

    def _import_path(self, values: dict[str, str] | None) -> None:
        if values and values.get("path"):
            self.read_calendar(Path(values["path"]).expanduser())

    @work(thread=True, exclusive=True, exit_on_error=False, group="calendar")
    def read_calendar(self, path: Path) -> None:
        try:
            parsed = ics.read(path, self.backend.cfg.home_tz)
            offers, passed = self.backend.call(ics.matching_birthdays, parsed)
        except UserError as exc:
            self.post_message(ActionFailed(str(exc)))
            return
        self.post_message(CalendarRead(parsed, offers, passed))

    def on_calendar_read(self, message: CalendarRead) -> None:
        def write(yes: bool | None) -> None:
            run = partial(self.backend.call, ics.import_calendar, self.backend.cfg, message.parsed, message.offers,
                          message.passed, set_birthdays=bool(yes))
            self.act(run, done=lambda report: report["text"])

        if not message.offers:
            write(False)
            return
        body = "\n".join(["The calendar has birthdays of people you named:",
                          *(f"  {offer.text()}" for offer in message.offers),
                          "Set them? The events themselves are imported either way."])
        self.app.push_screen(ConfirmScreen("Set these birthdays?", body, yes="Set birthdays"), write)
