"""`homeroll media`: what is indexed (or skipped, with the reason)."""

from __future__ import annotations

import click

from homeroll.daemon.cli.context import AppContext, pass_app, print_json
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import sidecars as store_sidecars


@click.command("media")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item (the scripting contract).")
@click.option("--skipped", is_flag=True, help="List files that are not items, with the reason.")
@click.option("--sidecars", is_flag=True, help="List XMP and Takeout sidecars, the photo each belongs to, and why "
              "any was not used.")
@pass_app
def media(app: AppContext, as_json: bool, skipped: bool, sidecars: bool) -> None:
    """List indexed media: path, kind, taken_at (with offset and source), place, size, camera, hash."""
    if skipped and sidecars:
        raise click.UsageError("--skipped and --sidecars list different things: choose one")
    if sidecars:
        rows = list(store_sidecars.listing(app.db))
    else:
        rows = list(store_items.skipped(app.db) if skipped else store_items.media(app.db))
    if as_json:
        print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    if sidecars:
        for col in ("path", "kind", "photo", "note"):
            table.add_column(col)
        for row in rows:
            table.add_row(row["path"], row["kind"], row["media"] or "", row["note"] or "")
    elif skipped:
        for col in ("path", "reason"):
            table.add_column(col)
        for row in rows:
            table.add_row(row["path"], row["reason"])
    else:
        for col in ("taken_at", "source", "kind", "place", "path"):
            table.add_column(col)
        for row in rows:
            place = row["place"] or {}
            source = row["taken_at_source"] or ""
            if row["taken_at_precision"] not in (None, "time"):
                source += f" ({row['taken_at_precision']})"
            table.add_row(row["taken_at"] or "", source, row["kind"], ", ".join(
                p for p in (place.get("city"), place.get("country")) if p), row["path"])
    Console().print(table)


commands = [media]
