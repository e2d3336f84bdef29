"""Is the service healthy: last scan and watcher mode per root, offline roots, queues, faces progress,
the running job with a bar and its time left, each job's last error (in red), and the skipped files
with their reasons. The report is store.service.status, the one `homeroll status` prints; this screen
only lays it out."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Header, Static

from homeroll.daemon.service import liveness
from homeroll.daemon.service import progress as job_progress
from homeroll.daemon.store.service import FACES_TODO_CAP
from homeroll.tui.format import ago, bar, clip
from homeroll.tui.messages import StatusLoaded
from homeroll.tui.screens.base import DataScreen
from homeroll.tui.widgets.key_footer import KeyFooter


def _value(raw: str) -> str:
    """kv values are often JSON summaries: show them as 'a 1, b 2' rather than braces."""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        return raw
    if isinstance(data, dict):
        return ", ".join(f"{k} {v}" for k, v in data.items() if not isinstance(v, dict | list))
    return str(data)


class StatusScreen(DataScreen):
    SUB_TITLE = "Status"
    DEFAULT_CSS = """
    StatusScreen #service { height: auto; padding: 0 1; }
    StatusScreen #roots { height: auto; max-height: 8; }
    StatusScreen #skipped { height: 1fr; }
    StatusScreen .section { padding: 0 1; text-style: bold; }
    """

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield Static("loading...", id="service")
        yield Static("Library roots", classes="section")
        yield DataTable(id="roots", cursor_type="row")
        yield Static("Skipped files", classes="section", id="skipped-title")
        yield DataTable(id="skipped", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        roots = self.query_one("#roots", DataTable)
        for label, width in (("Root", 30), ("State", 8), ("Watcher", 8), ("Last scan", 14), ("Note", 12)):
            roots.add_column(label, width=width)
        skipped = self.query_one("#skipped", DataTable)
        skipped.add_column("File", width=40)
        skipped.add_column("Reason", width=60)
        skipped.focus()

    def reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def load(self) -> None:
        status = self.backend.status()
        if not self.cancelled():
            self.post_message(StatusLoaded(status))

    def on_status_loaded(self, message: StatusLoaded) -> None:
        status: dict[str, Any] = message.status
        if status == getattr(self, "_shown", None):
            return
        self._shown = status
        now = self.app.clock()  # type: ignore[attr-defined]
        self.query_one("#service", Static).update(service_text(status, now))

        roots = self.query_one("#roots", DataTable)
        roots.clear()
        for r in status["roots"]:
            state = r.get("state") or "?"
            roots.add_row(clip(r["path"], 30), Text(state, style="" if state == "online" else "bold red"),
                          r.get("watcher") or "-", ago(r.get("last_scan_at"), now), clip(r.get("note"), 12))
        skipped = self.query_one("#skipped", DataTable)
        skipped.clear()
        for s in status["skipped"]:
            skipped.add_row(clip(s["path"], 40), s["reason"])
        shown, total = len(status["skipped"]), status["counts"]["skipped"]
        title = f"Skipped files ({total})"
        if shown < total:
            title += f", first {shown} shown; `homeroll media --skipped` lists all"
        self.query_one("#skipped-title", Static).update(title)


def service_text(status: dict[str, Any], now: datetime) -> Text:
    """The block above the tables: the service's state, the library's counts, faces, offline roots, kv."""
    kv: dict[str, str] = status["kv"]
    text = Text()
    seen = liveness.assess(kv, status["liveness"], now)
    text.append("Service: ", style="bold")
    if seen["state"] == "not responding":
        text.append(f"not responding since {ago(seen['not_responding_since'], now)}", style="bold red")
    elif seen["state"] == "degraded":
        text.append(f"degraded: {kv.get('service.degraded_reason') or 'see its log'}", style="bold red")
    elif seen["state"]:
        text.append(seen["state"])
        if seen["heartbeat"]:
            text.append(f" (last heartbeat {ago(seen['heartbeat'], now)})")
    else:
        text.append("no report yet (is `homeroll run` running?)")
    text.append(_library_lines(status))
    offline = [r["path"] for r in status["roots"] if r.get("state") in ("offline", "missing")]
    if offline:
        text.append(f"\nOffline: {', '.join(offline)}", style="bold red")
    text.append(_jobs_text(status.get("jobs", {}), now))
    for key, raw in kv.items():
        if key in ("service.state", "service.degraded_reason") or not raw:
            continue
        value = _value(raw)
        if key.endswith(("_at", ".last_run", ".heartbeat")):
            value = f"{value} ({ago(raw, now)})"
        text.append(f"\n{key}: {value}")
    return text


#: Width of a job's last summary on the screen (the full one is in `homeroll status --json`).
SUMMARY_WIDTH = 60


def _jobs_text(records: dict[str, dict[str, str]], now: datetime) -> Text:
    """One line per job that has something to say: running (a bar), failed last time (red), or its last run."""
    text = Text()
    for name, job in job_progress.describe(records).items():
        line = job_progress.job_line(name, job)
        if line:
            head, _, rest = line.partition(": ")
            text.append(f"\n{head}: ", style="bold")
            drawn = bar(job["done"] or 0, job["total"])
            if drawn:
                text.append(drawn + " ")
            text.append(rest, style="yellow" if job["interrupted"] else "")
        if job["last_error"]:
            error = job["last_error"]
            text.append(f"\n{name}: failed {ago(error.get('at'), now)}: {error.get('error')}", style="bold red")
        elif job["last_run"] and not line:
            summary = clip(job["last_summary"], SUMMARY_WIDTH)
            text.append(f"\n{name}: last run {ago(job['last_run'], now)}" + (f": {summary}" if summary else ""))
    return text


def _library_lines(status: dict[str, Any]) -> str:
    counts = status["counts"]
    by_kind = ", ".join(f"{n} {k}s" for k, n in sorted(counts.get("by_kind", {}).items()))
    lines = (f"\nLibrary: {counts['items']} items ({by_kind or 'none'}); {counts['missing']} missing; "
             f"{counts['skipped']} skipped")
    side = status["sidecars"]
    if side["sidecars"]:  # only a library with exports has any; a phone roll's screen is unchanged
        lines += (f"\nSidecars: {side['sidecars']} (XMP and Takeout), {side['orphans']} without their photo, "
                  f"{side['unusable']} unreadable")
    todo = status["faces_todo"]
    waiting = f"{FACES_TODO_CAP}+" if todo > FACES_TODO_CAP else str(todo)
    lines += (f"\nFaces: {waiting} photos waiting for face detection; {status['people']} people found"
              if todo else f"\nFaces: every photo scanned; {status['people']} people found")
    return lines
