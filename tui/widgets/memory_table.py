"""The memories list: one row per memory, kept on the same memory across reloads."""

from __future__ import annotations

from typing import Any

from homeroll.tui.format import clip, date_range, kind_label, names
from rich.text import Text
from textual.widgets import DataTable

#: (key, label, width at 100 columns); the title column takes what is left.
COLUMNS = (("status", "Status", 8), ("kind", "Kind", 9), ("title", "Title", 0), ("dates", "Dates", 17),
           ("place", "Place", 12), ("people", "People", 14), ("count", "Pics", 4))

STATUS_STYLES = {"suggested": "bold", "approved": "green", "exported": "cyan", "rejected": "dim"}
STATUS_LABELS = {"suggested": "new", "approved": "approved", "exported": "exported", "rejected": "rejected"}


class MemoryTable(DataTable):
    """Rows keyed by memory id. ``show()`` replaces the rows only when they differ."""

    DEFAULT_CSS = "MemoryTable { height: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._memory_rows: list[dict[str, Any]] = []
        self._columns_shown: list[tuple[str, str, int]] = []

    def _columns(self) -> list[tuple[str, str, int]]:
        """(key, label, width) for the current width; People only from 100 columns (80 stays readable)."""
        total = max(self.size.width or self.app.size.width, 60)
        extra = max(0, total - 100)
        wanted = {"place": 12 + extra // 4, "people": 14 + extra // 4}
        columns = [(k, label, wanted.get(k, w)) for k, label, w in COLUMNS if k != "people" or total >= 100]
        fixed = sum(w for k, _, w in columns if k != "title") + 2 * len(columns) + 1
        title = max(10, total - fixed)
        return [(k, label, title if k == "title" else w) for k, label, w in columns]

    def show(self, rows: list[dict[str, Any]]) -> None:
        columns = self._columns()
        if rows == self._memory_rows and columns == self._columns_shown:
            return
        keep = self.current_id()
        self._memory_rows, self._columns_shown = rows, columns
        self.clear(columns=True)
        for key, label, width in columns:
            self.add_column(label, key=key, width=width)
        for row in rows:
            self.add_row(*self._cells(row, columns), key=str(row["id"]))
        if keep is not None:
            self.move_to(keep)

    def on_resize(self) -> None:
        if self._memory_rows and self._columns() != self._columns_shown:
            rows, self._memory_rows = self._memory_rows, []
            self.show(rows)

    @staticmethod
    def _cells(row: dict[str, Any], columns: list[tuple[str, str, int]]) -> list[Any]:
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
        cells: list[Any] = []
        for key, _, width in columns:
            text = clip(values[key], width)
            if key == "status":
                cells.append(Text(text, style=STATUS_STYLES.get(status, "")))
            elif key == "count":
                cells.append(Text(text, justify="right"))
            else:
                cells.append(text)
        return cells

    def current_id(self) -> int | None:
        if not self._memory_rows or self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - an empty or shrinking table has no current row
            return None
        return int(key.value) if key.value is not None else None

    def current_row(self) -> dict[str, Any] | None:
        memory_id = self.current_id()
        return next((r for r in self._memory_rows if r["id"] == memory_id), None)

    def move_to(self, memory_id: int) -> None:
        try:
            index = self.get_row_index(str(memory_id))
        except Exception:  # noqa: BLE001 - the memory is no longer listed
            return
        self.move_cursor(row=index, animate=False)
