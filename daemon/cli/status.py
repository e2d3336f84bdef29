"""`homeroll status`: counts, roots (online/offline, watcher), and what the service last did.

The report is store.service.status, the one the TUI's status screen shows; this module only gives it
the shape of the JSON contract (docs/cli.md) and of the few plain lines.
"""

from __future__ import annotations

from typing import Any

import click

from homeroll.daemon.cli.context import AppContext, json_option, pass_app, print_json
from homeroll.daemon.store import service as store_service

#: kv keys under "service." that the JSON lists, set or not.
SERVICE_KEYS = ("state", "pid", "started_at", "last_reconcile_at")


def _public(report: dict[str, Any]) -> dict[str, Any]:
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
        "service": {k: report["kv"].get(f"service.{k}") for k in SERVICE_KEYS},
        "people": report["people"],
        "faces": report["faces"],
        "memories": report["memories"],
    }


@click.command("status")
@json_option("Print as JSON.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Show what is indexed and whether every library root is online."""
    data = _public(store_service.status(app.db))
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


commands = [status]
