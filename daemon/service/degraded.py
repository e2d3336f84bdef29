"""The index worker's "data dir full" state: what waits, when to try again, and a little room to say so.

A full SD card must not stop the service (systemd would restart it into the same wall, again and
again), and must not lose the file that failed. So the worker stops writing, holds the files and
commands that failed, and tries again with backoff (5 s, doubling to 5 min) or at once when the free
space grows (someone deleted something). Blind retries every second would fill the log and wake an
idle Pi for nothing; waiting five minutes after the household freed space would look broken.

The state has to reach ``homeroll status``, which reads the DB; but on a full disk the DB cannot grow
(the idle checkpoint truncates the WAL). The service therefore keeps a small reserve file in the data
dir and deletes it the moment the disk is found full: that is the room the ``service.state`` and
``service.degraded_reason`` rows need. Trying again starts by putting the reserve back, so the retry
is also the test that space is really there. Without a reserve (it could not be made) the state lives
only in memory, the systemd STATUS= line and the log.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from homeroll.daemon.service import diskfull
from homeroll.daemon.store import items as store_items

log = logging.getLogger(__name__)

__all__ = ["FIRST_RETRY_SECONDS", "MAX_RETRY_SECONDS", "RESERVE_BYTES", "ROOM_BYTES", "DataDirFull",
           "forget_full_skips", "rollback", "skip_if_not_the_data_dir", "try_again"]

FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 300.0
#: The room given back to record the state; a few DB pages need far less.
RESERVE_BYTES = 256 * 1024
#: Free space grown by this much since the last failure: try at once instead of waiting for the backoff.
FREED_BYTES = 2 * RESERVE_BYTES
#: Free bytes in the data dir above which a "no space left" is not the data dir's.
ROOM_BYTES = 64 * RESERVE_BYTES
#: A failure this soon after resuming continues the backoff instead of starting it again at 5 s.
CALM_SECONDS = 600.0


class DataDirFull:
    """Backoff, the reserve file, and what waits for space. Used only by the index worker's thread."""

    def __init__(self, data_dir: Path | str, clock: Callable[[], float] = time.monotonic,
                 free: Callable[[Path], int] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.reserve = self.data_dir / "service.reserve"
        self.clock = clock
        self._free = free or (lambda path: diskfull.free_bytes(path)[0])
        self.active = False
        self.reason: str | None = None
        self.since: float | None = None
        self.delay = 0.0
        self.next_try = 0.0
        self.recorded = False
        self.held_files: dict[str, set[str]] = {}
        self.held_commands: list = []
        self._free_at_failure = 0
        self._resumed_at = float("-inf")

    # --- the reserve -----------------------------------------------------------------------------
    def make_reserve(self) -> bool:
        """Write the reserve file (fsynced, so the blocks are really taken). False: no room for it."""
        if self.reserve.exists() and self.reserve.stat().st_size >= RESERVE_BYTES:
            return True
        try:
            fd = os.open(self.reserve, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o660)  # the umask decides, as for every file in the data dir
            try:
                if os.write(fd, b"\0" * RESERVE_BYTES) < RESERVE_BYTES:  # zeros: a hole reserves nothing
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self._drop_reserve()
            if not diskfull.is_disk_full(exc):
                log.warning("cannot write %s: %s", self.reserve, exc)
            return False
        return True

    def _drop_reserve(self) -> bool:
        try:
            self.reserve.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("cannot remove %s: %s", self.reserve, exc)
            return False
        return True

    def _tightest(self) -> tuple[Path, int]:
        """The fuller of the data dir and its thumbnail folder (which may be a mount of its own), and its
        free bytes."""
        found = []
        for path in (self.data_dir, self.data_dir / "thumbs"):
            try:
                found.append((self._free(path), str(path)))
            except OSError:
                continue
        if not found:
            return self.data_dir, 0
        free, path = min(found)
        return Path(path), free

    def _free_now(self) -> int:
        return self._tightest()[1]

    def has_room(self) -> bool:
        """Is there plainly room in the data dir? Then an ENOSPC came from elsewhere (a file's own file
        system, a decoder) and is that file's problem, not a reason to stop indexing."""
        return self._free_now() >= ROOM_BYTES

    # --- failing and trying again ----------------------------------------------------------------
    def fail(self, exc: BaseException | str | None, files: dict[str, list[str]] | None = None,
             command=None) -> None:
        """The disk is full (again): hold what failed and wait before the next try."""
        now = self.clock()
        self.hold(files or {})
        if command is not None and command not in self.held_commands:
            self.held_commands.append(command)
        if self.active:
            self.delay = min(self.delay * 2, MAX_RETRY_SECONDS)
        elif now - self._resumed_at < CALM_SECONDS and self.delay:
            self.delay = min(self.delay * 2, MAX_RETRY_SECONDS)
        else:
            self.delay = FIRST_RETRY_SECONDS
        self.reason = diskfull.full_reason(self.data_dir, self._tightest()[0])  # before the reserve goes
        released = self._drop_reserve()
        if not self.active:
            self.since = now
            log.error("%s (%s); the service carries on degraded, what was indexed is kept, %s wait%s for "
                      "room%s", self.reason, exc, _files(self.waiting()), "s" if self.waiting() == 1 else "",
                      f" (released the {diskfull.human(RESERVE_BYTES)} reserve to record this)" if released else "")
        else:
            log.info("data dir still full (%s); next try in %.0f s", diskfull.describe(self._tightest()[0]),
                     self.delay)
        self.active = True
        self.recorded = False
        self.next_try = now + self.delay
        self._free_at_failure = self._free_now()

    def hold(self, files: dict[str, list[str]]) -> None:
        """More files to index once there is room (no new failure: the backoff is not doubled)."""
        for root, relpaths in files.items():
            self.held_files.setdefault(root, set()).update(relpaths)

    def waiting(self) -> int:
        return sum(len(v) for v in self.held_files.values())

    def due(self) -> bool:
        """Time for the next try: the backoff ran out, or space was freed since the last failure."""
        if not self.active:
            return False
        return self.clock() >= self.next_try or self._free_now() >= self._free_at_failure + FREED_BYTES

    def begin_try(self) -> bool:
        """Put the reserve back; False (and the next wait scheduled) if there is still no room for it."""
        if self.make_reserve():
            return True
        self.fail("no room for the reserve")
        return False

    def resume(self) -> tuple[dict[str, set[str]], list, float]:
        """Space is back: (held files, held commands, seconds degraded), and the state is cleared."""
        files, commands = self.held_files, self.held_commands
        seconds = self.clock() - (self.clock() if self.since is None else self.since)
        self.held_files, self.held_commands = {}, []
        self.active, self.reason, self.since, self.recorded = False, None, None, False
        self._resumed_at = self.clock()
        log.info("data dir has room again (%s): resumed after %.1f s degraded", diskfull.describe(self.data_dir),
                 seconds)
        return files, commands, seconds

    def status_line(self) -> str:
        waiting = self.waiting()
        return f"degraded (data dir full): {self.reason}" + (f"; {_files(waiting)} waiting" if waiting else "")

    # --- what status reads -------------------------------------------------------------------------
    def record(self, db) -> None:
        """Write the state rows (``degraded`` with its reason, or ``running``); on a full disk too, thanks
        to the reserve. A failure leaves ``recorded`` False, and the next try writes them again."""
        if self.recorded:
            return
        state, reason = ("degraded", self.reason or "") if self.active else ("running", "")
        try:
            with db.atomic():
                store_items.kv_set(db, "service.state", state)
                store_items.kv_set(db, "service.degraded_reason", reason)
        except Exception as exc:  # noqa: BLE001 - the state stays in memory and in STATUS=
            rollback(db)
            if not diskfull.is_disk_full(exc):
                raise
            log.warning("cannot record service.state = %s in the DB (%s); it is in the systemd status only",
                        state, exc)
            return
        self.recorded = True


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def rollback(db) -> None:
    """A failed write on a full disk can leave the connection inside a transaction: end it."""
    try:
        db.rollback()
    except Exception:  # noqa: BLE001 - nothing more to undo
        log.debug("rollback failed", exc_info=True)


def skip_if_not_the_data_dir(full: DataDirFull, db, exc: BaseException, files: dict[str, list[str]]) -> bool:
    """A "no space left" while the data dir plainly has room came from the files' side (their own file
    system, a decoder): record it as their skip reason and return True; False: the data dir is full."""
    if not full.has_room():
        return False
    for root, relpaths in files.items():
        log.warning("%s: %d files failed with %s although the data dir has room; skipped", root, len(relpaths), exc)
        for relpath in relpaths:
            store_items.record_skipped(db, root, relpath, f"no space left writing it ({exc})", None, None)
    return True


def forget_full_skips(db, roots: Iterable[str]) -> int:
    """Drop skip rows whose reason is a full disk, so their files are read again; returns how many.

    Versions before 2026-12 recorded a thumbnail's ENOSPC as the photo's skip reason; now the analyse
    worker reports it as ``disk_full`` and the file is held instead. Run once at start.
    """
    forgotten = 0
    for root in roots:
        stuck = [rel for rel, (_, _, why) in store_items.known_skipped(db, root).items()
                 if diskfull.is_disk_full_reason(why)]
        if stuck:
            store_items.forget_skipped(db, root, stuck)
            forgotten += len(stuck)
    return forgotten


def try_again(full: DataDirFull, index: Callable[[str, list[str]], bool]) -> list | None:
    """Index the held files again; the held commands to queue again once all went in, None while the
    disk is still full. ``index`` returns False after holding what failed (through the worker's _full)."""
    pending = sorted(full.held_files.items())
    full.held_files = {}
    for n, (root, relpaths) in enumerate(pending):
        if not index(root, sorted(relpaths)):
            full.hold(dict(pending[n + 1:]))
            return None
    return full.resume()[1]
