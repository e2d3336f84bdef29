"""Writing the ``sidecars`` table: the changes the classify stage found, for the walk and the watcher alike.

``classify`` decides from the folder listings and the recorded rows which sidecars are new, changed or
gone (and so which photos must be read again); this writes those rows, in one transaction, before any
photo is read. An album folder's ``metadata.json`` is read here, in the parent: it is small, bounded,
and not any photo's, and it is read before the transaction opens, so a stalled share never holds the
write lock.
"""

from __future__ import annotations

import os

from sqlite_utils import Database

from homeroll.daemon.ingest.classify import SidecarGone, SidecarSeen
from homeroll.daemon.store import sidecars as store_sidecars


def apply(db: Database, root: str, changes: list[SidecarSeen | SidecarGone]) -> None:
    """Record new and changed sidecars and forget gone ones (one commit for a Takeout's thousands of rows)."""
    if not changes:
        return
    albums = {change.entry.relpath: _read_album(root, change.entry.relpath) for change in changes
              if isinstance(change, SidecarSeen) and change.kind == "album"}  # the I/O, before the lock
    with db.atomic():
        for change in changes:
            if isinstance(change, SidecarSeen):
                _record(db, root, change, albums.get(change.entry.relpath))
            else:
                _forget(db, root, change)


def _read_album(root: str, relpath: str) -> tuple[str | None, str | None]:
    """(title, None), or (None, why it is unusable)."""
    from homeroll.daemon.ingest.takeout import read_album
    from homeroll.daemon.ingest.xmp import MetadataError

    try:
        return read_album(os.path.join(root, relpath)), None
    except MetadataError as exc:
        return None, str(exc)


def _record(db: Database, root: str, change: SidecarSeen, album: tuple[str | None, str | None] | None) -> None:
    entry = change.entry
    note = None
    if album is not None:
        title, note = album
        if note is None:
            store_sidecars.set_album(db, root, os.path.dirname(entry.relpath), title, "takeout")
    store_sidecars.record(db, root, entry.relpath, change.kind, change.media, entry.size, entry.mtime_ns, note)


def _forget(db: Database, root: str, change: SidecarGone) -> None:
    store_sidecars.forget(db, root, [change.relpath])
    if change.kind == "album":
        store_sidecars.set_album(db, root, os.path.dirname(change.relpath), None, "takeout")
