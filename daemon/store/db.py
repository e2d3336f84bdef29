"""Opening the DB: WAL, busy_timeout, synchronous=NORMAL, then any pending migrations; and the one write path.

Every write runs in ``with db.atomic():`` (store functions, sqlite-utils' own table methods, migrations).
:class:`Database` makes the outermost of those ``BEGIN IMMEDIATE``: the write lock is taken when the
transaction starts, waiting at most the busy timeout there, never half-way through. A deferred ``BEGIN``
that reads and then writes can instead fail at once with "database is locked" when another process
committed meanwhile (SQLite cannot upgrade its read snapshot). The connection is in autocommit mode, so a
statement outside ``atomic()`` never opens a transaction nobody commits. A transaction is held only while
rows are written: the indexer commits before it waits on a worker again (see ingest/pipeline.py).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from homeroll.daemon.store.schema import migrations

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
    API (``homeroll.db.bak-<n>``), so an upgrade can never lose the household's decisions.
    """
    if path is None:
        db = Database(memory=True)
        _setup(db.conn)
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        _setup(conn)
        conn.execute("PRAGMA journal_mode = WAL")
        db = Database(conn)
    if migrate:
        pending = migrations.pending(db)
        if pending and path is not None and migrations.applied(db):
            _backup(db, Path(path), len(migrations.applied(db)))
        if pending:
            migrations.apply(db)
    return db


def _backup(db: sqlite_utils.Database, path: Path, version: int) -> None:
    target = path.with_name(f"{path.name}.bak-{version}")
    dest = sqlite3.connect(str(target))
    try:
        db.conn.backup(dest)
    finally:
        dest.close()
    shutil.copymode(path, target)


def quick_check(db: sqlite_utils.Database) -> str:
    """``PRAGMA quick_check``: 'ok' or the first problem SQLite reports."""
    rows = db.execute("PRAGMA quick_check").fetchall()
    return "ok" if rows == [("ok",)] else "; ".join(r[0] for r in rows[:5])


def checkpoint(db: sqlite_utils.Database) -> None:
    """Fold the WAL back into the DB file when the service is idle, so it does not grow for ever."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def data_version(db: sqlite_utils.Database) -> int:
    """Changes when another connection commits (PRAGMA data_version): a cheap "anything new?" for the TUI."""
    return db.execute("PRAGMA data_version").fetchone()[0]
