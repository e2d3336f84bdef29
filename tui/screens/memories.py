"""The first screen: every memory, suggestions first; approve, reject, open, filter, search."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, Input, Static

from homeroll.daemon.errors import UserError
from homeroll.tui.messages import MemoriesLoaded
from homeroll.tui.screens.base import DataScreen, decision_bindings
from homeroll.tui.widgets.filter_bar import FilterBar
from homeroll.tui.widgets.key_footer import KeyFooter
from homeroll.tui.widgets.memory_table import MemoryTable


class MemoriesScreen(DataScreen):
    SUB_TITLE = "Memories"
    AUTO_FOCUS = "MemoryTable"
    BINDINGS = [
        *decision_bindings("approve", "Approve", "reject", "Reject"),
        Binding("enter", "open", "Open", priority=False),
        Binding("slash", "search", "Search"),
        Binding("k", "cycle('kind')", "Kind"),
        Binding("f", "cycle('status')", "Status filter"),
        Binding("escape", "clear_filters", "Clear", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield FilterBar()
        yield MemoryTable(id="memories")
        yield Static("", id="memories-summary")
        yield KeyFooter()

    @property
    def table(self) -> MemoryTable:
        return self.query_one(MemoryTable)

    def reload(self) -> None:
        search, kind, status = self.query_one(FilterBar).values()
        self.load(search, kind, status)

    @work(thread=True, exclusive=True, exit_on_error=False, group="memories")
    def load(self, search: str | None, kind: str | None, status: str | None) -> None:
        try:
            rows, error = self.backend.memories(status=status, kind=kind, search=search), None
        except UserError as exc:
            rows, error = [], str(exc)
        if not self.cancelled():
            self.post_message(MemoriesLoaded(rows, error))

    def on_memories_loaded(self, message: MemoriesLoaded) -> None:
        self.table.show(message.rows)
        waiting = sum(1 for r in message.rows if r.get("status") == "suggested")
        if message.error:
            summary = message.error
        elif message.rows:
            summary = f"{len(message.rows)} memories, {waiting} waiting for a decision"
        else:
            summary = "No memories yet: they appear after the service has scanned and run its memories job."
        self.query_one("#memories-summary", Static).update(summary)

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self.load(message.search, message.kind, message.status)

    @on(Input.Submitted, "#search")
    def search_done(self) -> None:
        self.table.focus()

    def on_memory_table_selected(self, event: MemoryTable.Selected) -> None:
        if event.table is self.table:
            self.action_open()

    # -- actions --------------------------------------------------------------------------------
    def _current(self) -> dict | None:
        row = self.table.current_row()
        if row is None:
            self.notify("No memory is highlighted.", severity="warning", timeout=3)
        return row

    def action_approve(self) -> None:
        row = self._current()
        if row:
            self.act(self.backend.approve, row["id"], done=f"Approved: {row['title']}")

    def action_reject(self) -> None:
        row = self._current()
        if row:
            self.act(self.backend.reject, row["id"], done=f"Rejected: {row['title']}")

    def action_open(self) -> None:
        row = self._current()
        if row:
            from homeroll.tui.screens.memory_detail import MemoryDetailScreen

            self.app.push_screen(MemoryDetailScreen(row["id"], row))

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_cycle(self, which: str) -> None:
        self.query_one(FilterBar).cycle(which)

    def action_clear_filters(self) -> None:
        bar = self.query_one(FilterBar)
        bar.query_one("#search", Input).value = ""
        for select_id in ("#kind", "#status"):
            bar.query_one(select_id).clear()
        self.table.focus()
