"""watchdog observers, one per library root. Their events are hints only; the reconcile is the truth.

inotify cannot see changes made by another machine on a network or FUSE file system, and runs out
of watches or instances on big libraries, so those roots get a PollingObserver instead (also when
``[watch] mode = "polling"``). A kernel queue overflow means events were lost: the service is told
and runs a reconcile. The service's own reads (open / close-no-write) are never subscribed to.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.polling import PollingObserver

from homeroll.daemon.ingest.roots import should_ignore
from homeroll.daemon.service.stability import StabilityTracker

log = logging.getLogger(__name__)

__all__ = ["Watchers", "fstype_for", "parse_mounts", "needs_polling"]

#: File systems where inotify misses remote changes.
NETWORK_FSTYPES = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "afs", "davfs"})

#: No open/close-no-write/access events: the indexer's own reads must not look like changes.
EVENT_FILTER = [
    FileCreatedEvent, FileModifiedEvent, FileAttribEvent, FileClosedEvent, FileMovedEvent, FileDeletedEvent,
    DirCreatedEvent, DirMovedEvent, DirDeletedEvent,
]


def _unescape_mount_field(field: str) -> str:
    # /proc/self/mounts escapes space, tab, newline and backslash as \040 \011 \012 \134.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) + 0 and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mounts(text: str) -> list[tuple[str, str]]:
    """(mount point, fs type) pairs from the text of /proc/self/mounts."""
    mounts = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            mounts.append((_unescape_mount_field(parts[1]), parts[2]))
    return mounts


def fstype_for(path: str, mounts_text: str | None = None) -> str:
    """The type of the file system holding ``path`` (the longest matching mount point wins)."""
    if mounts_text is None:
        try:
            with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
                mounts_text = fh.read()
        except OSError:
            return "unknown"
    real = os.path.realpath(path)
    best, best_type = "", "unknown"
    for point, fstype in parse_mounts(mounts_text):
        if (real == point or real.startswith(point.rstrip("/") + "/") or point == "/") and len(point) >= len(best):
            best, best_type = point, fstype
    return best_type


def needs_polling(fstype: str) -> bool:
    """Network and FUSE file systems (``fuse.sshfs``, ``fuse.rclone``…). ``fuseblk`` (ntfs-3g on a USB disk) is local."""
    return fstype in NETWORK_FSTYPES or fstype == "fuse" or fstype.startswith("fuse.")


class _RootHandler(FileSystemEventHandler):
    """Turns events under one root into stability notes (files) or subtree walks (directories).

    Temp and hidden names and ignored folders are dropped here; ``[scan] excluded_folders`` are not (a
    watcher knows no config): the indexer's classify stage passes over files in them.
    """

    def __init__(self, root: str, tracker: StabilityTracker, on_subtree: Callable[[str, str], None],
                 trusted: bool) -> None:
        self.root = root
        self.tracker = tracker
        self.on_subtree = on_subtree
        self.trusted = trusted  # inotify reports each write as it happens; polling only what it saw

    def _rel(self, path: str | bytes) -> str | None:
        path = os.fsdecode(path)
        if not path:
            return None
        rel = os.path.relpath(path, self.root)
        if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
            return None
        return rel

    def _note(self, path: str | bytes) -> None:
        rel = self._rel(path)
        if rel is not None and not should_ignore(rel):
            self.tracker.note(self.root, rel, trusted=self.trusted)

    def dispatch(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write"):
            return
        if event.is_directory:
            if kind in ("created", "deleted", "moved"):
                for path in (event.src_path, getattr(event, "dest_path", "")):
                    rel = self._rel(path)
                    if rel is not None and not should_ignore(rel):
                        self.on_subtree(self.root, rel)
            return
        self._note(event.src_path)
        if kind == "moved":
            self._note(event.dest_path)


@dataclass
class RootWatch:
    root: str
    watcher: str  # inotify | polling | none
    note: str
    observer: object | None = None
    st_ino: int | None = None


class _OverflowHook(logging.Filter):
    """watchdog rebuilds its watches after IN_Q_OVERFLOW but only logs it; we also need a reconcile."""

    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__()
        self.callback = callback

    def filter(self, record: logging.LogRecord) -> bool:
        if "overflow" in record.getMessage().lower():
            self.callback()
        return True


class Watchers:
    """Observers for all roots. Thread-safe start/stop; the service checks ``alive()`` before pinging systemd."""

    def __init__(self, tracker: StabilityTracker, *, mode: str = "auto", poll_interval: float = 10.0,
                 on_subtree: Callable[[str, str], None], on_overflow: Callable[[], None]) -> None:
        if mode not in ("auto", "inotify", "polling"):
            raise ValueError(f"watch mode must be auto, inotify or polling, not {mode!r}")
        self.tracker = tracker
        self.mode = mode
        self.poll_interval = float(poll_interval)
        self.on_subtree = on_subtree
        self._lock = threading.Lock()
        self._watches: dict[str, RootWatch] = {}
        self._hook = _OverflowHook(on_overflow)
        inotify_log = logging.getLogger("watchdog.observers.inotify_c")
        inotify_log.setLevel(logging.WARNING)  # the hook must run whatever --log-level says
        inotify_log.addFilter(self._hook)

    def _choose(self, root: str) -> tuple[str, str]:
        if self.mode == "polling":
            return "polling", "polling: set by [watch] mode"
        fstype = fstype_for(root)
        if self.mode == "auto" and needs_polling(fstype):
            return "polling", f"polling: {fstype} file system (inotify misses remote changes)"
        return "inotify", f"inotify on {fstype}"

    def _start_observer(self, root: str, kind: str):
        handler = _RootHandler(root, self.tracker, self.on_subtree, trusted=kind == "inotify")
        if kind == "polling":
            observer = PollingObserver(timeout=self.poll_interval)
        else:
            from watchdog.observers.inotify import InotifyObserver

            observer = InotifyObserver()
        observer.daemon = True
        observer.schedule(handler, root, recursive=True, event_filter=EVENT_FILTER)
        observer.start()
        return observer

    def start_root(self, root: str) -> RootWatch:
        """(Re)start the observer of one root. A missing root gets no observer, and says so."""
        self.stop_root(root)
        try:
            st = os.stat(root)
        except OSError as exc:
            watch = RootWatch(root, "none", f"not watched: {exc.strerror}")
            with self._lock:
                self._watches[root] = watch
            return watch
        kind, note = self._choose(root)
        try:
            observer = self._start_observer(root, kind)
        except OSError as exc:
            if kind != "inotify" or exc.errno not in (errno.ENOSPC, errno.EMFILE, errno.ENFILE, errno.ENOMEM):
                watch = RootWatch(root, "none", f"not watched: {exc}")
                log.warning("cannot watch %s: %s", root, exc)
                with self._lock:
                    self._watches[root] = watch
                return watch
            log.warning("inotify unavailable for %s (%s); polling every %.0f s instead. Raise "
                        "fs.inotify.max_user_watches / max_user_instances to get inotify back.",
                        root, exc.strerror or exc, self.poll_interval)
            kind, note = "polling", f"polling: inotify failed ({exc.strerror or exc})"
            observer = self._start_observer(root, kind)
        watch = RootWatch(root, kind, note, observer, st.st_ino)
        with self._lock:
            self._watches[root] = watch
        log.info("watching %s (%s)", root, note)
        return watch

    def stop_root(self, root: str) -> None:
        with self._lock:
            watch = self._watches.pop(root, None)
        if watch is not None and watch.observer is not None:
            watch.observer.stop()
            watch.observer.join(timeout=5)

    def start(self, roots: list[str]) -> dict[str, RootWatch]:
        return {root: self.start_root(root) for root in roots}

    def stop(self) -> None:
        with self._lock:
            roots = list(self._watches)
        for root in roots:
            self.stop_root(root)

    def watches(self) -> dict[str, RootWatch]:
        with self._lock:
            return dict(self._watches)

    def needs_restart(self, root: str) -> bool:
        """The root was replaced or came back (new inode, its watch stopped, or first seen): its old
        watch sees nothing.

        The inode alone does not tell: a folder deleted and made again often gets the freed inode
        back on ext4, and a disk mounted again has the same root inode. watchdog stops a watch whose
        folder was deleted or unmounted but keeps its observer thread running, so the watch's own
        emitter thread is the one to ask."""
        with self._lock:
            watch = self._watches.get(root)
        try:
            ino = os.stat(root).st_ino
        except OSError:
            return watch is not None and watch.observer is not None
        if watch is None or watch.observer is None:
            return True
        emitters = watch.observer.emitters
        return (ino != watch.st_ino or not watch.observer.is_alive()
                or not emitters or not all(e.is_alive() for e in emitters))

    def alive(self) -> bool:
        """Every observer that should run is running (a missing root has none and does not count)."""
        with self._lock:
            return all(w.observer.is_alive() for w in self._watches.values() if w.observer is not None)

    def close(self) -> None:
        self.stop()
        logging.getLogger("watchdog.observers.inotify_c").removeFilter(self._hook)
