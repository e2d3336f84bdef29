"""`homeroll media`: what is indexed (or skipped, with the reason)."""

from __future__ import annotations

import click

from homeroll.daemon.cli.context import AppContext, pass_app, print_json
from homeroll.daemon.store import items as store_items


@click.command("media")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item (the scripting contract).")
@click.option("--skipped", is_flag=True, help="List files that are not items, with the reason.")
@pass_app
def media(app: AppContext, as_json: bool, skipped: bool) -> None:
    """List indexed media: path, kind, taken_at (with offset), place, size, camera, hash."""
    rows = list(store_items.skipped(app.db) if skipped else store_items.media(app.db))
    if as_json:
        print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    if skipped:
        for col in ("path", "reason"):
            table.add_column(col)
        for row in rows:
            table.add_row(row["path"], row["reason"])
    else:
        for col in ("taken_at", "kind", "place", "path"):
            table.add_column(col)
        for row in rows:
            place = row["place"] or {}
            table.add_row(row["taken_at"] or "", row["kind"], ", ".join(
                p for p in (place.get("city"), place.get("country")) if p), row["path"])
    Console().print(table)


commands = [media]
