"""Excluded periods and places: list them, add one (`a`), remove one (`x`).

The same core functions as `homeroll memories exclude` / `unexclude` (memories.exclusions), run in workers
through ``backend.call``, so a change re-selects the suggestions at once and the notification says in one
line what it changed. The dialog takes what one types in the CLI: a period, one day, a place name, or a
point (LAT,LON, with a radius), and a reason; a bad one is an error notification and nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Header, Static

from homeroll.daemon.errors import UserError
from homeroll.daemon.memories import exclusions
from homeroll.daemon.store import exclusions as store_exclusions
from homeroll.tui.screens.base import DataScreen
from homeroll.tui.screens.dialogs import ConfirmScreen, FormScreen
from homeroll.tui.widgets.key_footer import KeyFooter

COLUMNS = ("ID", "Excluded", "Reason", "Photos left out", "By", "Since")

#: The dialog's fields: (key, label, initial value).
FORM_FIELDS = [
    ("what", "A period YYYY-MM-DD..YYYY-MM-DD, one day, a place name (city, region, country) or LAT,LON", ""),
    ("radius", "Radius in km (for LAT,LON)", f"{exclusions.DEFAULT_RADIUS_KM:g}"),
    ("reason", "Reason (optional; the household sees it in the list and in `memories show`)", ""),
]


@dataclass
class ExclusionsLoaded(Message):
    rows: list[dict[str, Any]]


def _load(db: Any) -> list[dict[str, Any]]:
    rows = store_exclusions.list_exclusions(db)
    counts = exclusions.photo_counts(db, rows)
    return [{**row, "what": exclusions.describe(row), "photos": counts[row["id"]]} for row in rows]


def _spec(values: dict[str, str]) -> dict[str, Any]:
    """The dialog's answer as exclusions.exclude's keywords (a wrong radius is a UserError, as in the CLI)."""
    spec: dict[str, Any] = exclusions.spec_from_text(values.get("what", ""))
    if "near" in spec:
        radius = values.get("radius") or f"{exclusions.DEFAULT_RADIUS_KM:g}"
        try:
            spec["radius_km"] = float(radius)
        except ValueError:
            raise UserError(f"the radius is a number of km, not {radius!r}") from None
    return {**spec, "reason": values.get("reason") or None}


def _exclude(db: Any, cfg: Any, values: dict[str, str]) -> dict[str, Any]:
    return exclusions.exclude(db, cfg, **_spec(values))


class ExclusionsScreen(DataScreen):
    SUB_TITLE = "Exclusions"
    AUTO_FOCUS = "#exclusions"
    BINDINGS = [Binding("a", "add", "Add"), Binding("x", "remove", "Remove")]

    DEFAULT_CSS = """
    ExclusionsScreen #exclusions { height: 1fr; }
    ExclusionsScreen #exclusions-summary { height: auto; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        table: DataTable = DataTable(id="exclusions", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static("", id="exclusions-summary")
        yield KeyFooter()

    @property
    def table(self) -> DataTable:
        return self.query_one("#exclusions", DataTable)

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="exclusions")
    def load(self) -> None:
        rows = self.backend.call(_load)
        if not self.cancelled():
            self.post_message(ExclusionsLoaded(rows))

    def on_exclusions_loaded(self, message: ExclusionsLoaded) -> None:
        table, current = self.table, self._current(quiet=True)
        self._rows = message.rows
        table.clear()
        for e in message.rows:
            table.add_row(str(e["id"]), e["what"], e["reason"] or "", str(e["photos"]), e["created_by"],
                          e["created_at"][:10], key=str(e["id"]))
        if current is not None and any(e["id"] == current["id"] for e in message.rows):
            table.move_cursor(row=table.get_row_index(str(current["id"])))
        summary = (f"{len(message.rows)} excluded; new memories take no photo from them (a adds, x removes)"
                   if message.rows else
                   "Nothing is excluded: a leaves out a period (a hospital stay) or a place (a city, a house).")
        self.query_one("#exclusions-summary", Static).update(summary)

    def _current(self, quiet: bool = False) -> dict[str, Any] | None:
        table = self.table
        if self._rows and 0 <= table.cursor_row < len(self._rows):
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            return next((e for e in self._rows if str(e["id"]) == key), None)
        if not quiet:
            self.notify("No exclusion is highlighted.", severity="warning", timeout=3)
        return None

    # -- actions --------------------------------------------------------------------------------
    def action_add(self) -> None:
        self.app.push_screen(FormScreen("Exclude a period or a place from new memories", FORM_FIELDS), self._added)

    def _added(self, values: dict[str, str] | None) -> None:
        if values and values.get("what"):
            run = partial(self.backend.call, _exclude, self.backend.cfg, values)
            self.act(run, done=lambda result: result["text"])

    def action_remove(self) -> None:
        exclusion = self._current()
        if exclusion is None:
            return
        body = (f"This removes exclusion {exclusion['id']}: {exclusion['what']}.\nIts {exclusion['photos']} "
                f"photos may be in new memories again; the suggestions are re-selected now.")

        def answered(yes: bool | None) -> None:
            if yes:
                run = partial(self.backend.call, exclusions.unexclude, self.backend.cfg, exclusion["id"])
                self.act(run, done=lambda result: result["text"])

        self.app.push_screen(ConfirmScreen("Remove this exclusion?", body, yes="Remove"), answered)
