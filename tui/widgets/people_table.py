"""The people list: name, birthday, faces and photos; unnamed people show as 'Person N'."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from homeroll.tui.format import clip


def person_label(person: dict[str, Any]) -> str:
    return person.get("name") or f"Person {person['id']}"


class PeopleTable(DataTable):
    DEFAULT_CSS = "PeopleTable { height: 1fr; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self._people_rows: list[dict[str, Any]] = []

    def on_mount(self) -> None:
        self.add_column("Name", key="name", width=16)
        self.add_column("Birthday", key="birthday", width=10)
        self.add_column("Faces", key="faces", width=5)
        self.add_column("Pics", key="pics", width=5)

    def show(self, people: list[dict[str, Any]]) -> None:
        if people == self._people_rows:
            return
        keep = self.current_id()
        self._people_rows = people
        self.clear()
        for p in people:
            self.add_row(clip(person_label(p), 16), p.get("birthday") or "", str(p.get("face_count") or 0),
                         str(p.get("item_count") or 0), key=str(p["id"]))
        if keep is not None:
            try:
                self.move_cursor(row=self.get_row_index(str(keep)), animate=False)
            except Exception:  # noqa: BLE001 - that person is gone (merged or forgotten)
                pass

    def current_id(self) -> int | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001
            return None
        return int(key.value) if key.value is not None else None

    def current(self) -> dict[str, Any] | None:
        pid = self.current_id()
        return next((p for p in self._people_rows if p["id"] == pid), None)

    def people_rows(self) -> list[dict[str, Any]]:
        return list(self._people_rows)
