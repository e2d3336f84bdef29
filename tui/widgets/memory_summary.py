"""The top of the memory detail: title, kind, dates, place, people, status, who decided last (the household
shares one DB) and why it was suggested."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from rich.text import Text
from textual.widgets import Static

from homeroll.daemon.memories import titles
from homeroll.tui.format import date_range, kind_label, names

#: How the latest decision reads: "renamed by bob, Dec 3, 2026".
_DECISION_TEXT = {"removed_item": "removed a photo", "cover": "chose the cover"}


def decision_line(decisions: list[dict[str, Any]] | None, zone: tzinfo = UTC) -> str:
    """The latest decision in a few words, its day in the household's zone; '' before any (or before m003)."""
    if not decisions:
        return ""
    last = decisions[-1]
    what = f"{_DECISION_TEXT.get(last['action'], last['action'])} by {last['by']}"
    try:
        day = datetime.fromisoformat(last["at"]).astimezone(zone).date()
    except (TypeError, ValueError):
        return f"{what}, {last['at']}"
    return f"{what}, {titles.day_span(day, day, dash='-')}"


class MemorySummary(Static):
    DEFAULT_CSS = "MemorySummary { height: auto; max-height: 8; padding: 0 1; }"

    _shown: str = ""

    def show(self, memory: dict[str, Any] | None, zone: tzinfo = UTC) -> None:
        if memory is None:
            self._shown = ""
            self.update("This memory no longer exists.")
            return
        text = Text()
        text.append(memory.get("title") or "(untitled)", style="bold")
        text.append(f"  [{memory.get('status')}]\n")
        parts = [kind_label(memory.get("kind")), date_range(memory.get("start"), memory.get("end")),
                 memory.get("place") or "", names(memory.get("people"))]
        text.append("  |  ".join(p for p in parts if p))
        # Before the picks have loaded, the list row's count stands in for them.
        picks = len(memory["media"]) if memory.get("media") else int(memory.get("picks") or 0)
        text.append(f"  |  {picks} of {memory.get('members') or picks} photos\n")
        if decided := decision_line(memory.get("decisions"), zone):
            text.append(decided + "\n", style="dim")
        if memory.get("reason"):
            text.append("Why: ", style="bold")
            text.append(str(memory["reason"]))
        offered = memory.get("offered") or []
        if offered:
            text.append(f"\n{len(offered)} new photos since approval are offered (not added).", style="italic")
        if text.markup != self._shown:  # an unchanged summary costs no layout pass
            self._shown = text.markup
            self.update(text)
