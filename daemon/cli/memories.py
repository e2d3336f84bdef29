"""`homeroll select` and `homeroll memories …`: run the selection, list memories, and record the user's word.

``exclude``, ``exclusions`` and ``unexclude`` are the household's say before a memory exists (periods and
places no new memory takes photos from, memories/exclusions.py); a change re-selects the suggestions at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import click

from homeroll.daemon.cli.context import json_option, pass_app, print_json, subcommand
from homeroll.daemon.errors import UserError
from homeroll.daemon.memories import exclusions
from homeroll.daemon.store import exclusions as store_exclusions
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories

_STATUS = click.Choice(list(store_memories.STATUSES))
_KIND = click.Choice(list(store_memories.KINDS))


def _public(db: Any, memory: dict[str, Any], picks: list[int], paths: dict[int, str]) -> dict[str, Any]:
    """The CLI shape: absolute paths for media and cover, and members as a count."""
    return {
        "id": memory["id"], "kind": memory["kind"], "title": memory["title"], "start": memory["start"],
        "end": memory["end"], "place": memory["place"], "people": memory["people"], "status": memory["status"],
        "score": memory["score"], "reason": memory["reason"],
        "media": [paths[i] for i in picks if i in paths], "members": memory["members"],
        "cover": paths.get(memory["cover"]) if memory["cover"] is not None else None,
    }


def _listing(db: Any, memories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    picks = store_memories.picked_items(db, [m["id"] for m in memories])
    wanted = [i for m in memories for i in picks.get(m["id"], [])]
    wanted += [m["cover"] for m in memories if m["cover"] is not None]
    paths = store_items.item_paths(db, wanted)
    return [_public(db, m, picks.get(m["id"], []), paths) for m in memories]


def _dates(start: str, end: str) -> str:
    return start if start == end else f"{start} – {end}"


def _print_table(memories: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if not memories:
        console.print("No memories yet. Run `homeroll select` after a scan.")
        return
    table = Table(show_lines=True, expand=False)
    table.add_column("ID", justify="right", style="bold")
    table.add_column("Kind")
    table.add_column("Title and why", ratio=1)
    table.add_column("Dates", no_wrap=True)
    table.add_column("Status")
    table.add_column("Photos", justify="right")
    for m in memories:
        cell = Text(m["title"], style="bold")
        cell.append("\n" + (m["reason"] or ""), style="dim")
        table.add_row(str(m["id"]), m["kind"], cell, _dates(m["start"], m["end"]), m["status"],
                      f"{len(m['media'])} of {m['members']}")
    console.print(table)


@click.group("memories", invoke_without_command=True)
@click.option("--status", type=_STATUS, help="Only memories with this status.")
@click.option("--kind", type=_KIND, help="Only memories of this kind.")
@click.option("--search", help="Only memories whose title, place, people or explanation contain this text.")
@json_option("JSON on stdout instead of a table.")
@click.pass_context
def memories(ctx: click.Context, status: str | None, kind: str | None, search: str | None, as_json: bool) -> None:
    """List memories (suggested first), or approve / reject / edit one with a subcommand."""
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.obj
    listing = _listing(app.db, store_memories.list_memories(app.db, status=status, kind=kind, search=search))
    if as_json:
        print_json(listing)
    else:
        _print_table(listing)


def _one(app: Any, memory_id: int) -> dict[str, Any]:
    memory = store_memories.get_memory(app.db, memory_id)
    if memory is None:
        raise UserError(f"no memory with id {memory_id}")
    return _listing(app.db, [memory])[0]


def _change(name: str, doc: str, change: Callable[..., None], *arguments: click.Argument) -> None:
    """``memories NAME MEMORY_ID …``: change the memory with ``change(db, memory_id, **arguments)``, print it."""

    def run(app: Any, memory_id: int, **values: Any) -> None:
        change(app.db, memory_id, **values)
        print_json(_one(app, memory_id))

    subcommand(memories, name, "memory_id", doc)(run).params += arguments


def _photo_change(name: str, doc: str, change: Callable[[Any, int, int], None]) -> None:
    """remove and cover: PATH names the photo by its file, the store wants its item."""
    _change(name, doc, lambda db, memory_id, path: change(db, memory_id, store_memories.item_id_for_path(db, path)),
            click.Argument(["path"], type=click.Path(dir_okay=False)))


_change("approve", "Approve a memory: it keeps its picks, and is exported when auto-export is on.", store_memories.approve)
_change("reject", "Reject a memory: it is never proposed again.", store_memories.reject)
_change("rename", "Give a memory your own title (kept across re-selection).", store_memories.rename,
        click.Argument(["title"]))
_photo_change("remove", "Take a photo out of a memory (it stays out across re-selection).", store_memories.remove_item)
_photo_change("cover", "Make a photo of the memory its cover.", store_memories.set_cover)


#: How each decision reads in `memories show`; {what} is the new title or the photo's path.
_DECISION_TEXT = {"approved": "approved", "rejected": "rejected", "renamed": "renamed to {what!r}",
                  "removed_item": "removed {what}", "cover": "made {what} the cover", "exported": "exported"}
#: The decisions whose detail is an item id (shown as its file).
_ITEM_ACTIONS = ("removed_item", "cover")


def _decision_line(decision: dict[str, Any], zone: ZoneInfo, paths: dict[int, str]) -> str:
    """'2026-12-02 10:14 renamed to 'X' by bob', the time in the household's zone (stored in UTC)."""
    try:
        when = datetime.fromisoformat(decision["at"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        when = str(decision["at"])
    detail = decision["detail"]
    what = paths.get(int(detail), f"item {detail}") if decision["action"] in _ITEM_ACTIONS else detail
    text = _DECISION_TEXT.get(decision["action"], decision["action"]).format(what=what)
    return f"{when} {text} by {decision['by']}"


def _print_decisions(app: Any, decisions: list[dict[str, Any]]) -> None:
    if not decisions:
        return
    items = [int(d["detail"]) for d in decisions if d["action"] in _ITEM_ACTIONS]
    paths = store_items.item_paths(app.db, items) if items else {}
    click.echo("  Decisions:")
    for decision in decisions:
        click.echo(f"    {_decision_line(decision, app.config.zone, paths)}")


@subcommand(memories, "show", "memory_id")
@json_option("JSON on stdout.")
def show_cmd(app: Any, memory_id: int, as_json: bool) -> None:
    """One memory with its curated picks in order and any photos offered since approval."""
    memory = store_memories.get_memory(app.db, memory_id)
    if memory is None:
        raise UserError(f"no memory with id {memory_id}")
    public = _one(app, memory_id)
    public["stable_key"] = memory["stable_key"]
    public["items"] = memory["media"]
    public["offered"] = [o["path"] for o in memory["offered"] if o["path"]]
    public["decided_by"] = memory["decided_by"]
    public["decisions"] = memory["decisions"]
    public["left_out"] = exclusions.left_out(app.db, memory)
    if as_json:
        print_json(public)
        return
    click.echo(f"#{public['id']} {public['title']} [{public['kind']}, {public['status']}]")
    click.echo(f"  {_dates(public['start'], public['end'])}  {public['place'] or ''}")
    click.echo(f"  {public['reason']}")
    for path in public["media"]:
        marker = "*" if path == public["cover"] else " "
        click.echo(f"  {marker} {path}")
    for path in public["offered"]:
        click.echo(f"  + {path} (offered)")
    _print_decisions(app, public["decisions"])
    for line in exclusions.left_out_lines(public["left_out"]):
        click.echo(f"  {line}")


_TODAY = click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]),
                      help="Re-select as if today were this date (for 'on this day'); default: today in home_tz.")


def _said(result: dict[str, Any], as_json: bool) -> None:
    """After exclude / unexclude: the change and the re-selection, as JSON or in one line."""
    if as_json:
        print_json(result)
    else:
        click.echo(result["text"])


@memories.command("exclude")
@click.argument("period", required=False)
@click.option("--place", metavar="NAME", help="Exclude a named place: a city, region or country (any case).")
@click.option("--near", metavar="LAT,LON", help="Exclude a circle around this point (degrees, e.g. 38.72,-9.14).")
@click.option("--radius-km", type=float,
              help=f"The circle's radius with --near (default {exclusions.DEFAULT_RADIUS_KM:g}).")
@click.option("--reason", help="Why, for the household (shown by `memories exclusions` and `memories show`).")
@_TODAY
@json_option("Print {exclusion, photos, selection, text} as JSON.")
@pass_app
def exclude_cmd(app: Any, period: str | None, place: str | None, near: str | None, radius_km: float | None,
                reason: str | None, today: Any, as_json: bool) -> None:
    """Leave a period or a place out of every new memory.

    PERIOD is YYYY-MM-DD..YYYY-MM-DD (both days included) or one day; or give --place or --near instead.
    The suggestions are re-selected at once; approved and exported memories keep their picks.
    """
    result = exclusions.exclude(app.db, app.config, period=period, place=place, near=near, radius_km=radius_km,
                                reason=reason, today=today.date() if today else None)
    _said(result, as_json)


@subcommand(memories, "unexclude", "exclusion_id")
@_TODAY
@json_option("Print {exclusion, selection, text} as JSON.")
def unexclude_cmd(app: Any, exclusion_id: int, today: Any, as_json: bool) -> None:
    """Remove an exclusion: its photos may be in new memories again."""
    _said(exclusions.unexclude(app.db, app.config, exclusion_id, today.date() if today else None), as_json)


@memories.command("exclusions")
@json_option("JSON on stdout: the rows as stored, plus what (as it reads) and photos (how many it leaves out).")
@pass_app
def exclusions_cmd(app: Any, as_json: bool) -> None:
    """List the excluded periods and places."""
    rows = store_exclusions.list_exclusions(app.db)
    counts = exclusions.photo_counts(app.db, rows)
    listing = [{**row, "what": exclusions.describe(row), "photos": counts[row["id"]]} for row in rows]
    if as_json:
        print_json(listing)
        return
    if not listing:
        click.echo("Nothing is excluded. `homeroll memories exclude 2023-02-01..2023-03-15` leaves out a period.")
    for row in listing:
        reason = f" ({row['reason']})" if row["reason"] else ""
        click.echo(f"{row['id']:>5}  {row['what']}{reason}: {row['photos']} photos left out, "
                   f"by {row['created_by']} on {row['created_at'][:10]}")


@click.command("select")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Pretend today is this date (for 'on this day'); default: today in home_tz.")
@pass_app
def select_cmd(app: Any, today: Any) -> None:
    """Run memory selection once and print a JSON summary."""
    from homeroll.daemon.memories.select import run_selection

    day: date | None = today.date() if today else None
    print_json(run_selection(app.config, app.db, today=day))


commands = [memories, select_cmd]
