"""When is a file finished? Only when two looks, a window apart, see the same size and mtime.

Phones sync by many routes. Syncthing writes ``.syncthing.NAME.tmp``, renames it into place, then
sets the mtime; rsync writes ``.NAME.XXXXXX`` then renames; rclone writes ``NAME.*.partial``;
Nextcloud ``NAME.part`` or ``.NAME.~xxxx``; SMB/NFS/WebDAV clients write the final name in place and
the file grows for a while. Temp names never become items, and a file is handed to the indexer
only when its (size, mtime) has not changed for ``stable_seconds`` and no watcher event arrived in
that time. Watcher threads only call :meth:`StabilityTracker.note`; the index worker does the stat.
"""

from __future__ import annotations

import heapq
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["StabilityTracker", "Signature", "signature"]

#: (size, mtime_ns) of a present file, or None for "not there".
Signature = tuple[int, int] | None


def signature(path: str) -> Signature:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


_UNSEEN = ("unseen",)


@dataclass
class _Pending:
    sig: object  # Signature or _UNSEEN
    sig_since: float  # when the current signature was first seen
    last_event: float  # the latest watcher hint
    due: float
    looked: float = float("-inf")  # the previous look (stat)
    trusted: bool = False  # hints come from inotify, which reports every local write


class StabilityTracker:
    """Paths waiting to settle. Thread-safe: watchers ``note``; the single worker ``take_due`` and ``settle``."""

    def __init__(self, stable_seconds: float, *, max_pending: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stable_seconds = float(stable_seconds)
        self.max_pending = max_pending
        self.clock = clock
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._heap: list[tuple[float, int, tuple[str, str]]] = []
        self._seq = 0
        self.overflowed = False
        self._wake: Callable[[], None] | None = None

    def on_wake(self, callback: Callable[[], None]) -> None:
        """Called (outside the lock) when a new path arrives, so a sleeping worker looks sooner."""
        self._wake = callback

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def _push(self, key: tuple[str, str], due: float) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, key))

    def note(self, root: str, relpath: str, trusted: bool = False) -> bool:
        """A watcher hint: something happened at this path. Returns False when the backlog is full.

        ``trusted`` hints come from inotify, which reports every write as it happens; polling hints
        arrive up to a poll interval late, so they never shorten the window (see :meth:`settle`).
        A full backlog sets ``overflowed``; the service then runs a reconcile, which is the truth anyway.
        """
        now = self.clock()
        key = (root, relpath)
        wake = False
        with self._lock:
            entry = self._pending.get(key)
            if entry is None:
                if len(self._pending) >= self.max_pending:
                    self.overflowed = True
                    return False
                entry = _Pending(_UNSEEN, now, now, now, trusted=trusted)  # look at once: first signature
                self._pending[key] = entry
                self._push(key, now)
                wake = True
            else:
                # No heap push: the pending look sees the newer event and moves itself later.
                entry.last_event = now
                entry.trusted = trusted
        if wake and self._wake is not None:
            self._wake()
        return True

    def next_due(self) -> float | None:
        with self._lock:
            while self._heap:
                due, _, key = self._heap[0]
                entry = self._pending.get(key)
                if entry is None or entry.due != due:
                    heapq.heappop(self._heap)  # stale
                    continue
                return due
            return None

    def take_due(self, limit: int = 256) -> list[tuple[str, str]]:
        """Paths whose next look is due now (they stay tracked until :meth:`settle` says they are done)."""
        now = self.clock()
        out: list[tuple[str, str]] = []
        with self._lock:
            while self._heap and len(out) < limit:
                due, _, key = self._heap[0]
                entry = self._pending.get(key)
                if entry is None or entry.due != due:
                    heapq.heappop(self._heap)
                    continue
                if due > now:
                    break
                heapq.heappop(self._heap)
                entry.due = float("inf")  # being looked at; settle() reschedules or drops it
                out.append(key)
        return out

    def settle(self, key: tuple[str, str], sig: Signature) -> bool:
        """Record a look at ``key``. True when it has been still for the whole window (then it is dropped)."""
        now = self.clock()
        with self._lock:
            entry = self._pending.get(key)
            if entry is None:
                return False
            if entry.sig is _UNSEEN or entry.sig != sig:
                if entry.trusted and entry.sig is not _UNSEEN and entry.last_event > entry.looked:
                    # inotify told us of the writes after our previous look: the file changed then,
                    # not now (a first look in the middle of a copy must not double the wait).
                    entry.sig_since = entry.last_event
                else:
                    entry.sig_since = now
                entry.sig = sig
            entry.looked = now
            quiet_since = max(entry.sig_since, entry.last_event)
            if now - quiet_since >= self.stable_seconds:
                del self._pending[key]
                return True
            entry.due = quiet_since + self.stable_seconds
            self._push(key, entry.due)
            return False

    def take_overflow(self) -> bool:
        with self._lock:
            flag, self.overflowed = self.overflowed, False
            return flag
