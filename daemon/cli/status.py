"""`homeroll status`: counts, roots (online/offline, watcher), the running job and each job's last error.

The report is store.service.status, the one the TUI's status screen shows; this module only gives it
the shape of the JSON contract (docs/cli.md) and of the few plain lines. The jobs come out of
service.progress.describe, which also says whether a recorded run is really still going.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from homeroll.daemon.cli.context import AppContext, json_option, pass_app, print_json
from homeroll.daemon.service import liveness
from homeroll.daemon.service import progress as job_progress
from homeroll.daemon.store import service as store_service

#: kv keys under "service." that the JSON lists as recorded, set or not (``state`` is assessed, see liveness.py).
SERVICE_KEYS = ("pid", "started_at", "last_reconcile_at", "degraded_reason", "clock_jump_at", "clock_behind")


def _service(report: dict[str, Any], data_dir, now: datetime) -> dict[str, Any]:
    kv = report["kv"]
    facts = liveness.read(data_dir, kv)
    seen = liveness.assess(kv, facts, now)
    return {"state": seen["state"], **{k: kv.get(f"service.{k}") for k in SERVICE_KEYS},
            "pid_alive": facts.pid_alive, "heartbeat": seen["heartbeat"],
            "not_responding_since": seen["not_responding_since"]}


def _public(report: dict[str, Any], service: dict[str, Any], faces_enabled: bool = True) -> dict[str, Any]:
    counts = report["counts"]
    return {
        "items": counts["items"],
        "by_kind": counts["by_kind"],
        "missing": counts["missing"],
        "skipped": counts["skipped"],
        "sidecars": report["sidecars"],
        "roots": [
            {"path": r["path"], "state": r["state"], "watcher": r.get("watcher"), "note": r.get("note"),
             "last_scan_at": r.get("last_scan_at")}
            for r in report["roots"]
        ],
        "service": service,
        "people": report["people"],
        "faces": report["faces"],
        "memories": report["memories"],
        "jobs": job_progress.describe(report["jobs"]),
        # The whole library's face scan (not one run's budget): null with `[faces] enabled = false`.
        "faces_backlog": job_progress.faces_backlog(report["faces_scan"], report["jobs"]) if faces_enabled else None,
    }


@click.command("status")
@json_option("Print as JSON.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Show what is indexed and whether every library root is online."""
    faces = app.config["faces"]
    report = store_service.status(app.db, faces["disabled_roots"])
    data = _public(report, _service(report, app.config.data_dir, datetime.now(UTC)), bool(faces["enabled"]))
    if as_json:
        print_json(data)
        return
    kinds = ", ".join(f"{n} {k}s" for k, n in sorted(data["by_kind"].items())) or "nothing yet"
    click.echo(f"{data['items']} items ({kinds}); {data['skipped']} skipped; {data['missing']} missing")
    side = data["sidecars"]
    if side["sidecars"]:
        click.echo(f"{side['sidecars']} sidecars ({side['orphans']} without their photo, "
                   f"{side['unusable']} unreadable): see `homeroll media --sidecars`")
    for root in data["roots"]:
        extra = f" - {root['note']}" if root["note"] and root["state"] != "online" else ""
        click.echo(f"  {root['state']:8} {root['path']}{extra}")
    click.echo(f"{data['people']} people, {data['faces']} faces, {data['memories']} memories")
    for line in _job_lines(data["jobs"]):
        click.echo(line)
    backlog = data["faces_backlog"]
    if backlog and backlog["done"] < backlog["total"]:  # only while photos wait: a scanned library says nothing
        click.echo(f"faces backlog: {job_progress.backlog_line(backlog)}")
    click.echo(_service_line(data["service"]))  # the last line, as docs/cli.md promises


def _job_lines(jobs: dict[str, dict[str, Any]]) -> list[str]:
    """The running job with its count, rate and time left; then each job whose last run failed."""
    lines = [line for name, job in jobs.items() if (line := job_progress.job_line(name, job))]
    for name, job in jobs.items():
        if job["last_error"]:
            error = job["last_error"]
            lines.append(f"{name}: last run failed at {error.get('at')}: {error.get('error')}")
    return lines


def _service_line(service: dict[str, Any]) -> str:
    state = service["state"]
    if state is None:
        return "service: never started (`homeroll run`)"
    if state == "degraded":
        return f"service: degraded: {service['degraded_reason'] or 'see its log'}"
    if state == "not responding":
        if not service["pid"]:
            gone = ""
        elif service["pid_alive"] is False:
            gone = f"; pid {service['pid']} is gone"
        else:
            gone = f"; pid {service['pid']} is still there but has stopped beating (hung?)"
        return f"service: not responding since {service['not_responding_since'] or 'its start'}{gone}"
    return f"service: {state}" + (f" (last heartbeat {service['heartbeat']})" if state == "running" else "")


commands = [status]
