"""The crash matrix: SIGKILL a real `homeroll` at a random moment of a job, run it again, check nothing was lost.

A household's Pi loses power mid-scan, mid-export or mid-upgrade, and what it decided (approved, renamed,
named, forgotten) must still be there afterwards, with every photo one item and no half file on the share.
SQLite's own suite works this way (crash at many points, then `PRAGMA integrity_check`); this harness does
the same for homeroll's jobs with real processes, a real DB and real files. The moment of each kill comes
from a seeded RNG, so a failure is replayed with its seed. The invariants are read with plain SQL on our own
connection, not through the store API under test. The suite runs it small, ``bench/crash_soak.py`` in full.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.store import fsutil
from homeroll.daemon.store.schema import migrations
from homeroll.demo.media import scene, write_jpeg
from homeroll.demo.roll import generate_camera_roll
from tests.conftest import HOMEROLL

PHASES = ("scan", "faces", "select", "export", "run_once", "migrate")
MEDIA = {".jpg", ".jpeg", ".heic", ".png", ".mp4", ".mov"}
#: In this order the roll puts Biden in three party photos, the minimum for a person; setup adds two more.
FACE_PHOTOS = ("32bit.png", "biden.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg")
#: The roll is fixed (this one gives two people, both in three or more photos); the crash seed only times the kills.
ROLL_SEED = 3
TITLE, NAME, BIRTHDAY = "Our crash-proof trip", "Barack", "08-04"
#: Guessed run time (s) of each phase; kills fall in 0..1.1x it. An unkilled run resets it, a longer restart raises it.
FIRST_GUESS = {"scan": 1.5, "faces": 2.0, "select": 0.8, "export": 0.6, "run_once": 3.0, "migrate": 0.5}


@dataclass
class Outcome:
    phase: str
    delay: float
    landed: bool          # the process was still running when the kill came
    restart_ok: bool
    restart_seconds: float
    failures: list[str] = field(default_factory=list)
    orphans: int = 0      # worker processes still alive 5 s after their parent's SIGKILL


class Decisions:
    """What the household decided with the CLI before the kills, as the checks expect to find it."""

    def __init__(self) -> None:
        self.approved = self.rejected = self.removed_item = self.cover_item = self.named = self.forgotten = 0
        self.forgotten_media: list[str] = []


def _run(cfg: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([*HOMEROLL, "--config", str(cfg), *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"homeroll {' '.join(args)} exited {proc.returncode}: {proc.stderr[-1500:]}")
    return proc


def _settle(path: Path) -> None:
    """Files look synced an hour ago (the indexer defers files younger than its stability window)."""
    os.utime(path, (time.time() - 3600,) * 2)


class CrashMatrix:
    """One library, one config, the decisions; then ``run(kills)`` kills and restarts phases in turn."""

    def __init__(self, base: Path, corpus: Path, seed: int) -> None:
        self.base, self.seed, self.rng = base, seed, random.Random(seed)
        self.faces_src = [corpus / "face_recognition" / "tests" / "test_images" / n for n in FACE_PHOTOS]
        self.lib, self.export = base / "library", base / "export"
        self.cfg = self._config(base / "config.toml", base / "data")
        self.mig_cfg = self._config(base / "config-mig.toml", base / "data-mig")
        self.decisions = Decisions()
        self.estimate = dict(FIRST_GUESS)
        self.added = 0
        self.startup = 0.0

    def _config(self, path: Path, data: Path) -> config_mod.Config:
        cfg = config_mod.build(path, [self.lib], data, self.export, "Europe/Berlin",
                               {"scan": {"workers": 1}, "faces": {"workers": 1}, "export": {"outputs": ["collage"]}})
        config_mod.save(cfg)
        return cfg

    # ------------------------------------------------------------------ set-up: library and decisions
    def setup(self) -> None:
        self.export.mkdir(parents=True, exist_ok=True)
        generate_camera_roll(self.lib, seed=ROLL_SEED, face_photos=self.faces_src, size=(320, 240))
        self._new_photo(faces=True, source=self.faces_src[1]), self._new_photo(faces=True, source=self.faces_src[1])
        cfg = self.cfg.path
        for step in (("scan",), ("faces",), ("select",)):
            _run(cfg, *step)
        memories = json.loads(_run(cfg, "memories", "--json").stdout)
        trip = next(m for m in memories if m["kind"] == "trip")
        other = next(m for m in memories if m["id"] != trip["id"])
        people = sorted(json.loads(_run(cfg, "people", "--json").stdout), key=lambda p: -p["face_count"])
        assert len(people) >= 2 and len(trip["media"]) >= 3, (people, trip)
        d = self.decisions
        d.approved, d.rejected, d.named, d.forgotten = trip["id"], other["id"], people[0]["id"], people[1]["id"]
        d.forgotten_media = people[1]["media"]
        removed, cover = trip["media"][1], trip["media"][2]
        for args in (("approve", str(d.approved)), ("rename", str(d.approved), TITLE),
                     ("remove", str(d.approved), removed), ("cover", str(d.approved), cover),
                     ("reject", str(d.rejected))):
            _run(cfg, "memories", *args)
        _run(cfg, "people", "name", str(d.named), NAME, "--birthday", BIRTHDAY)
        _run(cfg, "people", "forget", str(d.forgotten))
        with _reader(self.cfg.db_path) as conn:
            d.removed_item = _item_of(conn, self.lib, removed)
            d.cover_item = _item_of(conn, self.lib, cover)
        started = time.monotonic()
        _run(cfg, "--version")
        self.startup = time.monotonic() - started
        problems = check(self.cfg, self.decisions)
        assert not problems, f"invariants fail before any kill: {problems}"

    # ------------------------------------------------------------------ work for each phase
    def _new_photo(self, faces: bool, source: Path | None = None) -> Path:
        """A photo no one has seen (distinct bytes), dated in the library's span; a real face if asked."""
        self.added += 1
        taken = datetime(2025, 3, 1, 12) + timedelta(hours=self.added)
        if faces:
            with Image.open(source or self.rng.choice(self.faces_src)) as src:
                img = src.convert("RGB")
            w, h = img.size
            cut = self.rng.randint(1, 12)
            img = img.crop((cut, cut, w - cut, h - cut))
        else:
            img = scene(10_000 + self.seed * 100 + self.added, (320, 240))
        path = write_jpeg(self.lib / "crash" / f"new-{self.added:04d}.jpg", img, taken=taken, offset="+01:00")
        _settle(path)
        return path

    def _prepare(self, phase: str) -> list[str]:
        """Give the phase real work to be killed in; returns the command to kill and to run again."""
        if phase == "scan":
            files = self._media_files()
            for path in self.rng.sample(files, len(files) * 2 // 5):  # a new mtime: read and hashed again
                st = path.stat()
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
            self._new_photo(faces=False)
            dup = self.lib / "crash" / f"dup-{self.added:04d}.jpg"
            shutil.copyfile(self.rng.choice(self._media_files()), dup)  # same content, a second path
            _settle(dup)
            crash = sorted((self.lib / "crash").glob("new-*.jpg"))
            if len(crash) > 1:
                crash[0].rename(crash[0].with_name(f"moved-{self.added:04d}.jpg"))  # a move: same item
            return ["scan"]
        if phase == "faces":
            for k in range(4):
                self._new_photo(faces=k < 3)
            _run(self.cfg.path, "scan")
            return ["faces"]
        if phase == "export":
            size = self.rng.choice(["landscape", "a4", "square"])
            return ["export", str(self.decisions.approved), "--size", size]
        if phase == "run_once":
            self._new_photo(faces=True), self._new_photo(faces=False)
            return ["run", "--once"]
        if phase == "migrate":
            # the household's DB as the first schema had it, in its own data dir: the next open migrates it
            shutil.rmtree(self.mig_cfg.data_dir, ignore_errors=True)
            downgrade_copy(self.cfg.db_path, self.mig_cfg.db_path)
            return ["status", "--json"]
        return [phase]

    def _media_files(self) -> list[Path]:
        return sorted(p for p in self.lib.rglob("*") if p.suffix.lower() in MEDIA and p.is_file())

    # ------------------------------------------------------------------ the loop
    def run(self, kills: int, log=print) -> list[Outcome]:
        outcomes = []
        order: list[str] = []
        for _ in range(kills):
            if not order:
                order = list(PHASES)
                self.rng.shuffle(order)
            outcome = self.one(order.pop())
            outcomes.append(outcome)
            log(f"[seed {self.seed}] {outcome.phase:<8} kill at {outcome.delay:5.2f} s "
                f"{'landed' if outcome.landed else 'missed'}, restart {outcome.restart_seconds:5.1f} s"
                + (f", FAILED: {outcome.failures}" if outcome.failures else ""))
        return outcomes

    def one(self, phase: str) -> Outcome:
        args = self._prepare(phase)
        cfg = self.mig_cfg if phase == "migrate" else self.cfg
        marker = cfg.data_dir / "homeroll.db.bak-1" if phase == "migrate" and self.rng.random() < 0.5 else None
        # a kill before the interpreter has imported homeroll tests nothing: start from most of the start-up time
        low = 0.8 * self.startup
        delay = self.rng.uniform(0.0, 0.03) if marker else self.rng.uniform(low, max(low, 1.1 * self.estimate[phase]))
        log_path = self.base / "kill.log"
        started = time.monotonic()
        with open(log_path, "w") as log:
            proc = subprocess.Popen([*HOMEROLL, "--config", str(cfg.path), *args], stdout=subprocess.DEVNULL,
                                    stderr=log, start_new_session=True)
            landed = _kill_later(proc, delay, marker)
        if not landed and proc.returncode == 0:
            self.estimate[phase] = time.monotonic() - started
        outcome = Outcome(phase, delay, landed, False, 0.0, orphans=_reap_group(proc.pid))
        if not landed and proc.returncode != 0:
            outcome.failures.append(f"unkilled run exited {proc.returncode}: {log_path.read_text()[-800:]}")
        started = time.monotonic()
        restart = subprocess.run([*HOMEROLL, "--config", str(cfg.path), *args], capture_output=True, text=True,
                                 timeout=600)
        outcome.restart_seconds = time.monotonic() - started
        self.estimate[phase] = max(self.estimate[phase], outcome.restart_seconds)
        outcome.restart_ok = restart.returncode == 0
        if not outcome.restart_ok:
            outcome.failures.append(f"restart exited {restart.returncode}: {restart.stderr[-800:]}")
        outcome.failures += check(cfg, self.decisions)
        return outcome


def _kill_later(proc: subprocess.Popen, delay: float, marker: Path | None) -> bool:
    """SIGKILL ``proc`` ``delay`` s from now (or from when ``marker`` appears); False if it ended first."""
    while marker is not None and not marker.exists() and proc.poll() is None:
        time.sleep(0.001)
    deadline = time.monotonic() + delay
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))
    if proc.poll() is not None:  # it finished first: this kill proves nothing
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def _group_members(pgid: int) -> list[int]:
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
    return out


def _reap_group(pgid: int, grace: float = 5.0) -> int:
    """Workers left by a killed parent should exit by themselves; count those that do not, then end them."""
    deadline = time.monotonic() + grace
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _group_members(pgid)
    with suppress(ProcessLookupError):  # they may end between the look and the kill
        os.killpg(pgid, signal.SIGKILL) if left else None
    return len(left)


# ---------------------------------------------------------------------- the older schema
def downgrade_copy(source: Path, target: Path) -> None:
    """Write ``target`` at the first migration, holding every row (the first schema's columns) of ``source``."""
    db = store.connect(target, migrate=False)
    later = [m.name for m in migrations.pending(db)][1:]
    migrations.apply(db, stop_before=later)
    conn = db.conn
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("ATTACH DATABASE ? AS src", [str(source)])
    for table in db.table_names():
        if table.startswith(("_sqlite", "sqlite_")):
            continue
        have = {r[1] for r in conn.execute(f"PRAGMA src.table_info({table})")}
        cols = ", ".join(f'"{c.name}"' for c in db[table].columns if c.name in have)
        conn.execute(f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM src.{table}")
    conn.execute("DETACH DATABASE src")
    db.close()


# ---------------------------------------------------------------------- the invariants
def _reader(path: Path) -> closing[sqlite3.Connection]:
    """A plain connection of our own: the checks do not go through the code under test."""
    return closing(sqlite3.connect(str(path), timeout=10))


def _item_of(conn: sqlite3.Connection, lib: Path, path: str) -> int:
    rel = str(Path(path).relative_to(lib))
    return conn.execute("SELECT item_id FROM paths WHERE root = ? AND relpath = ?", [str(lib), rel]).fetchone()[0]


def check(cfg: config_mod.Config, decisions: Decisions) -> list[str]:
    """Every invariant of the matrix; a list of what does not hold (empty when all is well)."""
    problems: list[str] = []
    with _reader(cfg.db_path) as conn:
        result = conn.execute("PRAGMA integrity_check").fetchall()
        if result != [("ok",)]:
            return [f"integrity_check: {result[:3]}"]
        problems += _files_are_items(conn, cfg.libraries[0])
        problems += _decisions_kept(conn, decisions)
        problems += _exports_recorded(conn, cfg.export_dir)
    problems += _no_temp_files(cfg)
    for backup in cfg.data_dir.glob("homeroll.db.bak-*"):
        with _reader(backup) as conn:
            if conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
                problems.append(f"backup {backup.name} is damaged")
    return problems


def _files_are_items(conn: sqlite3.Connection, lib: Path) -> list[str]:
    problems = []
    present: dict[str, list[tuple[int, str]]] = {}
    for rel, item, role in conn.execute("SELECT relpath, item_id, role FROM paths "
                                        "WHERE root = ? AND missing_since IS NULL", [str(lib)]):
        present.setdefault(rel, []).append((item, role))
    items_of_content: dict[str, set[int]] = {}
    files = {str(p.relative_to(lib)) for p in lib.rglob("*") if p.suffix.lower() in MEDIA and p.is_file()}
    for rel in sorted(files):
        rows = present.get(rel, [])
        if len(rows) != 1:
            problems.append(f"{rel}: {len(rows)} present paths")
        elif rows[0][1] == "primary":
            content = hashlib.blake2b((lib / rel).read_bytes(), digest_size=16).hexdigest()
            items_of_content.setdefault(content, set()).add(rows[0][0])
    problems += [f"a path for a file that is gone: {rel}" for rel in sorted(set(present) - files)]
    problems += [f"one content, items {sorted(ids)}" for ids in items_of_content.values() if len(ids) > 1]
    items = {r[0] for r in conn.execute("SELECT id FROM items WHERE state = 'present'")}
    mapped = set().union(*items_of_content.values()) if items_of_content else set()
    if items != mapped:
        problems.append(f"items without their file: {sorted(items - mapped)[:10]}; "
                        f"files without an item: {sorted(mapped - items)[:10]}")
    return problems


def _decisions_kept(conn: sqlite3.Connection, d: Decisions) -> list[str]:
    problems = []
    row = conn.execute("SELECT status, user_title, user_cover_item FROM memories WHERE id = ?", [d.approved]).fetchone()
    if row is None or row[0] not in ("approved", "exported") or row[1] != TITLE or row[2] != d.cover_item:
        problems.append(f"approved memory {d.approved} is now {row} (want approved/exported, {TITLE!r}, "
                        f"cover {d.cover_item})")
    removed = conn.execute("SELECT removed_by_user, picked FROM memory_items WHERE memory_id = ? AND item_id = ?",
                           [d.approved, d.removed_item]).fetchone()
    if removed != (1, 0):
        problems.append(f"the removed photo {d.removed_item} is back in memory {d.approved}: {removed}")
    status = conn.execute("SELECT status FROM memories WHERE id = ?", [d.rejected]).fetchone()
    if status != ("rejected",):
        problems.append(f"rejected memory {d.rejected} is now {status}")
    person = conn.execute("SELECT name, birthday FROM people WHERE id = ?", [d.named]).fetchone()
    if person != (NAME, BIRTHDAY):
        problems.append(f"named person {d.named} is now {person}")
    if conn.execute("SELECT 1 FROM people WHERE id = ?", [d.forgotten]).fetchone():
        problems.append(f"forgotten person {d.forgotten} is back")
    if not conn.execute("SELECT count(*) FROM person_tombstones").fetchone()[0]:
        problems.append("the forgotten person's tombstone is gone")
    lib_rows = conn.execute("SELECT p.root, p.relpath FROM faces f JOIN paths p ON p.item_id = f.item_id "
                            "WHERE f.person_id IS NOT NULL").fetchall()
    again = {os.path.join(root, rel) for root, rel in lib_rows} & set(d.forgotten_media)
    if again:
        problems.append(f"photos of the forgotten person have a person again: {sorted(again)[:3]}")
    return problems


def _exports_recorded(conn: sqlite3.Connection, folder: Path) -> list[str]:
    problems = []
    recorded = {p for row in conn.execute("SELECT path, sidecar FROM exports") for p in row if p}
    for path in sorted(folder.iterdir()):
        if str(path) not in recorded:
            problems.append(f"export folder: {path.name} is not recorded by any export")
        elif path.suffix == ".json":
            try:
                json.loads(path.read_text())
            except ValueError:
                problems.append(f"export folder: {path.name} is not whole JSON")
        else:
            try:
                with Image.open(path) as img:
                    img.load()
            except OSError as exc:
                problems.append(f"export folder: {path.name} does not decode: {exc}")
    for mid, path in conn.execute("SELECT memory_id, path FROM exports e WHERE id = (SELECT max(id) FROM exports "
                                  "WHERE memory_id = e.memory_id)"):
        if not Path(path).is_file():
            problems.append(f"memory {mid}'s latest export {path} is not there")
    return problems


def _no_temp_files(cfg: config_mod.Config) -> list[str]:
    out = []
    for folder in (cfg.export_dir, cfg.thumbs_dir):
        for path in folder.rglob("*") if folder.is_dir() else []:
            if path.name.startswith(fsutil.TEMP_PREFIX) or path.name.endswith(fsutil.TEMP_SUFFIX):
                out.append(f"temp file left: {path}")
    return out

