"""Search text plus kind and status filters for the memories list."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Select

KINDS = ("trip", "day_out", "gathering", "birthday", "occasion", "holiday", "on_this_day", "people", "period",
         "year_review")
STATUSES = ("suggested", "approved", "exported", "rejected")


class FilterBar(Horizontal):
    DEFAULT_CSS = """
    FilterBar { height: 3; }
    FilterBar > Input { width: 1fr; }
    FilterBar > Select { width: 20; }
    """

    @dataclass
    class Changed(Message):
        search: str | None
        kind: str | None
        status: str | None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ search titles, places, people", id="search")
        yield Select([(k.replace("_", " "), k) for k in KINDS], prompt="any kind", id="kind")
        yield Select([(s, s) for s in STATUSES], prompt="any status", id="status")

    def values(self) -> tuple[str | None, str | None, str | None]:
        search = self.query_one("#search", Input).value.strip() or None
        kind = self.query_one("#kind", Select).value
        status = self.query_one("#status", Select).value
        return (search, None if kind is Select.NULL else kind, None if status is Select.NULL else status)

    def cycle(self, which: str) -> None:
        """Step a filter to its next value (then back to 'any'), for the one-key shortcuts."""
        select = self.query_one(f"#{which}", Select)
        options = KINDS if which == "kind" else STATUSES
        current = select.value
        if current is Select.NULL:
            select.value = options[0]
        elif current == options[-1]:
            select.clear()
        else:
            select.value = options[options.index(current) + 1]

    def _post(self) -> None:
        self.post_message(self.Changed(*self.values()))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._post()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._post()
