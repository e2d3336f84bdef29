"""Opening the DB: WAL, busy_timeout, synchronous=NORMAL, then any pending migrations; and the one write path.

Every write runs in ``with db.atomic():`` (store functions, sqlite-utils' own table methods, migrations).
:class:`Database` makes the outermost of those ``BEGIN IMMEDIATE``: the write lock is taken when the
transaction starts, waiting at most the busy timeout there, never half-way through. A deferred ``BEGIN``
that reads and then writes can instead fail at once with "database is locked" when another process
committed meanwhile (SQLite cannot upgrade its read snapshot). The connection is in autocommit mode, so a
statement outside ``atomic()`` never opens a transaction nobody commits. A transaction is held only while
rows are written: the indexer commits before it waits on a worker again (see ingest/pipeline.py).

The DB's health is here too: the quick_check the service runs at start, the full check of `homeroll db
check` (on a connection that neither migrates nor changes the journal mode, so it works on a DB too
damaged to open normally), and which SQLite errors mean the file itself is damaged.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils

from homeroll.daemon.errors import UserError
from homeroll.daemon.store import backup as store_backup
from homeroll.daemon.store.schema import migrations, step_names

BUSY_TIMEOUT_MS = 10_000


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose outermost ``atomic()`` takes the write lock at once (BEGIN IMMEDIATE)."""

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:
            with super().atomic():  # a savepoint inside the caller's transaction
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise


def _setup(conn: sqlite3.Connection) -> None:
    conn.isolation_level = None  # autocommit: transactions are only ever the explicit BEGIN IMMEDIATE above
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def connect(path: Path | str | None = None, *, migrate: bool = True) -> Database:
    """Open (creating if needed) the homeroll DB. ``path=None`` gives an in-memory DB for tests.

    Before migrating an existing DB to a newer schema, a backup copy is taken with SQLite's backup
    API (``homeroll.db.bak-<n>``, see store/backup.py), so an upgrade can never lose the household's
    decisions. ``migrate=False`` opens the DB as it is (`homeroll backup` copies what is there).
    """
    if path is None:
        db = Database(memory=True)
        _setup(db.conn)
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_like_open(path)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        _setup(conn)
        conn.execute("PRAGMA journal_mode = WAL")
        db = Database(conn)
    if migrate:
        _migrate(db, None if path is None else Path(path))
    return db


def _create_like_open(path: Path) -> None:
    """Make a new DB file 0666 minus the umask, as open() would. SQLite creates it 0644 minus the umask, so
    in the household's data dir (umask 0007) it would be 0640 and no member could write it; its -wal and
    -shm files copy the DB file's mode, so this one mode decides them all. An empty file is a new DB."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except FileExistsError:
        pass


def _migrate(db: Database, path: Path | None) -> None:
    """Bring the schema up to this version: refuse a DB from a newer homeroll, back up before a step,
    and check the DB after it (an upgrade that broke it says so at once, with the backup to restore)."""
    applied = [step.name for step in migrations.applied(db)]
    refusal = newer_refusal(path, applied)
    if refusal:
        db.close()
        raise UserError(refusal)
    if not migrations.pending(db):
        return
    if path is not None and applied:
        _backup(db, path, len(applied))
    migrations.apply(db)
    if path is not None and applied and (check := quick_check(db)) != "ok":
        db.close()
        raise UserError(f"the database {path} failed its check after the upgrade ({check}): restore the copy "
                        f"taken before it (homeroll db restore {path}.bak-{len(applied)})")


def newer_refusal(path: Path | None, applied: list[str]) -> str | None:
    """Why a DB that has applied schema steps this version does not know is refused (a downgrade), or None."""
    newer = sorted(set(applied) - set(step_names()))
    if not newer:
        return None
    return (f"the database {path} comes from a newer homeroll (schema steps {', '.join(newer)} are unknown to "
            "this version): install that version again, or restore the backup taken before the upgrade "
            f"(homeroll db restore {path}.bak-{len(applied) - len(newer)})")


def applied_steps(path: Path) -> list[str]:
    """The schema steps a DB has applied, read without migrating it or changing its journal mode: what
    `homeroll setup --upgrade` compares with this version's steps before it changes anything."""
    conn = open_existing(path, read_only=True)
    try:
        return [step.name for step in migrations.applied(sqlite_utils.Database(conn))]
    finally:
        conn.close()


def _backup(db: sqlite_utils.Database, path: Path, version: int) -> None:
    """The copy before a migration, by the same routine as `homeroll backup` (checked, fsynced, renamed).

    A DB whose copy fails integrity_check is not migrated: the error says how to restore a backup."""
    target = path.with_name(f"{path.name}.bak-{version}")
    store_backup.sweep(path.parent)
    try:
        store_backup.copy_db(db, target)
    except store_backup.CopyFailedCheck as exc:
        db.close()
        raise UserError(f"not migrating: {store_backup.damaged_message(path, summary(exc.problems))}") from None


# --- the DB's health: quick_check at the service's start, `homeroll db check`, damage in any error --------

#: SQLITE_CORRUPT and SQLITE_NOTADB: the file's bytes are wrong, not the way it was opened.
_DAMAGED_CODES = frozenset({11, 26})
_DAMAGED_TEXTS = ("database disk image is malformed", "file is not a database", "malformed database schema")


def quick_check(db: sqlite_utils.Database) -> str:
    """``PRAGMA quick_check``: 'ok', or one line: the first problem SQLite reports and how many more."""
    problems = problems_of(db.execute("PRAGMA quick_check").fetchall())
    return summary(problems) if problems else "ok"


def problems_of(rows: list[tuple]) -> list[str]:
    """integrity_check's or quick_check's rows as one problem each: [] for "ok". SQLite can put many problems
    in one row, one a line, under a "*** in database main ***" heading."""
    lines = [line.strip() for row in rows for line in str(row[0]).splitlines()]
    return [line for line in lines if line and line != "ok" and not line.startswith("*** in database")]


def integrity_problems(conn: sqlite3.Connection) -> list[str]:
    """``PRAGMA integrity_check`` (the full one): [] when ok, else SQLite's problems (or why it could not run)."""
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return problems_of(rows)


def summary(problems: list[str]) -> str:
    """The first problem, and how many more: short enough for one line."""
    more = f" and {len(problems) - 1} more problems" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"


def is_damaged(exc: BaseException) -> bool:
    """SQLITE_CORRUPT or SQLITE_NOTADB: the DB file itself is damaged."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF in _DAMAGED_CODES) or any(t in str(exc) for t in _DAMAGED_TEXTS)


def open_existing(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """The DB as it is: no migration, no journal-mode change, never created if it is not there.
    ``read_only``: a look that must not write (a dry run): not the checkpoint a last writer's close does,
    and not the empty -wal and -shm a read-only open leaves when there were none (then there is no WAL to
    read, and the file is opened as immutable)."""
    if not path.is_file():
        raise UserError(f"no database at {path}")
    mode = "rw"
    if read_only:
        mode = "ro" if path.with_name(path.name + "-wal").exists() else "ro&immutable=1"
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode={mode}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def check(path: Path | str) -> dict[str, Any]:
    """``integrity_check`` (full) and ``foreign_key_check`` on the DB, opened without migrating it, so it
    works on a DB too damaged for :func:`store.connect`."""
    path = Path(path)
    conn = open_existing(path)
    try:
        problems = integrity_problems(conn)
        try:
            keys = [{"table": t, "rowid": r, "parent": p} for t, r, p, _ in
                    conn.execute("PRAGMA foreign_key_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            keys = [{"error": str(exc)}]
    finally:
        conn.close()
    return {"path": str(path), "integrity": problems or "ok", "foreign_keys": keys,
            "ok": not problems and not keys}


def checkpoint(db: sqlite_utils.Database) -> None:
    """Fold the WAL back into the DB file when the service is idle, so it does not grow for ever."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def data_version(db: sqlite_utils.Database) -> int:
    """Changes when another connection commits (PRAGMA data_version): a cheap "anything new?" for the TUI."""
    return db.execute("PRAGMA data_version").fetchone()[0]
