"""`homeroll demo`: make a camera roll, then run the whole product on it and say what happened at each step."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import click

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.cli.context import AppContext, pass_app
from homeroll.daemon.store import items as store_items

log = logging.getLogger(__name__)


class _Steps:
    """Each step's heading, and its wall time: the demo ends with what each step cost (issue 12's budget is
    60 s on a 2-core machine after `pip install`; the face photos' fetch is pip's, shown apart)."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self._name, self._started = "", time.monotonic()

    def __call__(self, name: str, text: str) -> None:
        self._close()
        self._name, self._started = name, time.monotonic()
        click.secho(f"\n== {text}", bold=True)

    def _close(self) -> None:
        if self._name:
            self.times.append((self._name, time.monotonic() - self._started))

    def report(self) -> None:
        self._close()
        self._name = ""
        click.secho("\n== Step timings (wall seconds)", bold=True)
        for name, seconds in self.times:
            click.echo(f"  {name:<26} {seconds:6.1f} s")
        own = sum(seconds for name, seconds in self.times if name != "fetch face photos")
        click.echo(f"  {'total, without the fetch':<26} {own:6.1f} s")


@click.command("demo")
@click.option("--dir", "demo_dir", default=".demo", show_default=True, type=click.Path(file_okay=False),
              help="Where the demo roll, its DB and its exports go (replaced on every run).")
@click.option("--faces/--no-faces", default=True, show_default=True,
              help="Fetch real face photos (face_recognition's test images, with pip) for the people step.")
@click.option("--seed", default=7, show_default=True, help="Seed of the generated roll.")
@pass_app
def demo(app: AppContext, demo_dir: str, faces: bool, seed: int) -> None:
    """Generate a demo camera roll and run scan, faces, selection and an export on it."""
    from homeroll.demo.roll import generate_camera_roll

    steps = _Steps()
    base = Path(demo_dir).absolute()
    if base.exists():
        shutil.rmtree(base)
    library, data, export = base / "camera-roll", base / "data", base / "export"
    export.mkdir(parents=True)

    face_photos: list[Path] = []
    if faces:
        steps("fetch face photos",
              "Fetching real face photos for the people demo (face_recognition's test images, via pip)")
        from homeroll.demo.faces import fetch_demo_faces

        face_photos = [p for p in fetch_demo_faces(base / "face-photos") if "partial" not in p.name]
        click.echo(f"{len(face_photos)} face photos" if face_photos else "none available: the demo runs without faces")

    steps("generate the roll",
          "Generating a camera roll: two phones, home in Berlin, trips to Lisbon & Sintra and Japan")
    started = time.monotonic()
    manifest = generate_camera_roll(library, seed=seed, face_photos=face_photos, graduation=True)
    click.echo(f"{manifest['photos']} JPEG, {manifest['heic']} HEIC, {manifest['videos']} videos, "
               f"{manifest['screenshots']} screenshots, {manifest['messenger']} messenger images "
               f"in {library} ({time.monotonic() - started:.0f} s)")
    from homeroll.demo import exports as demo_exports

    exports = demo_exports.generate_takeout(library, seed=seed, people=["Anna"])
    scans = demo_exports.generate_scans(library, seed=seed)
    demo_exports.settle(library)
    click.echo(f"plus a Google Takeout folder ({len(exports)} photos whose EXIF was stripped, with their JSON "
               f"sidecars) and {len(scans)} scanned prints dated only by their folders' names")

    # A demo may use two cores for indexing and faces (a real install leaves one free by default): it has
    # the machine to itself, and one core would make the scan alone about 12 s of its 60-s budget.
    # A 720p film of 12 s: what a slow Pi would be set to, and short enough for the demo's time budget.
    cfg = config_mod.build(base / "config.toml", [library], data, export, "Europe/Berlin",
                           {"scan": {"workers": 2}, "faces": {"workers": 2},
                            "export": {"video_height": 720, "video_seconds": 12}})
    config_mod.save(cfg)
    db = store.connect(cfg.db_path)

    steps("scan", "Indexing (homeroll scan)")
    from homeroll.daemon.ingest.pipeline import Indexer

    with Indexer(cfg, db) as indexer:
        stats = indexer.scan()
    click.echo(stats.summary())
    click.echo(", ".join(f"{n} {k}s" for k, n in sorted(store_items.counts(db)["by_kind"].items())))
    click.echo("places: " + ", ".join(f"{city} ({country}) x{n}" for city, country, n in store_items.top_places(db, 8)))
    _explain_dates(db, library, exports[0], scans)

    steps("faces", "Finding faces and people (homeroll faces)")
    from homeroll.daemon.faces.job import run_faces_job
    from homeroll.daemon.store import faces as store_faces

    summary = run_faces_job(cfg, db)
    click.echo(f"{summary.get('faces_found', 0)} faces in {summary.get('items_scanned', 0)} photos, "
               f"{summary.get('people_created', 0)} people")
    people = store_faces.list_people(db)
    if people:
        top = people[0]
        store_faces.name_person(db, top["id"], "Barack", birthday=manifest["events"][0]["date"][5:])
        click.echo(f"person {top['id']} ({top['face_count']} faces) named 'Barack' with birthday "
                   f"{manifest['events'][0]['date'][5:]} (homeroll people name {top['id']} Barack --birthday ...)")

    steps("select", "Choosing memories (homeroll select)")
    from homeroll.daemon.memories.select import run_selection
    from homeroll.daemon.store import memories as store_memories

    selection = run_selection(cfg, db)
    click.echo(f"{selection.get('created', 0)} memories proposed")
    memories = store_memories.list_memories(db)
    for memory in memories:
        click.echo(f"  #{memory['id']:<3} {memory['kind']:<12} {memory['title']}  ({memory['start']} .. {memory['end']})")
        click.echo(f"        why: {memory['reason']}")

    _household_say(steps, cfg, db, manifest, store_faces.list_people(db))

    steps("export (collage and film)",
          "Approving the first trip: its collage and its film (homeroll memories approve / homeroll export)")
    trips = [m for m in memories if m["kind"] == "trip"] or memories
    if trips:
        store_memories.approve(db, trips[0]["id"])
        _export(cfg, db, trips[0]["id"])

    steps("backup", "Keeping what the household decided (homeroll backup, as the service does every night)")
    from homeroll.daemon.service import jobs

    backup = jobs.run_step("backup", cfg, db)  # recorded like any job: `homeroll status` shows its last run
    click.echo(f"{backup['path']} ({backup['bytes']:,} bytes, integrity {backup['integrity']})")
    click.echo("it holds the index and every decision (approvals, names, birthdays), never the photos; "
               "put one back with `homeroll db restore FILE`")
    db.close()
    _doctor(steps, cfg, library, export)

    steps.report()
    click.secho("\n== Next", bold=True)
    cfg_arg = f"--config {cfg.path}"
    click.echo(f"browse and approve in the terminal UI:  .venv/bin/homeroll {cfg_arg} tui")
    click.echo(f"run the service on the demo roll:       .venv/bin/homeroll {cfg_arg} run")
    click.echo(f"  (then drop photos into {library} and watch `homeroll {cfg_arg} status`)")
    click.echo(f"scripting:                              .venv/bin/homeroll {cfg_arg} memories --json")
    click.echo(f"what it is doing, and any job's last error: .venv/bin/homeroll {cfg_arg} status")


def _household_say(steps: _Steps, cfg: config_mod.Config, db, manifest: dict, people: list[dict]) -> None:
    """The household's say before any memory exists: its own occasion, and a person it never wants shown."""
    from homeroll.daemon.memories import family_occasions, hidden
    from homeroll.daemon.store import memories as store_memories

    steps("occasion and hidden person",
          "The household's say: its own occasion, a hidden person (homeroll occasions add / people hide)")
    day = next(e["date"] for e in manifest["events"] if e["kind"] == "graduation")
    named = [p["name"] for p in people[:1] if p.get("name")]
    title = f"{named[0]}'s graduation" if named else "Our graduation day"
    added = family_occasions.add_and_select(db, cfg, title, day, people=named)
    click.echo(f'homeroll occasions add "{title}" {day}' + (f" --people {named[0]}" if named else ""))
    click.echo(f"  {added['text']}")
    for memory in store_memories.list_memories(db, kind="occasion"):
        click.echo(f"  #{memory['id']:<3} {memory['title']}\n        why: {memory['reason']}")
    others = [p for p in people[1:] if not p.get("name")]
    if others:
        result = hidden.set_hidden(db, cfg, others[0]["id"], True)
        click.echo(f"homeroll people hide {others[0]['id']}\n  {result['text']}")
        click.echo("  their faces stay in the DB (`homeroll people forget` deletes them); "
                   f"`homeroll people unhide {others[0]['id']}` brings them back")


def _explain_dates(db, library: Path, takeout, scans) -> None:
    """Where the dates came from: every source with its count, and one example of each export kind."""
    parts = []
    for row in store_items.date_sources(db):
        precision = "" if row["precision"] == "time" else f" ({row['precision']} only)"
        parts.append(f"{row['items']} {row['source']}{precision}")
    click.echo("dates from: " + ", ".join(parts))
    media = {m["path"]: m for m in store_items.media(db)}
    examples = [(takeout, "its Takeout JSON sidecar")]
    examples += [(next(s for s in scans if s.precision == p), "the folder name") for p in ("year", "month", "day")]
    for expected, where in examples:
        row = media.get(str(library / expected.relpath))
        if row:
            click.echo(f"  {expected.relpath}: {row['taken_at']} ({row['taken_at_precision']}) from {where} "
                       f"[{row['taken_at_source']}]")


commands = [demo]


def _doctor(steps: _Steps, cfg: config_mod.Config, library: Path, export: Path) -> None:
    """What `homeroll doctor` says of the demo install, and the one command that makes it a service."""
    from homeroll.daemon.service import doctor as doctor_mod

    steps("doctor", "Checking the install (homeroll doctor; the TUI's status screen shows the same)")
    checks = doctor_mod.run(cfg.path)
    for check in checks:
        if check.status != "ok":
            click.echo(f"{check.status.upper():5} {check.name}: {check.detail}")
    counts = {s: sum(c.status == s for c in checks) for s in ("ok", "warn", "fail")}
    click.echo(f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failures "
               "(a demo has no unit installed and no service running: those warnings are expected)")
    click.echo(f"to run it as a service for the household: sudo .venv/bin/homeroll setup --library {library} "
               f"--export {export} --member $USER --dry-run   (drop --dry-run to install)")


def _export(cfg: config_mod.Config, db, memory_id: int) -> None:
    """The export as the service's job makes it ([export] outputs: collage and video), and what it wrote."""
    import json

    from homeroll.daemon.collage.export import export_outputs_of

    started = time.monotonic()
    written = export_outputs_of(cfg, db, memory_id)
    click.echo(f"collage: {written['collage']}")
    video = json.loads(written["sidecar"].read_text(encoding="utf-8")).get("video")
    if video:
        click.echo(f"video:   {written['video']} ({video['duration']:.0f} s, {video['width']}x{video['height']}, "
                   f"{video['encoder']}, {len(video['sources'])} photos and clips; "
                   f"{time.monotonic() - started:.0f} s to make both)")
    click.echo("add `album` to [export] outputs for a folder of the photos beside them (for Jellyfin, Kodi, a TV)")
