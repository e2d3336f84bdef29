"""`homeroll occasions`: the family's own days (a graduation, a wedding anniversary), typed in or imported.

Each change re-runs the selection at once and says in one line what it changed, so "Lea graduates on
28 June" shows up as a memory without waiting for the service's next run. A calendar's birthdays set a
named person's birthday only with the household's yes: asked in a terminal, ``--set-birthdays`` in a
script, and never silently (without a terminal nothing is set and the line says how).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from homeroll.daemon.cli.context import AppContext, json_option, pass_app, print_json, subcommand
from homeroll.daemon.memories import family_occasions, ics
from homeroll.daemon.memories.titles import plural
from homeroll.daemon.store import occasions as store_occasions

_EMPTY = ("no occasions yet: `homeroll occasions add \"Lea's graduation\" 2025-06-28 --people Lea`, "
          "or `homeroll occasions import FILE.ics`")


#: As `homeroll select --today`: the selection after a change runs as if today were this date ("on this day").
_today_option = click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]),
                             help="Re-select as if today were this date (YYYY-MM-DD), as `homeroll select --today`.")


def _day(today: Any) -> date | None:
    return today.date() if today else None


def _listing(db: Any) -> list[dict[str, Any]]:
    made = store_occasions.memories_of(db)
    return [{**o, "memories": made.get(o["id"], [])} for o in store_occasions.list_occasions(db)]


def _line(occasion: dict[str, Any]) -> str:
    when = occasion["date"] + (f" ({occasion['days']} days)" if occasion["days"] > 1 else "")
    when += ", yearly" if occasion["yearly"] else ""
    who = f"  with {', '.join(occasion['people'])}" if occasion["people"] else ""
    line = f"{occasion['id']:>5}  {occasion['title']}  {when}{who}  [{occasion['source']}, {occasion['created_by']}]"
    made = occasion.get("memories") or []
    if len(made) == 1:
        line += f"  -> memory {made[0]['id']} ({made[0]['status']})"
    elif made:
        line += f"  -> {len(made)} memories"
    return line


def _print_listing(app: AppContext, as_json: bool) -> None:
    rows = _listing(app.db)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(_EMPTY)
    for row in rows:
        click.echo(_line(row))


@click.group("occasions", invoke_without_command=True)
@json_option("Print every occasion as JSON (with the memories made of it).")
@pass_app
@click.pass_context
def occasions(ctx: click.Context, app: AppContext, as_json: bool) -> None:
    """The family's own occasions (graduations, anniversaries): list them, or add, remove and import."""
    if ctx.invoked_subcommand is None:
        _print_listing(app, as_json)


@occasions.command("list")
@json_option("Print every occasion as JSON (with the memories made of it).")
@pass_app
def list_cmd(app: AppContext, as_json: bool) -> None:
    """List the occasions and the memories made of them."""
    _print_listing(app, as_json)


def _names(values: tuple[str, ...]) -> list[str]:
    return [n.strip() for value in values for n in value.split(",") if n.strip()]


@occasions.command("add")
@click.argument("title")
@click.argument("day", metavar="DATE")
@click.option("--people", "people", multiple=True, metavar="NAME[,NAME]",
              help="Named people the occasion is about (as `homeroll people` lists them); repeat or use commas.")
@click.option("--yearly", is_flag=True, help="It comes back every year (an anniversary); DATE is the first one.")
@click.option("--days", type=click.IntRange(1, store_occasions.MAX_DAYS), default=1, show_default=True,
              help="How many days it lasts, from DATE.")
@_today_option
@json_option("Print the occasion and the selection's summary as JSON.")
@pass_app
def add_cmd(app: AppContext, title: str, day: str, people: tuple[str, ...], yearly: bool, days: int,
            today: Any, as_json: bool) -> None:
    """Add an occasion TITLE on DATE (YYYY-MM-DD), e.g. "Lea's graduation" 2025-06-28; then re-select."""
    result = family_occasions.add_and_select(app.db, app.config, title, day, days=days, yearly=yearly,
                                             people=_names(people), source="cli", today=_day(today))
    if as_json:
        print_json(result)
    else:
        click.echo(result["text"])


@subcommand(occasions, "remove", "occasion_id")
@_today_option
@json_option("Print the removed occasion and the selection's summary as JSON.")
def remove_cmd(app: AppContext, occasion_id: int, today: Any, as_json: bool) -> None:
    """Remove occasion OCCASION_ID; its suggestions go, approved and exported memories stay."""
    result = family_occasions.remove_and_select(app.db, app.config, occasion_id, today=_day(today))
    if as_json:
        print_json(result)
    else:
        click.echo(result["text"])


def _ask(offers: list[ics.BirthdayOffer], set_birthdays: bool, as_json: bool) -> bool:
    """The household's yes to the birthdays: the flag, else a question in a terminal, else no."""
    if not offers or set_birthdays:
        return set_birthdays
    if not sys.stdin.isatty():
        return False
    click.echo("The calendar has birthdays of people you named:", err=as_json)
    for offer in offers:
        click.echo(f"  {offer.text()}", err=as_json)
    return click.confirm("Set these birthdays?", default=False, err=as_json)


@occasions.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--set-birthdays", is_flag=True,
              help="Set the birthdays of named people that the calendar has, without asking.")
@_today_option
@json_option("Print what was added, updated, unchanged and skipped (and why) as JSON.")
@pass_app
def import_cmd(app: AppContext, file: Path, set_birthdays: bool, today: Any, as_json: bool) -> None:
    """Import the events of FILE (.ics from Nextcloud, Google or Apple Calendar) as occasions; re-importing
    updates them by UID. Birthdays of named people are set only when you confirm."""
    parsed = ics.read(file, app.config.home_tz)
    offers, passed = ics.matching_birthdays(app.db, parsed)
    yes = _ask(offers, set_birthdays, as_json)
    report = ics.import_calendar(app.db, app.config, parsed, offers, passed, set_birthdays=yes, today=_day(today))
    if offers and not yes:
        report["text"] += ("; you said no to the birthdays" if sys.stdin.isatty() else
                           f"; to set the {plural(len(offers), 'birthday')}: run `homeroll occasions import "
                           f"{file} --set-birthdays`, or run it in a terminal to be asked")
    if as_json:
        print_json(report)
        return
    for outcome in ("added", "updated", "unchanged"):
        for row in report[outcome]:
            yearly = ", yearly" if row["yearly"] else ""
            days = f" ({row['days']} days)" if row["days"] > 1 else ""
            click.echo(f"  {outcome:<9} {row['id']:>5}  {row['title']}  {row['date']}{days}{yearly}")
    for row in report["skipped"]:
        click.echo(f"  {'skipped':<9}        {row['title']}: {row['reason']}")
    for row in report["birthdays"]:
        click.echo(f"  {'birthday':<9}        {row['name']}: {row['birthday']} (was {row['was'] or 'none'})"
                   f"{'' if row['set'] else ', not set'}")
    click.echo(report["text"])


commands = [occasions]
