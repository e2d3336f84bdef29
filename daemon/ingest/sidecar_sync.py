"""Writing the ``sidecars`` table: the changes the classify stage found, for the walk and the watcher alike.

``classify`` decides from the folder listings and the recorded rows which sidecars are new, changed or
gone (and so which photos must be read again); this writes those rows, in one transaction, before any
photo is read. An album folder's ``metadata.json`` is read here, in the parent: it is small, bounded,
and not any photo's.
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
    with db.atomic():  # nothing in here waits on a worker
        for change in changes:
            if isinstance(change, SidecarSeen):
                _record(db, root, change)
            else:
                _forget(db, root, change)


def _record(db: Database, root: str, change: SidecarSeen) -> None:
    entry = change.entry
    note = None
    if change.kind == "album":
        from homeroll.daemon.ingest.takeout import read_album
        from homeroll.daemon.ingest.xmp import MetadataError

        try:
            title = read_album(os.path.join(root, entry.relpath))
        except MetadataError as exc:
            note = str(exc)
        else:
            store_sidecars.set_album(db, root, os.path.dirname(entry.relpath), title, "takeout")
    store_sidecars.record(db, root, entry.relpath, change.kind, change.media, entry.size, entry.mtime_ns, note)


def _forget(db: Database, root: str, change: SidecarGone) -> None:
    store_sidecars.forget(db, root, [change.relpath])
    if change.kind == "album":
        store_sidecars.set_album(db, root, os.path.dirname(change.relpath), None, "takeout")
