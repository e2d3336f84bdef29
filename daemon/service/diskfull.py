"""Is this error a full (or read-only) data dir, and how much room is left? One answer for the service and the CLI.

A full SD card shows up in three disguises: SQLite's ``database or disk is full`` (SQLITE_FULL), an
``OSError`` ENOSPC (or EDQUOT) from a thumbnail or heartbeat write, and, because a worker process turns
any decoder-side exception into a per-file skip reason, the text ``[Errno 28] No space left on device``
inside such a reason. All three mean the same thing to the household: the data dir needs room, nothing
is wrong with the photo. The message names the folder and the space left, since "disk is full" alone
does not say which disk on a Pi with an SD card and a USB drive.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

__all__ = ["describe", "free_bytes", "full_reason", "human", "is_disk_full", "is_disk_full_reason",
           "is_read_only", "read_only_reason", "room_line"]

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_SQLITE_FULL = 13
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SHM_BYTES = 32 * 1024
_FULL_TEXTS = ("database or disk is full", "No space left on device", "Disk quota exceeded",
               f"[Errno {errno.ENOSPC}]", f"[Errno {errno.EDQUOT}]")


def _chain(exc: BaseException | None):
    """The exception and its causes: a UserError or RuntimeError may wrap the OSError that matters.

    ``raise ... from None`` ends the chain: whoever wrote it has said what the error is (a backup that
    found no room is the backup's error with its own line, not a full data dir to degrade for)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        if exc.__cause__ is not None:
            exc = exc.__cause__
        elif exc.__suppress_context__:
            exc = None
        else:
            exc = exc.__context__


def is_disk_full(exc: BaseException, folder: Path | str | None = None) -> bool:
    """SQLITE_FULL, or ENOSPC/EDQUOT anywhere in the exception's chain. With ``folder``, also SQLite's
    ``disk I/O error`` when that folder's file system has no room: opening a WAL database must create
    its 32 KB ``-shm`` file, and SQLite reports that failing as I/O, not as full."""
    for one in _chain(exc):
        if folder is not None and isinstance(one, sqlite3.Error) and _is_ioerr(one) and _no_room(folder):
            return True
        if isinstance(one, OSError) and one.errno in _FULL_ERRNOS:
            return True
        if isinstance(one, sqlite3.Error):
            code = getattr(one, "sqlite_errorcode", None)
            if code is not None and code & 0xFF == _SQLITE_FULL:
                return True
            if "database or disk is full" in str(one):
                return True
    return False


def _is_ioerr(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == _SQLITE_IOERR) or "disk I/O error" in str(exc)


def _no_room(folder: Path | str) -> bool:
    try:
        return free_bytes(folder)[0] < _SHM_BYTES
    except OSError:
        return False


def is_disk_full_reason(text: str | None) -> bool:
    """A skip reason (or log text) that is really a full disk, not something wrong with the file."""
    return bool(text) and any(marker in text for marker in _FULL_TEXTS)


def is_read_only(exc: BaseException, folder: Path | str | None = None) -> bool:
    """A read-only mount or a folder we may not write: SQLITE_READONLY, EROFS/EACCES, or (SQLite's
    ``unable to open database file``) a folder that ``os.access`` says is not writable."""
    for one in _chain(exc):
        if isinstance(one, OSError) and one.errno in _READ_ONLY_ERRNOS:
            return True
        if isinstance(one, sqlite3.Error):
            code = getattr(one, "sqlite_errorcode", None)
            if (code is not None and code & 0xFF == _SQLITE_READONLY) or "readonly database" in str(one):
                return True
    return folder is not None and os.path.isdir(folder) and not os.access(folder, os.W_OK)


def _existing(path: Path | str) -> Path:
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_bytes(path: Path | str) -> tuple[int, int]:
    """(bytes free to an unprivileged writer, size) of the file system holding ``path`` (or its nearest
    existing parent)."""
    st = os.statvfs(_existing(path))
    return st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize


def human(size: float) -> str:
    """1536 -> '1.5 KB', 12288 -> '12 KB', like ``df -h`` (powers of 1024)."""
    unit = "B"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    if unit == "B":
        return f"{int(size)} B"
    return f"{size:.0f} {unit}" if size >= 10 else f"{size:.1f} {unit}"


def describe(path: Path | str) -> str:
    """'12 KB free of 3.0 MB' for the file system holding ``path`` ('free space unknown' if statvfs fails)."""
    try:
        free, total = free_bytes(path)
    except OSError:
        return "free space unknown"
    return f"{human(free)} free of {human(total)}"


def room_line(folder: Path | str, needed: int) -> str:
    """'/mnt/usb has 12 KB free, the copy needs about 3.0 MB': why a copy of ``needed`` bytes is refused."""
    try:
        free = human(free_bytes(folder)[0])
    except OSError:
        free = "an unknown amount"
    return f"{folder} has {free} free, the copy needs about {human(needed)}"


def full_reason(data_dir: Path | str, where: Path | str | None = None) -> str:
    """The one line the service records and the CLI can print for a full data dir (``where``: the folder
    in it that is full, when that is a mount of its own, e.g. ``thumbs``)."""
    inside = f" ({where})" if where is not None and Path(where) != Path(data_dir) else ""
    return f"data dir {data_dir} is full{inside}: {describe(where or data_dir)}; free space there or move data_dir"


def _mounted_read_only(path: Path | str) -> bool:
    try:
        return bool(os.statvfs(_existing(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def read_only_reason(data_dir: Path | str, exc: BaseException) -> str:
    """The one line for a data dir homeroll cannot write (SQLite's own words say only "unable to open")."""
    detail = "a read-only file system" if _mounted_read_only(data_dir) else (getattr(exc, "strerror", None)
                                                                             or str(exc))
    return (f"data dir {data_dir} is not writable ({detail}): homeroll keeps its database and thumbnails "
            f"there; mount it read-write, fix its owner, or point data_dir elsewhere")
