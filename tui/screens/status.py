"""Is the service healthy: last scan and watcher mode per root, offline roots, queues, faces progress,
the running job with a bar and its time left, each job's last error (in red), `homeroll doctor`'s checks
with their fixes, and the skipped files with their reasons. The report is store.service.status, the one
`homeroll status` prints, and the checks are service.doctor's, the ones `homeroll doctor` prints; this
screen only lays them out. The checks walk folders and may run systemctl, so they run once when the
screen first shows and again on `d`, never on the poll that reloads the rest.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Header, Static

from homeroll.daemon.service import liveness
from homeroll.daemon.service import progress as job_progress
from homeroll.daemon.store.service import FACES_TODO_CAP
from homeroll.tui.format import ago, bar, clip
from homeroll.tui.messages import ChecksLoaded, StatusLoaded
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
    StatusScreen #checks { height: auto; max-height: 25%; padding: 0 1; scrollbar-size-vertical: 1; }
    StatusScreen #skipped { height: 1fr; }
    StatusScreen .section { padding: 0 1; text-style: bold; }
    """
    BINDINGS = [Binding("d", "recheck", "Re-run checks")]

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield Static("loading...", id="service")
        yield Static("Library roots", classes="section")
        yield DataTable(id="roots", cursor_type="row")
        yield Static("Checks: checking...", classes="section", id="checks-title")
        with VerticalScroll(id="checks"):
            yield Static("", id="check-lines")
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
        self.run_checks()

    def reload(self) -> None:
        self.load()

    def action_recheck(self) -> None:
        # The last answer stays until the new one is in: a list that blinks away reads as "all gone".
        self.query_one("#checks-title", Static).update("Checks: checking again...")
        self.run_checks()

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor")
    def run_checks(self) -> None:
        try:
            checks, error = self.backend.doctor(now=self.app.clock()), None  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - a doctor that cannot run is a finding, never a crashed screen
            checks, error = [], f"{type(exc).__name__}: {exc}"
        if not self.cancelled():
            self.post_message(ChecksLoaded(checks, error))

    def on_checks_loaded(self, message: ChecksLoaded) -> None:
        title = self.query_one("#checks-title", Static)
        lines = self.query_one("#check-lines", Static)
        if message.error is not None:
            title.update(Text(f"Checks: could not run them: {message.error}", style="bold red"))
            lines.update("")
            return
        title.update(checks_summary(message.checks))
        lines.update(check_lines(message.checks))

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


_LABELS = {"ok": ("ok", ""), "warn": ("WARN", "yellow"), "fail": ("FAIL", "bold red")}
_RANK = {"ok": 0, "warn": 1, "fail": 2}


def checks_summary(checks: list[dict[str, str]]) -> str:
    counts = Counter(check["status"] for check in checks)
    warnings = f"{counts['warn']} warning" + ("" if counts["warn"] == 1 else "s")
    failures = f"{counts['fail']} failure" + ("" if counts["fail"] == 1 else "s")
    return f"Checks: {counts['ok']} ok, {warnings}, {failures} (`homeroll doctor` for the same list)"


def check_lines(checks: list[dict[str, str]]) -> Group:
    """One line per check, laid out as `homeroll doctor` prints it, failures then warnings first (in
    doctor's order within each): on 24 rows the section shows six lines and scrolls, and those are the
    lines to act on. An ok line is cut at the edge (its detail is only a reassurance); a warning or
    failure wraps, since its fix is the part to read."""
    width = max((len(check["name"]) for check in checks), default=0) + 2
    lines = []
    for check in sorted(checks, key=lambda c: -_RANK.get(c["status"], 2)):
        label, style = _LABELS.get(check["status"], (check["status"], "bold red"))
        ok = check["status"] == "ok"
        line = Text(f"{label:6}{check['name']:{width}}{check['detail']}", style=style, no_wrap=ok,
                    overflow="ellipsis")
        if check.get("fix") and not ok:
            line.append(f"; fix: {check['fix']}")
        lines.append(line)
    return Group(*lines)


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
    return lines + _backlog_text(status)


def _backlog_text(status: dict[str, Any]) -> str:
    """'; 1,240 of 100,000 photos scanned, 3.1/s, about 8.8 h left' once a faces run has a rate: the
    first scan of a big library takes days on a Pi, and this is how long is left (`homeroll status` too)."""
    if "faces_scan" not in status or not status["faces_scan"]["todo"]:
        return ""
    backlog = job_progress.faces_backlog(status["faces_scan"], status.get("jobs", {}))
    return f"; {job_progress.backlog_line(backlog)}" if backlog["rate"] else ""
