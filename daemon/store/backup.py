"""Copies of the household's decisions, and putting one back: `homeroll backup`, the nightly rotation, the
copy taken before a schema migration, `homeroll db check` and `homeroll db restore`.

Approvals, names and birthdays exist nowhere but in the DB, and an SD card wears out. A plain ``cp`` of a
WAL database while the service writes can copy the main file and its ``-wal`` from different moments; SQLite's
backup API copies one committed snapshot instead. It runs in one step: a stepwise copy restarts whenever
another process commits, which on a busy service could be for ever, while one step holds only a read
snapshot, which in WAL mode never blocks the writer.

Every copy goes to a temp name (fsutil's ``TEMP_PREFIX``/``TEMP_SUFFIX``, so a killed run leaves nothing that
looks like a backup and :func:`sweep` removes it), is turned into a single self-contained file (rollback
journal, no ``-wal`` to forget when copying it elsewhere), passes ``PRAGMA integrity_check`` on a fresh
connection, is fsynced, and only then gets its name. One routine serves every copy, so the one taken
before a migration is as trustworthy as the nightly one.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from homeroll.daemon.errors import UserError
from homeroll.daemon.service import diskfull
from homeroll.daemon.store import db as store_db
from homeroll.daemon.store import fsutil
from homeroll.daemon.store import service as store_service
from homeroll.daemon.store.schema import migrations, step_names

if TYPE_CHECKING:
    from collections.abc import Callable

    from homeroll.daemon.config import Config

__all__ = ["FOLDER", "CopyFailedCheck", "PreparedCopy", "backup_name", "backups_dir", "copy_db", "damaged_message",
           "list_backups", "read_service_kv", "restore", "rotate", "run_backup_job", "sweep", "take_backup"]

#: The folder under the data dir that `homeroll backup` and the nightly job write to.
FOLDER = "backups"
_STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^homeroll-(\d{8}T\d{6}Z)(?:-(\d+))?\.db$")
_HEADER = b"SQLite format 3\x00"
#: Files SQLite keeps beside a DB; a journal or WAL left beside a replaced file would be applied to it.
_SIDE_FILES = ("-wal", "-shm", "-journal")
#: Room a copy needs beyond its pages: its rollback journal while SQLite turns it into one file, and slack.
_MARGIN_BYTES = 1 << 20
#: A backup stamped this far past now was named under a wrong clock: the rotation takes it for the oldest.
_FUTURE_SLACK = timedelta(days=1)
#: How long a restore waits to see whether another process has the DB open (it waits for no one).
_CLAIM_TIMEOUT_S = 1.0
_MAKE_ROOM = "free space there, set [backup] keep lower, or back up to another disk (`homeroll backup --to DIR`)"
_OPEN_ELSEWHERE = ("the database is open in another process (the service, a scan or the TUI): close it, "
                   "then restore; nothing was changed")


class CopyFailedCheck(Exception):
    """The copy did not pass ``PRAGMA integrity_check``: the source is damaged (or the disk is)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:3]))
        self.problems = problems


def backups_dir(data_dir: Path | str) -> Path:
    return Path(data_dir) / FOLDER


def backup_name(moment: datetime, n: int = 0) -> str:
    """``homeroll-20261202T031500Z.db`` (UTC); ``-<n>`` when two backups fall in one second."""
    stamp = moment.astimezone(UTC).strftime(_STAMP)
    return f"homeroll-{stamp}{f'-{n}' if n else ''}.db"


def list_backups(folder: Path | str) -> list[Path]:
    """The backups in ``folder`` by this module's naming, oldest first (by the time in the name, not mtime)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = [(m.group(1), int(m.group(2) or 0), name) for name in names if (m := _NAME.match(name))]
    return [Path(folder) / name for _, _, name in sorted(found)]


def sweep(folder: Path) -> None:
    """Remove what a killed copy left in ``folder``: its temp file and the journal or WAL beside it."""
    fsutil.sweep_stale_temps(folder, _SIDE_FILES)


def _read_only(path: Path, *, immutable: bool = False) -> sqlite3.Connection:
    """Read ``path`` without writing to it; ``immutable`` also creates no ``-wal``/``-shm`` beside it (for a
    backup file of someone else's, which has no WAL of its own)."""
    query = "immutable=1" if immutable else "mode=ro"
    return sqlite3.connect(f"{path.absolute().as_uri()}?{query}", uri=True,
                           timeout=store_db.BUSY_TIMEOUT_MS / 1000, check_same_thread=False)


class PreparedCopy:
    """A checked, fsynced copy of ``source`` under a temp name in ``folder``, not yet visible as a backup.

    Use it as a context manager: leaving the block removes the copy unless :meth:`commit` gave it its
    name. Raises :class:`CopyFailedCheck` when the copy fails ``integrity_check``.
    """

    def __init__(self, source: sqlite3.Connection, folder: Path, mode: int | None = None) -> None:
        if source.in_transaction:
            raise RuntimeError("a backup inside an open transaction would copy rows nobody committed")
        self.folder = Path(folder)
        self.temp: Path | None = fsutil.temp_name(self.folder)
        started = time.monotonic()
        try:
            self._copy(source, mode)
        except BaseException:
            self.discard()
            raise
        self.bytes = self.temp.stat().st_size
        self.seconds = time.monotonic() - started

    def _copy(self, source: sqlite3.Connection, mode: int | None) -> None:
        dest = sqlite3.connect(str(self.temp))
        try:
            source.backup(dest)  # pages=-1: one step, one snapshot (see the module docstring)
            dest.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        finally:
            dest.close()
        check = _read_only(self.temp, immutable=True)  # a fresh connection: what is on disk, not the copier's cache
        try:
            problems = store_db.integrity_problems(check)
        finally:
            check.close()
        if problems:
            raise CopyFailedCheck(problems)
        fd = os.open(self.temp, os.O_RDONLY)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> PreparedCopy:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()

    def commit(self, target: Path) -> None:
        """Give the copy its name (replacing ``target``) and make the rename durable."""
        assert self.temp is not None, "commit() after the copy was committed or discarded"
        os.replace(self.temp, target)
        self.temp = None
        fsutil.fsync_dir(Path(target).parent)

    def discard(self) -> None:
        if self.temp is not None:
            for side in ("", *_SIDE_FILES):
                Path(f"{self.temp}{side}").unlink(missing_ok=True)
            self.temp = None


def _connection(source: Any) -> sqlite3.Connection:
    return source.conn if hasattr(source, "conn") else source


def _db_file(conn: sqlite3.Connection) -> Path | None:
    for _, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file)
    return None


def copy_db(source: Any, target: Path, *, mode: int | None = None) -> dict[str, Any]:
    """Copy the DB behind ``source`` (a connection or a store Database) to ``target``, checked and durable.

    ``mode`` None keeps the source file's permission bits (a backup is as private as the DB).
    """
    conn = _connection(source)
    target = Path(target)
    if mode is None and (origin := _db_file(conn)) is not None:
        mode = origin.stat().st_mode & 0o777
    with PreparedCopy(conn, target.parent, mode) as prepared:
        prepared.commit(target)
    return {"path": str(target), "bytes": prepared.bytes, "seconds": round(prepared.seconds, 3),
            "integrity": "ok"}


def take_backup(source: Any, folder: Path, *, now: datetime | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """A new ``homeroll-<UTC time>.db`` in ``folder`` (created if needed). UserError when the DB is damaged,
    and when ``folder`` has no room: checked first, and any full disk met while copying (the temp copy is
    removed), raised ``from None``: the backup's own error, not a full data dir (is_disk_full agrees)."""
    conn = _connection(source)
    folder = Path(folder)
    pages, page_size = (conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "page_size"))
    needed = pages * page_size * 21 // 20 + _MARGIN_BYTES
    with contextlib.suppress(OSError):  # cannot tell: the copy will say
        if diskfull.free_bytes(folder)[0] < needed:
            raise UserError(f"no backup taken: {diskfull.room_line(folder, needed)}: {_MAKE_ROOM}")
    try:
        return _take(conn, folder, now, progress)
    except (OSError, sqlite3.Error) as exc:
        if diskfull.is_disk_full(exc, folder):
            raise UserError(f"no backup taken: {diskfull.room_line(folder, needed)}: {_MAKE_ROOM}") from None
        raise


def _take(conn: sqlite3.Connection, folder: Path, now: datetime | None,
          progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    sweep(folder)
    moment = now or datetime.now(UTC)
    n = 0
    while (target := folder / backup_name(moment, n)).exists():
        n += 1
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    if progress is not None:
        progress(0, pages)
    try:
        result = copy_db(conn, target)
    except CopyFailedCheck as exc:
        origin = _db_file(conn) or Path("homeroll.db")
        raise UserError(f"no backup taken: {damaged_message(origin, store_db.summary(exc.problems))}") from None
    if progress is not None:
        progress(pages, pages)
    return result


def _stamped_after(path: Path, limit: datetime) -> bool:
    match = _NAME.match(path.name)
    return bool(match) and datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC) > limit


def rotate(folder: Path, keep: int, *, taken: Path | None = None, now: datetime | None = None) -> list[Path]:
    """Delete the oldest backups in ``folder`` beyond the newest ``keep`` (only files named like ours), never
    ``taken`` (the one just written). A name stamped over a day after ``now`` was written under a wrong clock
    (a Pi that booted in 2038): it counts as the oldest, or it would outlive every real backup."""
    limit = (now or datetime.now(UTC)) + _FUTURE_SLACK
    backups = sorted(list_backups(folder), key=lambda path: not _stamped_after(path, limit))  # stable
    candidates = [path for path in backups if taken is None or path != Path(taken)]
    doomed = candidates[: max(0, len(backups) - max(keep, 1))]
    for path in doomed:
        path.unlink(missing_ok=True)
    if doomed:
        fsutil.fsync_dir(folder)
    return doomed


def run_backup_job(cfg: Config, db, *, progress: Callable[[int, int], None] | None = None,
                   now: datetime | None = None) -> dict[str, Any]:
    """The nightly step (service/jobs.py): a backup into ``<data_dir>/backups``, then the rotation to
    ``[backup] keep``. ``keep = 0`` turns nightly backups off (nothing is taken or deleted)."""
    keep = int(cfg["backup"]["keep"])
    if keep <= 0:
        return {"summary": "nightly backups are off ([backup] keep = 0)"}
    folder = backups_dir(cfg.data_dir)
    result = take_backup(db, folder, now=now, progress=progress)
    removed = rotate(folder, keep, taken=Path(result["path"]), now=now)
    kept = len(list_backups(folder))
    result["removed"] = [str(p) for p in removed]
    result["summary"] = (f"backup {Path(result['path']).name} ({result['bytes']:,} bytes, "
                         f"{result['seconds']:.1f} s); {kept} kept, {len(removed)} removed")
    return result


# --- damage and restore ---------------------------------------------------------------------------------

def damaged_message(db_path: Path | str, detail: str, *, checked: bool = False) -> str:
    """The one line for a damaged DB: what SQLite said, and the way back (check, then restore a backup)."""
    db_path = Path(db_path)
    folder = backups_dir(db_path.parent)
    newest = list_backups(folder)
    where = f"the newest is {newest[-1]}" if newest else f"backups are in {folder}"
    first = "" if checked else "run `homeroll db check`, then "
    return (f"the database {db_path} is damaged ({detail}): {first}"
            f"`homeroll db restore <backup>` ({where})")


def read_service_kv(db_path: Path | str) -> dict[str, str]:
    """The ``service.*`` rows (pid, state…) for a liveness check, or {} when the DB cannot be read."""
    path = Path(db_path)
    if not path.is_file():
        return {}
    try:
        conn = store_db.open_existing(path)  # not read-only: that would leave an empty -wal and -shm behind
        try:
            rows = conn.execute("SELECT key, value FROM kv WHERE key LIKE 'service.%'").fetchall()
        finally:
            conn.close()
    except (sqlite3.Error, UserError):
        return {}
    return {key: value for key, value in rows if value is not None}


def _schema_problem(conn: sqlite3.Connection) -> tuple[str | None, int]:
    """(why this is not a homeroll DB this version can use, or None; how many schema steps it has)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {migrations.migrations_table, "items"} <= tables:
        return "has no homeroll schema (no migrations table or no items table)", 0
    applied = [r[0] for r in conn.execute(
        f"SELECT name FROM {migrations.migrations_table} WHERE migration_set = ? ORDER BY rowid",
        [migrations.name])]
    if not applied:
        return "has no homeroll schema (no homeroll migrations applied)", 0
    known = set(step_names())
    newer = [name for name in applied if name not in known]
    if newer:
        return f"comes from a newer homeroll (schema step {newer[0]}): upgrade homeroll first", len(applied)
    return None, len(applied)


def _prepare_restore(file: Path, data_dir: Path) -> tuple[PreparedCopy, int]:
    """FILE copied into the data dir and checked; (the copy, how many schema steps it has)."""
    with open(file, "rb") as handle:
        if handle.read(len(_HEADER)) != _HEADER:
            raise UserError(f"{file} is not a SQLite database; nothing was changed")
    # a -wal beside FILE (a copy of a live DB) holds committed rows: then it must be read, not ignored
    source = _read_only(file, immutable=not Path(f"{file}-wal").exists())
    try:
        prepared = PreparedCopy(source, data_dir)
    except CopyFailedCheck as exc:
        raise UserError(f"{file} is damaged ({store_db.summary(exc.problems)}); nothing was changed") from None
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{file} cannot be read as a SQLite database ({exc}); nothing was changed") from None
    finally:
        source.close()
    copy = _read_only(prepared.temp, immutable=True)
    try:
        problem, steps = _schema_problem(copy)
    finally:
        copy.close()
    if problem:
        prepared.discard()
        raise UserError(f"{file} {problem}; nothing was changed")
    return prepared, steps


def _claim(db_path: Path) -> sqlite3.Connection | None:
    """The DB's exclusive lock, its WAL folded in (the DB set aside is then one file). Leaving WAL mode needs
    every other connection gone: UserError when another process (the TUI, a scan, a hung service) has it
    open, whose later writes would go to the file set aside and be lost. None when the DB is unreadable."""
    conn = sqlite3.connect(str(db_path), timeout=_CLAIM_TIMEOUT_S, isolation_level=None)  # opens lazily
    try:
        mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        if str(mode).lower() != "delete":  # SQLite keeps the old mode when it cannot change it
            raise sqlite3.OperationalError("database is locked")
        conn.execute("BEGIN EXCLUSIVE")
    except sqlite3.Error as exc:
        conn.close()
        if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in (5, 6) or "locked" in str(exc):  # BUSY, LOCKED
            raise UserError(_OPEN_ELSEWHERE) from None
        return None
    return conn


def restore(db_path: Path | str, file: Path | str, *, now: datetime | None = None,
            confirm: Callable[[], bool] | None = None) -> dict[str, Any] | None:
    """Put backup ``file`` in place of the DB at ``db_path``, after checking it; the DB that was there is
    kept as ``homeroll.db.before-restore-<UTC time>``; an older schema is migrated, and what the copy
    recorded as running (the nightly backup's own progress, ``service.state``) is cleared: nothing of it
    runs now. UserError while another process has the DB open (the caller also checks the service's pid).
    ``confirm`` is asked once the file has passed its checks; None (nothing changed) when it says no."""
    db_path, file = Path(db_path).absolute(), Path(file).absolute()
    if not file.is_file():
        raise UserError(f"{file}: no such file; nothing was changed")
    if file == db_path:
        raise UserError(f"{file} is the database itself; give a backup")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    sweep(db_path.parent)
    prepared, steps = _prepare_restore(file, db_path.parent)
    aside = None
    with prepared:
        if db_path.exists() and (early := _claim(db_path)) is not None:
            early.close()  # refused before asking; not held while a person reads the question
        if confirm is not None and not confirm():
            return None
        if db_path.exists():
            held = _claim(db_path)  # again: the lock is held while the DB path is switched
            try:
                stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime(_STAMP)
                aside = fsutil.unused_name(db_path.with_name(f"{db_path.name}.before-restore-{stamp}"))
                fsutil.replace_keeping_aside(db_path, aside, lambda: prepared.commit(db_path), _SIDE_FILES)
            finally:
                if held is not None:
                    held.close()
        else:
            prepared.commit(db_path)
    db = store_db.connect(db_path)  # WAL again, and the migrations an older backup lacks
    try:
        after = len(migrations.applied(db))
        store_service.forget_running(db)
    finally:
        db.close()
    return {"path": str(db_path), "from": str(file), "aside": str(aside) if aside else None,
            "schema_steps": steps, "migrated": after - steps}
