"""Atomic file writes: a reader sees a file's old bytes or its new bytes, never half of them, even after a
crash, a power cut or SIGKILL.

Three writers need this: collages go to a share other people and programs read, thumbnails are read by
the TUI while the indexer writes them, and ``homeroll init`` rewrites the config. They share this one
implementation so that all of them fsync (a rename without an fsync can surface as an empty file after a
power cut). The store holds it because it is, like the DB, about what survives on disk.

The data goes to an unnamed temporary file (O_TMPFILE) in the target's folder, which the kernel drops if
the process dies, or, where a file system lacks O_TMPFILE (some network shares), to a dot-named temp file
that :func:`sweep_stale_temps` can remove once its process is gone (the export sweeps its folder at
every run; the data dir's thumbnails, cache and config are not swept, so a crash mid-write on such a
share leaves one small dot-named file there, never a half file under the real name). The file is fsynced, renamed over the
target (``os.replace`` is atomic within one folder) and the folder fsynced so the rename is durable too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

__all__ = ["TEMP_PREFIX", "TEMP_SUFFIX", "PreparedFile", "clone_or_copy", "exchange", "follow_shared_dir", "fsync_dir",
           "pid_alive", "replace_keeping_aside", "sweep_stale_temps", "temp_name", "unused_name", "write_atomic"]

TEMP_PREFIX = ".homeroll-"
TEMP_SUFFIX = ".tmp"
#: Permission bits for a file written without an explicit mode; the umask applies, as for open().
_UMASKED = 0o666


def follow_shared_dir(folder: Path) -> bool:
    """A data dir with the setgid bit is shared with the household's group (`homeroll setup` makes it so):
    let what this process creates be group-writable and closed to others, as the service's own files are.

    Without this, a member whose login umask is 022 who runs `homeroll backup` first makes a backups folder
    the service can no longer write, and the nightly backup fails. The service's unit sets UMask=0007
    itself; this is for the CLI and the TUI, run by each member as themselves. Returns whether it applied.
    """
    try:
        shared = bool(folder.stat().st_mode & stat.S_ISGID)
    except OSError:
        return False
    if shared:
        os.umask(0o007)  # the unit's UMask: the group reads and writes, others get nothing (as the folder says)
    return shared


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (best effort: some shares refuse it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some network file systems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)


def temp_name(folder: Path) -> Path:
    """A fresh dot-named temp path in ``folder`` that :func:`sweep_stale_temps` removes once its writer is gone
    (the pid in the name tells a dead writer's leftovers from a running write)."""
    return folder / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{TEMP_SUFFIX}"


def _write_synced(fd: int, data: bytes, mode: int | None) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    if mode is not None:
        os.fchmod(fd, mode)  # an explicit mode is exact, whatever the umask
    os.fsync(fd)


def _link_unnamed(fd: int, path: Path) -> bool:
    """Give an O_TMPFILE inode a name: via /proc/self/fd (any user), else linkat(AT_EMPTY_PATH) (needs
    CAP_DAC_READ_SEARCH on older kernels). False if neither works here."""
    try:
        os.link(f"/proc/self/fd/{fd}", path, follow_symlinks=True)
        return True
    except OSError:
        pass
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        at_fdcwd, at_empty_path = -100, 0x1000
        return libc.linkat(fd, b"", at_fdcwd, os.fsencode(path), at_empty_path) == 0
    except (OSError, AttributeError):
        return False


def _write_named_temp(folder: Path, data: bytes, mode: int | None) -> Path:
    temp = temp_name(folder)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _UMASKED if mode is None else mode)
    try:
        _write_synced(fd, data, mode)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return temp


def _stream_of(fd: int, temp: Path | None) -> BinaryIO:
    """A file object on ``fd``'s file whose ``name`` opens the same data: FFmpeg's MP4 muxer reopens its
    output by name to move the index to the front (faststart). An unnamed (O_TMPFILE) file is reached
    through /proc/self/fd; the descriptor itself stays ours to link, close or discard."""
    path = temp if temp is not None else Path(f"/proc/self/fd/{fd}")
    try:
        return open(path, "r+b")  # noqa: SIM115 - closed by commit() or discard()
    except OSError:
        return os.fdopen(fd, "w+b", closefd=False)  # no /proc: the data is the same, only unnamed


class PreparedFile:
    """Data written and fsynced in ``folder`` but not yet visible under a name.

    Preparing every file before committing any lets a caller put several files in place in a chosen
    order with nothing slow in between. Use it as a context manager: leaving the block discards
    whatever was not committed. ``mode`` None means 0666 minus the umask (like open()); ``unnamed=False``
    skips O_TMPFILE (tests use it to cover the fallback).
    """

    def __init__(self, folder: Path, data: bytes, mode: int | None = None, *, unnamed: bool = True) -> None:
        self.folder = Path(folder)
        self.data = data
        self.mode = mode
        self.fd: int | None = None
        self.temp: Path | None = None
        if unnamed and hasattr(os, "O_TMPFILE"):
            try:
                self.fd = os.open(self.folder, os.O_TMPFILE | os.O_WRONLY, _UMASKED if mode is None else mode)
            except OSError:
                self.fd = None  # not supported here: fall back to a named temp file
        if self.fd is None:
            self.temp = _write_named_temp(self.folder, data, mode)
            return
        try:
            _write_synced(self.fd, data, mode)
        except BaseException:
            self.discard()
            raise

    @classmethod
    def open_stream(cls, folder: Path, mode: int | None = None, *, unnamed: bool = True) -> PreparedFile:
        """An empty prepared file to write into through ``.stream`` (writable, readable, seekable: an MP4
        muxer seeks back to its header), for data too large to hold in memory. ``commit`` flushes and
        fsyncs it first; until then it has no name (or only a dot temp name), so a render that fails or is
        killed leaves nothing under a real name."""
        self = cls.__new__(cls)
        self.folder, self.data, self.mode, self.fd, self.temp = Path(folder), None, mode, None, None
        if unnamed and hasattr(os, "O_TMPFILE"):
            try:
                self.fd = os.open(self.folder, os.O_TMPFILE | os.O_RDWR, _UMASKED if mode is None else mode)
            except OSError:
                self.fd = None
        if self.fd is None:
            self.temp = temp_name(self.folder)
            self.fd = os.open(self.temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, _UMASKED if mode is None else mode)
        self.stream = _stream_of(self.fd, self.temp)
        return self

    def _finish_stream(self) -> None:
        """Flush and fsync a streamed file; a named temp's descriptor is no longer needed after that."""
        stream, self.stream = getattr(self, "stream", None), None
        if stream is None or self.fd is None:
            return
        stream.flush()
        stream.close()
        _write_synced(self.fd, b"", self.mode)
        if self.temp is not None:  # a named temp: the rename below needs only its name
            os.close(self.fd)
            self.fd = None

    def copy_into(self, dst_fd: int) -> str:
        """Copy a streamed file's data, before it is committed, into the empty ``dst_fd`` (a second copy
        of it elsewhere, e.g. in an album folder). Returns how (see :func:`clone_or_copy`)."""
        assert self.fd is not None and getattr(self, "stream", None) is not None, "copy_into() needs an open stream"
        self.stream.flush()
        os.lseek(self.fd, 0, os.SEEK_SET)
        return clone_or_copy(self.fd, dst_fd)

    def __enter__(self) -> PreparedFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.discard()

    def commit(self, target: Path) -> None:
        """Put the data in place as ``target`` (replacing it) in one step. The caller fsyncs the folder."""
        self._finish_stream()
        if self.fd is not None:
            # give the unnamed inode a (dot) name, then rename it over the target in one step
            name = temp_name(self.folder)
            if _link_unnamed(self.fd, name):
                self.temp = name
            elif self.data is None:  # a stream this file system cannot name: copy it to a named temp
                self.temp = name
                with open(name, "xb") as out:
                    os.lseek(self.fd, 0, os.SEEK_SET)
                    clone_or_copy(self.fd, out.fileno())
                    if self.mode is not None:
                        os.fchmod(out.fileno(), self.mode)
                    os.fsync(out.fileno())
            os.close(self.fd)
            self.fd = None
            if self.temp is None:  # this file system cannot name an O_TMPFILE: write it the classic way
                self.temp = _write_named_temp(self.folder, self.data or b"", self.mode)
        assert self.temp is not None, "commit() after the data was committed or discarded"
        os.replace(self.temp, target)
        self.temp = None

    def discard(self) -> None:
        """Drop the data if it was not committed (safe to call more than once)."""
        stream, self.stream = getattr(self, "stream", None), None
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass  # a full disk fails the flush: the data is dropped anyway
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.temp is not None:
            try:
                self.temp.unlink()
            except OSError:
                pass
            self.temp = None


def write_atomic(target: Path, data: bytes, mode: int | None = None, *, unnamed: bool = True) -> None:
    """Replace ``target`` with ``data`` atomically and durably (see :class:`PreparedFile` for the mode)."""
    target = Path(target)
    with PreparedFile(target.parent, data, mode, unnamed=unnamed) as prepared:
        prepared.commit(target)
    fsync_dir(target.parent)


def pid_alive(pid: int) -> bool:
    """Does process ``pid`` exist (run by any user)? A dead writer's temp files, a dead service's pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale_temps(folder: Path, companions: tuple[str, ...] = (), *, dirs: bool = False) -> int:
    """Remove the named temp files a killed writer left in ``folder`` (their process is gone), and the files
    named ``temp + companion`` (the journal SQLite kept beside a temp DB) once their temp file is gone.
    With ``dirs``, temp folders too (an album folder being built or set aside), never through a symlink."""
    removed = 0
    try:
        every = os.listdir(folder)
    except OSError:
        return 0
    names = [n for n in every if n.startswith(TEMP_PREFIX) and n.endswith(TEMP_SUFFIX)]
    left = [n for n in every for suffix in companions if n.startswith(TEMP_PREFIX) and
            n.endswith(TEMP_SUFFIX + suffix)]
    for name in names:
        try:
            pid = int(name[len(TEMP_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid() or pid_alive(pid):
            continue  # that write is still running
        path = Path(folder) / name
        try:
            if dirs and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
        except OSError:
            pass
    for name in left:
        if not (Path(folder) / name[: name.rindex(TEMP_SUFFIX) + len(TEMP_SUFFIX)]).exists():
            (Path(folder) / name).unlink(missing_ok=True)
    return removed


def replace_keeping_aside(path: Path, aside: Path, commit: Callable[[], None], companions: tuple[str, ...] = ()) -> None:
    """The file at ``path`` takes the name ``aside`` and ``commit`` renames a new one over ``path``, so that
    at every instant one of the two is at ``path``: a crash leaves the old file or the new one, never none.

    The old file gets its second name as a hard link first, then the new one replaces it in one rename; a
    file system without hard links (FAT on a USB drive) gets two renames with nothing in between. The files
    named ``path + companion`` (a DB's ``-wal``) go with the old file, so none is ever applied to the new one.
    """
    try:
        os.link(path, aside)
        linked = True
    except OSError:
        linked = False
    for suffix in companions:
        if os.path.exists(f"{path}{suffix}"):
            os.rename(f"{path}{suffix}", f"{aside}{suffix}")
    if not linked:
        os.rename(path, aside)
    commit()


def unused_name(path: Path) -> Path:
    """``path``, or ``path-1``, ``path-2``…, the first that does not exist (a rename would replace it)."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def exchange(a: Path, b: Path) -> bool:
    """Swap the names of ``a`` and ``b`` in one step (Linux renameat2 RENAME_EXCHANGE), so that at every
    instant each name holds one of the two. False where the kernel, libc or file system lacks it (older
    kernels, some network shares): the caller falls back to two renames."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        at_fdcwd, rename_exchange = -100, 2
        return libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
    except (OSError, AttributeError):
        return False


#: ioctl FICLONE: share the extents copy-on-write (btrfs, XFS, bcachefs); the copy costs no space or time.
_FICLONE = 0x40049409


def clone_or_copy(src_fd: int, dst_fd: int) -> str:
    """Fill the empty ``dst_fd`` with ``src_fd``'s data (from its current offset): a reflink where the file
    system shares extents, else ``os.copy_file_range`` (in-kernel, and a server-side copy on NFS 4.2), else a
    plain copy. Never a hard link: each copy is its own inode, so an edit on one side leaves the other alone.
    Returns how: "reflink", "copy_file_range" or "copy"."""
    if os.lseek(src_fd, 0, os.SEEK_CUR) == 0:
        try:
            import fcntl

            fcntl.ioctl(dst_fd, _FICLONE, src_fd)
            return "reflink"
        except OSError:
            pass
    try:
        while os.copy_file_range(src_fd, dst_fd, 1 << 30):
            pass
        return "copy_file_range"
    except OSError:
        pass  # EXDEV, EINVAL, ENOSYS: other file systems or an older kernel; nothing was written yet
    with os.fdopen(src_fd, "rb", closefd=False) as src, os.fdopen(dst_fd, "wb", closefd=False) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return "copy"
