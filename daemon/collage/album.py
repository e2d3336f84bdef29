"""Album folders: an approved memory as a plain folder of its photos, for the programs a household already
points at the share (Jellyfin, Plex, Kodi, a TV's DLNA browser, a laptop over Samba).

The rules are the share's and the library's:
  * the files are copies, never hard links or symlinks: a hard link would let an edit in the share change
    the library (and a symlink would lead a share's reader into it). Where the file system shares extents
    (btrfs, XFS) a copy is a reflink and costs neither space nor time (store/fsutil.clone_or_copy);
  * names sort in time order in any browser (``01 2024-08-12 11.50.jpg``) and keep the original extension,
    so a HEIC stays a HEIC and a video plays as itself;
  * a photo whose file is gone is reported in the sidecar and skipped, never a reason to fail the export;
  * the folder appears whole or not at all. It is built under a hidden temp name in the export folder
    (same file system, so the swap is a rename) and swapped in by :meth:`PreparedAlbum.commit`; the
    sweep of the next export (fsutil.sweep_stale_temps with ``dirs``) removes what a killed build left.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from homeroll.daemon.store import fsutil

log = logging.getLogger(__name__)

__all__ = ["Extra", "PreparedAlbum", "album_names", "bytes_writer", "in_time_order", "prepare_album", "remove_entry"]

#: An extension is kept only when it looks like one (a library file name can hold anything).
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,10}$")

#: A file to put in the album besides the photos (the collage, the video): its name and a writer that
#: fills an open, empty file descriptor and returns how ("copy", "reflink", "write").
Extra = tuple[str, Callable[[int], str]]


def _when(taken: str | None) -> str:
    """'2024-08-12 11.50' from '2024-08-12T11:50:07' (dots: a colon is refused by SMB shares)."""
    if not taken or len(taken) < 16 or taken[10] not in "T ":
        return ""
    date, clock = taken[:10], taken[11:16]
    if not (date.replace("-", "").isdigit() and clock.replace(":", "").isdigit()):
        return ""
    return f" {date} {clock.replace(':', '.')}"


def in_time_order(picks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The picks in the order they were taken, by UTC (a trip across zones stays in the order it happened);
    undated picks last. The album and the film both tell the memory in this order."""
    return sorted(picks, key=lambda p: (p.get("taken_utc") is None, p.get("taken_utc") or "",
                                        p.get("taken") or "", p["item_id"]))


def album_names(picks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The picks in time order with their names in the album: ``01 2024-08-12 11.50.jpg``, the local
    wall-clock time a person remembers. Undated picks come last, named by number only."""
    ordered = in_time_order(picks)
    width = max(2, len(str(len(ordered))))
    named = []
    for n, pick in enumerate(ordered, start=1):
        suffix = Path(pick.get("path") or "").suffix
        ext = suffix if _EXTENSION.match(suffix) else ""
        named.append((f"{n:0{width}d}{_when(pick.get('taken'))}{ext}", pick))
    return named


def _dir_mode(file_mode: int) -> int:
    """The folder's mode from the files': searchable by whoever may read (0644 -> 0755, 0640 -> 0750)."""
    return file_mode | ((file_mode & 0o444) >> 2)


def _open_source(source: str) -> tuple[int, os.stat_result]:
    """Open one library file for copying; OSError if it is gone or is not a plain file."""
    # O_NONBLOCK: a FIFO planted in a library must not hang the export; it is refused just below
    src = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    info = os.fstat(src)
    if not stat.S_ISREG(info.st_mode):
        os.close(src)
        raise OSError(0, "not a regular file")
    return src, info


def _write_file(path: Path, mode: int, fill: Callable[[int], str], times: tuple[int, int] | None = None) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # exact, whatever the umask
        how = fill(fd)
        if times:
            os.utime(fd, ns=times)
        os.fsync(fd)  # a swapped-in folder must not hold empty files after a power cut
        return how
    finally:
        os.close(fd)


@dataclass
class PreparedAlbum:
    """An album folder built under a hidden name in the export folder, not yet visible under its own."""

    folder: Path
    temp: Path | None
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    copies: dict[str, int] = field(default_factory=dict)  # how the files were copied -> how many

    def __enter__(self) -> PreparedAlbum:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()

    def commit(self, target: Path) -> None:
        """Put the album in place as ``target``, replacing the memory's earlier album there.

        Where the kernel can (renameat2 RENAME_EXCHANGE on Linux file systems) the new folder and the old
        one swap names in one step, so ``target`` always holds one whole album. Elsewhere (some network
        shares) the old one is renamed aside to a hidden temp name and the new one renamed in: a crash
        between those two renames leaves no folder under ``target`` and both under hidden temp names, which
        the next export's sweep removes before it builds the album again (the memory is marked exported
        only after every output is in place, so the job does retry it). The old album is removed last.
        """
        assert self.temp is not None, "commit() after the album was committed or discarded"
        old: Path | None = None
        if os.path.lexists(target):
            if fsutil.exchange(self.temp, target):
                old = self.temp
            else:
                old = fsutil.temp_name(self.folder)
                os.rename(target, old)
                os.rename(self.temp, target)
        else:
            os.rename(self.temp, target)
        self.temp = None
        fsutil.fsync_dir(self.folder)
        if old is not None:
            remove_entry(old)

    def discard(self) -> None:
        """Drop the folder if it was not committed (safe to call more than once)."""
        if self.temp is not None:
            remove_entry(self.temp)
            self.temp = None


def remove_entry(path: Path) -> None:
    """Remove a folder this export made (never following a symlink someone put in its place) or a file."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc.strerror or exc)


def _readable(picks: list[dict[str, Any]], skipped: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The picks whose file can be copied (numbered without gaps); the others go to ``skipped`` with why."""
    readable = []
    for pick in picks:
        source = pick.get("path")
        if not source:
            skipped.append((f"item {pick['item_id']}", "no file of it is in the library"))
            continue
        try:
            os.close(_open_source(source)[0])
        except FileNotFoundError:
            skipped.append((source, "file missing"))
        except OSError as exc:
            skipped.append((source, exc.strerror or str(exc)))
        else:
            readable.append(pick)
    return readable


def _add(album: PreparedAlbum, name: str, how: str) -> None:
    album.files.append(name)
    album.copies[how] = album.copies.get(how, 0) + 1


def prepare_album(folder: Path, picks: list[dict[str, Any]], extras: list[Extra], mode: int) -> PreparedAlbum:
    """Build the album of ``picks`` (store.exports.memory_for_export's) plus ``extras`` in a hidden temp
    folder of ``folder``. OSError (a full or read-only share) discards the folder and propagates; a pick
    that cannot be read is recorded in ``skipped`` instead."""
    temp = fsutil.temp_name(folder)
    os.mkdir(temp, _dir_mode(mode))
    album = PreparedAlbum(folder, temp)
    try:
        os.chmod(temp, _dir_mode(mode))
        for name, pick in album_names(_readable(picks, album.skipped)):
            try:
                src, info = _open_source(pick["path"])
            except OSError as exc:  # gone since it was checked a moment ago
                album.skipped.append((pick["path"], exc.strerror or str(exc)))
                continue
            try:  # from here an error is the share's (full, read-only, gone): the album fails as a whole
                how = _write_file(temp / name, mode, lambda dst, src=src: fsutil.clone_or_copy(src, dst),
                                  (info.st_atime_ns, info.st_mtime_ns))
            finally:
                os.close(src)
            _add(album, name, how)
        for name, fill in extras:
            _add(album, name, _write_file(temp / name, mode, fill))
        fsutil.fsync_dir(temp)
    except BaseException:
        album.discard()
        raise
    return album


def bytes_writer(data: bytes) -> Callable[[int], str]:
    """An :data:`Extra` writer for data already in memory (the collage)."""

    def write(fd: int) -> str:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        return "write"

    return write
