"""The memories list: one row per memory, kept on the same memory across reloads.

A virtual list (Textual's line API) rather than a DataTable: it draws only the rows on screen, so
showing 2,000 memories, reloading them and moving the cursor cost the same as showing 20. A
DataTable measures every cell of every row when rows are added (about a second of UI-thread time
for 2,000 memories on a small machine), and a reload re-adds them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from homeroll.tui.format import clip, date_range, kind_label, names

#: (key, label, width at 100 columns); the title column takes what is left.
COLUMNS = (("status", "Status", 8), ("kind", "Kind", 9), ("title", "Title", 0), ("dates", "Dates", 17),
           ("place", "Place", 12), ("people", "People", 14), ("count", "Pics", 4))

STATUS_STYLES = {"suggested": "bold", "approved": "green", "exported": "cyan", "rejected": "dim"}
STATUS_LABELS = {"suggested": "new", "approved": "approved", "exported": "exported", "rejected": "rejected"}

#: Blank cells either side of every column (as a DataTable draws them).
CELL_PADDING = 1


class MemoryTable(ScrollView, can_focus=True):
    """Rows keyed by memory id. ``show()`` replaces the rows only when they differ."""

    DEFAULT_CSS = """
    MemoryTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;
        &:focus {
            background-tint: $foreground 5%;
            & > .memory-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .memory-table--header { background-tint: $foreground 5%; }
        }
        & > .memory-table--header { text-style: bold; background: $panel; color: $foreground; }
        &:ansi > .memory-table--header { background: ansi_bright_blue; color: ansi_default; }
        & > .memory-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"memory-table--header", "memory-table--cursor"}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Open", show=False),
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
    ]

    cursor_row: var[int] = var(0, init=False)  # a var: only the two changed lines repaint

    @dataclass
    class Selected(Message):
        """A row was chosen (``enter`` or a click): the screen opens it."""

        table: MemoryTable
        memory_id: int

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._memory_rows: list[dict[str, Any]] = []
        self._columns_shown: list[tuple[str, str, int]] = []
        self._row_index: dict[int, int] = {}
        self._cells_cache: dict[int, list[tuple[str, str]]] = {}

    # -- data --------------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._memory_rows)

    def _columns(self) -> list[tuple[str, str, int]]:
        """(key, label, width) for the current width; People only from 100 columns (80 stays readable)."""
        total = max(self.size.width or self.app.size.width, 60)
        extra = max(0, total - 100)
        wanted = {"place": 12 + extra // 4, "people": 14 + extra // 4}
        columns = [(k, label, wanted.get(k, w)) for k, label, w in COLUMNS if k != "people" or total >= 100]
        fixed = sum(w for k, _, w in columns if k != "title") + 2 * CELL_PADDING * len(columns) + 1
        title = max(10, total - fixed)
        return [(k, label, title if k == "title" else w) for k, label, w in columns]

    def show(self, rows: list[dict[str, Any]]) -> None:
        columns = self._columns()
        if rows == self._memory_rows and columns == self._columns_shown:
            return
        keep = self.current_id()
        self._memory_rows, self._columns_shown = rows, columns
        self._row_index = {row["id"]: index for index, row in enumerate(rows)}
        self._cells_cache.clear()
        self.virtual_size = Size(0, len(rows) + 1)  # + the header line; columns always fit the width
        index = self._row_index.get(keep, self.cursor_row) if keep is not None else 0
        self._set_cursor(index)
        self.refresh()

    def on_resize(self) -> None:
        if self._memory_rows and self._columns() != self._columns_shown:
            rows, self._memory_rows = self._memory_rows, []
            self.show(rows)

    def current_id(self) -> int | None:
        if not self._memory_rows:
            return None
        return self._memory_rows[min(self.cursor_row, len(self._memory_rows) - 1)]["id"]

    def current_row(self) -> dict[str, Any] | None:
        if not self._memory_rows:
            return None
        return self._memory_rows[min(self.cursor_row, len(self._memory_rows) - 1)]

    # -- cursor ------------------------------------------------------------------------------------
    def _set_cursor(self, index: int) -> None:
        self.cursor_row = max(0, min(index, len(self._memory_rows) - 1))
        self._scroll_cursor_visible()

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)  # virtual line = row index + the header line
        self.refresh_line(new + 1)

    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_cursor_visible(self) -> None:
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + self._visible_rows():
            self.scroll_to(y=self.cursor_row - self._visible_rows() + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self._set_cursor(self.cursor_row + step)

    def action_page(self, direction: int) -> None:
        self._set_cursor(self.cursor_row + direction * self._visible_rows())

    def action_cursor_to(self, index: int) -> None:
        self._set_cursor(index if index >= 0 else len(self._memory_rows) - 1)

    def action_select(self) -> None:
        memory_id = self.current_id()
        if memory_id is not None:
            self.post_message(self.Selected(self, memory_id))

    def on_click(self, event: events.Click) -> None:
        if event.y < 1 or not self._memory_rows:
            return
        index = int(self.scroll_offset.y) + event.y - 1
        if index < len(self._memory_rows):
            self._set_cursor(index)
            self.post_message(self.Selected(self, self._memory_rows[index]["id"]))

    # -- drawing -----------------------------------------------------------------------------------
    def _cells(self, index: int) -> list[tuple[str, str]]:
        """(padded text, style) per column for one row; cached until the rows or the width change."""
        cells = self._cells_cache.get(index)
        if cells is None:
            row = self._memory_rows[index]
            status = row.get("status") or ""
            values = {
                "status": STATUS_LABELS.get(status, status),
                "kind": kind_label(row.get("kind")),
                "title": row.get("title") or "",
                "dates": date_range(row.get("start"), row.get("end")),
                "place": row.get("place") or "",
                "people": names(row.get("people")),
                "count": str(row.get("picks") or row.get("members") or 0),
            }
            pad = " " * CELL_PADDING
            cells = []
            for key, _, width in self._columns_shown:
                text = clip(values[key], width)
                text = text.rjust(width) if key == "count" else text.ljust(width)
                cells.append((pad + text + pad, STATUS_STYLES.get(status, "") if key == "status" else ""))
            self._cells_cache[index] = cells
        return cells

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            style = base + self.get_component_rich_style("memory-table--header")
            pad = " " * CELL_PADDING
            segments = [Segment(pad + clip(label, w).ljust(w) + pad, style) for _, label, w in self._columns_shown]
            return Strip(segments).extend_cell_length(width, style).crop(0, width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self._memory_rows):
            return Strip.blank(width, base)
        row_style = base
        if index == self.cursor_row:
            row_style = base + self.get_component_rich_style("memory-table--cursor")
        segments = [Segment(text, row_style + Style.parse(cell_style) if cell_style else row_style)
                    for text, cell_style in self._cells(index)]
        return Strip(segments).extend_cell_length(width, row_style).crop(0, width)
