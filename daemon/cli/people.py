"""`homeroll people` and `homeroll faces`: who is in the photos, and the household's corrections.

Face data never leaves the DB: these commands print ids, names, boxes and paths, never encodings.
A name Google Takeout suggests for a person is only listed (``suggested_name``) until the household
accepts or declines it: nothing here names anyone on its own. ``hide`` and ``unhide`` are a say about
memories, not faces: they keep every face and re-select the suggestions at once (memories/hidden.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from homeroll.daemon.cli.context import AppContext, json_option, pass_app, print_json, subcommand
from homeroll.daemon.errors import UserError
from homeroll.daemon.faces import hints
from homeroll.daemon.memories import hidden
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import hiding as store_hiding


def _people_json(db) -> list[dict]:
    offers = hints.offers(db)
    hidden_people = store_hiding.hidden_people(db)
    out = []
    for p in store_faces.list_people(db):
        offer = offers.get(p["id"])
        hiding = hidden_people.get(p["id"], {"hidden_at": None, "hidden_by": None})
        out.append({
            "id": p["id"], "name": p["name"], "birthday": p["birthday"], "face_count": p["face_count"],
            "media": store_faces.person_media(db, p["id"]),
            "cover": store_faces.cover_path(db, p["cover_face_id"]),
            "cover_face_id": p["cover_face_id"],
            "suggested_name": offer.as_json() if offer else None,
            "hidden": p["id"] in hidden_people, **hiding,
        })
    return out


@click.group("people", invoke_without_command=True)
@json_option("Print every person as JSON (the scripting contract).")
@pass_app
@click.pass_context
def people(ctx: click.Context, app: AppContext, as_json: bool) -> None:
    """List the people found in your photos (named first). Subcommands name, merge and forget them."""
    if ctx.invoked_subcommand is not None:
        return
    rows = _people_json(app.db)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no people yet: run `homeroll faces` after `homeroll scan`")
        return
    for row in rows:
        name = row["name"] or "(unnamed)"
        bday = f", birthday {row['birthday']}" if row["birthday"] else ""
        hidden_note = f" (hidden from memories since {row['hidden_at'][:10]} by {row['hidden_by']})" if row["hidden"] else ""
        click.echo(f"{row['id']:>5}  {name}{bday}: {row['face_count']} faces in {len(row['media'])} photos{hidden_note}")
        if row["suggested_name"]:
            offer = row["suggested_name"]
            click.echo(f"       Takeout calls this person {offer['name']} ({offer['photos']} of {offer['of']} "
                       f"photos): `homeroll people accept-name {row['id']}` or `decline-name {row['id']}`")


#: Every command that changes a person can print it afterwards, as `homeroll people --json` shows it.
PERSON_JSON = "Print the person as JSON."


@subcommand(people, "name", "person_id")
@click.argument("name")
@click.option("--birthday", help="MM-DD or YYYY-MM-DD; used for birthday memories.")
@json_option(PERSON_JSON)
def name_cmd(app: AppContext, person_id: int, name: str, birthday: str | None, as_json: bool) -> None:
    """Give person PERSON_ID a NAME (and optionally a birthday)."""
    store_faces.name_person(app.db, person_id, name, birthday)
    _report(app, person_id, as_json, f"person {person_id} is now {name!r}")


def _offer_command(name: str, doc: str, decide: Callable[[Any, int], hints.Offer], says: str) -> None:
    """accept-name and decline-name: the household's word on the name Takeout suggests for a person."""

    @subcommand(people, name, "person_id", doc)
    @json_option(PERSON_JSON)
    def run(app: AppContext, person_id: int, as_json: bool) -> None:
        offer = decide(app.db, person_id)
        _report(app, person_id, as_json, says.format(id=person_id, name=offer.name))


_offer_command("accept-name", "Give person PERSON_ID the name Google Takeout suggests for them (see suggested_name).",
               hints.accept, "person {id} is now {name!r}")
_offer_command("decline-name", "Turn down the name Google Takeout suggests for PERSON_ID; it is not suggested again.",
               hints.decline, "person {id} is not {name!r}: that name will not be offered again")


@subcommand(people, "merge", "person_id")
@click.argument("other_id", type=int)
@json_option("Print the merged person as JSON.")
def merge_cmd(app: AppContext, person_id: int, other_id: int, as_json: bool) -> None:
    """Merge OTHER_ID into PERSON_ID: they are the same person."""
    store_faces.merge_people(app.db, person_id, other_id)
    _report(app, person_id, as_json, f"merged person {other_id} into {person_id}")


@subcommand(people, "forget", "person_id")
@json_option("Print what was deleted as JSON.")
def forget_cmd(app: AppContext, person_id: int, as_json: bool) -> None:
    """Delete this person's face encodings and crops for good; the faces job will not recreate them."""
    result = store_faces.forget_person(app.db, person_id)
    if as_json:
        print_json({"id": person_id, **result})
    else:
        click.echo(f"forgot person {person_id}: {result['faces_deleted']} face encodings and "
                   f"{result['crops_deleted']} crops deleted")


_TODAY = click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]),
                      help="Re-select as if today were this date (for 'on this day'); default: today in home_tz.")


def _hiding_command(name: str, doc: str, hide: bool) -> None:
    """hide and unhide: the household's say on who is featured, then the suggestions re-selected at once."""

    @subcommand(people, name, "person_id", doc)
    @_TODAY
    @json_option("Print the person as JSON, with the re-selection's summary as \"selection\" (null: nothing changed).")
    def run(app: AppContext, person_id: int, today: Any, as_json: bool) -> None:
        result = hidden.set_hidden(app.db, app.config, person_id, hide, today.date() if today else None)
        if as_json:
            person = next(p for p in _people_json(app.db) if p["id"] == person_id)
            print_json({**person, "selection": result["selection"]})
        else:
            click.echo(result["text"])


_hiding_command("hide", "Leave PERSON_ID out of new memories (their faces stay; `forget` deletes them); "
                "re-selects the suggestions.", hide=True)
_hiding_command("unhide", "Show PERSON_ID in new memories again; re-selects the suggestions.", hide=False)


def _report(app: AppContext, person_id: int, as_json: bool, text: str) -> None:
    if as_json:
        print_json(next(p for p in _people_json(app.db) if p["id"] == person_id))
    else:
        click.echo(text)


@click.group("faces", invoke_without_command=True)
@json_option("List faces as JSON (id, path, box normalised 0..1, person) instead of running the job.")
@click.option("--person", "person_id", type=int, help="With --json: only this person's faces.")
@click.option("--limit", type=click.IntRange(min=1), help="Scan at most this many photos in this run.")
@pass_app
@click.pass_context
def faces(ctx: click.Context, app: AppContext, as_json: bool, person_id: int | None, limit: int | None) -> None:
    """Run the face job once: find faces in new photos and group them into people."""
    if ctx.invoked_subcommand is not None:
        return
    if as_json:
        if person_id is not None and store_faces.person(app.db, person_id) is None:
            raise UserError(f"no person with id {person_id} (see `homeroll people`)")
        print_json(store_faces.list_faces(app.db, person_id))
        return
    if person_id is not None:
        raise UserError("--person only filters the --json listing")
    from homeroll.daemon.faces.job import run_faces_job
    from homeroll.daemon.service.progress import JobProgress

    cfg, db = app.config, app.db
    if not cfg["faces"]["enabled"]:
        click.echo("face recognition is disabled ([faces] enabled = false); nothing done")
        return
    with JobProgress(db, "faces") as report:  # status shows it while it runs, and its last error
        if sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), transient=True) as bar:
                task = bar.add_task("faces", total=None)
                report.also = lambda done, total: bar.update(task, completed=done, total=total)
                summary = run_faces_job(cfg, db, limit=limit, progress=report)
        else:
            summary = run_faces_job(cfg, db, limit=limit, progress=report)
        report.result = summary
    click.echo(f"{summary['items_scanned']} photos scanned, {summary['faces_found']} faces found, "
               f"{summary['faces_assigned']} matched known people, {summary['people_created']} new people, "
               f"{summary['unassigned']} faces waiting ({summary['seconds']:.1f} s)")


@subcommand(faces, "move", "face_id")
@click.argument("target")
def move_cmd(app: AppContext, face_id: int, target: str) -> None:
    """Move FACE_ID to person TARGET (an id), or to a new person with `new`."""
    if target == "new":
        person_id = None
    else:
        try:
            person_id = int(target)
        except ValueError:
            raise UserError(f"TARGET must be a person id or 'new', not {target!r}") from None
    moved_to = store_faces.move_face(app.db, face_id, person_id)
    print_json({"face_id": face_id, "person_id": moved_to})


commands = [people, faces]
