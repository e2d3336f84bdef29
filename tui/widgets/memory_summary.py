"""The top of the memory detail: title, kind, dates, place, people, status and why it was suggested."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from homeroll.tui.format import date_range, kind_label, names


class MemorySummary(Static):
    DEFAULT_CSS = "MemorySummary { height: auto; max-height: 8; padding: 0 1; }"

    def show(self, memory: dict[str, Any] | None) -> None:
        if memory is None:
            self.update("This memory no longer exists.")
            return
        text = Text()
        text.append(memory.get("title") or "(untitled)", style="bold")
        text.append(f"  [{memory.get('status')}]\n")
        parts = [kind_label(memory.get("kind")), date_range(memory.get("start"), memory.get("end")),
                 memory.get("place") or "", names(memory.get("people"))]
        text.append("  |  ".join(p for p in parts if p))
        picks = len(memory.get("media") or [])
        text.append(f"  |  {picks} of {memory.get('members') or picks} photos\n")
        if memory.get("reason"):
            text.append("Why: ", style="bold")
            text.append(str(memory["reason"]))
        offered = memory.get("offered") or []
        if offered:
            text.append(f"\n{len(offered)} new photos since approval are offered (not added).", style="italic")
        self.update(text)
