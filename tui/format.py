"""Plain-text formatting shared by the screens: dates, lists, truncation, relative times.

Only ASCII punctuation, so the Linux console (no en dash in every font) shows it the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from homeroll.daemon.memories import titles

KIND_LABELS = {"on_this_day": "on this day", "on-this-day": "on this day"}


def date_range(start: str | None, end: str | None) -> str:
    """'Jul 3-9, 2024', 'Jun 28-Jul 2, 2024', one day, or '' (memories' wording with an ASCII dash)."""
    first, last = titles.iso_day(start), titles.iso_day(end)
    if first is None:
        return ""
    return titles.day_span(first, last or first, dash="-")


def kind_label(kind: str | None) -> str:
    if not kind:
        return ""
    return KIND_LABELS.get(kind, kind.replace("_", " "))


def names(people: Iterable[str] | str | None) -> str:
    if not people:
        return ""
    if isinstance(people, str):
        return people
    return ", ".join(p for p in people if p)


def clip(text: str | None, width: int) -> str:
    """Cut to ``width`` cells with a trailing '~' (ASCII, unlike an ellipsis)."""
    text = text or ""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "~"


def ago(stamp: str | None, now: datetime) -> str:
    """'5 min ago', '3 h ago', '2 days ago' for an ISO timestamp; 'never' for none."""
    if not stamp:
        return "never"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    seconds = int((now - when).total_seconds())
    if seconds < 0:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def bar(done: int, total: int | None, width: int = 16) -> str:
    """'[####............]' for done of total (ASCII, like the rest); empty without a total."""
    if not total or width <= 2:
        return ""
    filled = min(width - 2, max(0, (width - 2) * done // total))
    return "[" + "#" * filled + "." * (width - 2 - filled) + "]"
