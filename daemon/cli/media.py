"""`homeroll media`: what is indexed (or skipped, with the reason)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from homeroll.daemon.cli.context import AppContext, json_option, pass_app, print_json
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import sidecars as store_sidecars


def _media_cells(row: dict[str, Any]) -> tuple[str, ...]:
    place = row["place"] or {}
    source = row["taken_at_source"] or ""
    if row["taken_at_precision"] not in (None, "time"):
        source += f" ({row['taken_at_precision']})"
    return (row["taken_at"] or "", source, row["kind"],
            ", ".join(p for p in (place.get("city"), place.get("country")) if p), row["path"])


#: What each listing reads, and its table for people: (rows, columns, the cells of one row).
LISTINGS: dict[str, tuple[Callable, tuple[str, ...], Callable[[dict[str, Any]], tuple[str, ...]]]] = {
    "media": (store_items.media, ("taken_at", "source", "kind", "place", "path"), _media_cells),
    "skipped": (store_items.skipped, ("path", "reason"), lambda row: (row["path"], row["reason"])),
    "sidecars": (store_sidecars.listing, ("path", "kind", "photo", "note"),
                 lambda row: (row["path"], row["kind"], row["media"] or "", row["note"] or "")),
}


@click.command("media")
@json_option("One JSON object per item (the scripting contract).")
@click.option("--skipped", is_flag=True, help="List files that are not items, with the reason.")
@click.option("--sidecars", is_flag=True, help="List XMP and Takeout sidecars, the photo each belongs to, and why "
              "any was not used.")
@pass_app
def media(app: AppContext, as_json: bool, skipped: bool, sidecars: bool) -> None:
    """List indexed media: path, kind, taken_at (with offset and source), place, size, camera, hash."""
    if skipped and sidecars:
        raise click.UsageError("--skipped and --sidecars list different things: choose one")
    read, columns, cells = LISTINGS["sidecars" if sidecars else "skipped" if skipped else "media"]
    rows = list(read(app.db))
    if as_json:
        print_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*cells(row))
    Console().print(table)


commands = [media]
