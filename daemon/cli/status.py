"""`homeroll status`: counts, roots (online/offline, watcher), and what the service last did."""

from __future__ import annotations

import click

from homeroll.daemon.cli.context import AppContext, pass_app, print_json
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import sidecars as store_sidecars


def collect(db) -> dict:
    counts = store_items.counts(db)
    data = {
        "items": counts["items"],
        "by_kind": counts["by_kind"],
        "missing": counts["missing"],
        "skipped": counts["skipped"],
        "sidecars": store_sidecars.counts(db),
        "roots": [
            {"path": r["path"], "state": r["state"], "watcher": r.get("watcher"), "note": r.get("note"),
             "last_scan_at": r.get("last_scan_at")}
            for r in store_items.roots(db)
        ],
        "service": {k: store_items.kv_get(db, f"service.{k}") for k in ("state", "pid", "started_at", "last_reconcile_at")},
    }
    for table, key in (("people", "people"), ("faces", "faces"), ("memories", "memories")):
        data[key] = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return data


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_app
def status(app: AppContext, as_json: bool) -> None:
    """Show what is indexed and whether every library root is online."""
    data = collect(app.db)
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
