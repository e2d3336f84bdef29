"""Keeping the ``sidecars`` table in line with the disk, and handing each photo its sidecars.

The walk (``reconcile_root``) and the watcher (``index_files``) both pair sidecars from one folder listing
(``sidecars.pair_folder``); a sidecar whose stat or photo changed since the DB recorded it, that
appeared or that went away, names the photos whose metadata must be read again. An album folder's
``metadata.json`` is read here, in the parent: it is small, bounded, and not any photo's.
"""

from __future__ import annotations

import os

from sqlite_utils import Database

from homeroll.daemon.ingest import roots as roots_mod
from homeroll.daemon.ingest import sidecars
from homeroll.daemon.store import sidecars as store_sidecars


def pair(folder: str) -> sidecars.FolderPairing:
    """Pair one folder as it is on disk now (the watcher's view; the walk pairs from its own listing)."""
    names = [n for n in sidecars.list_folder(folder) if roots_mod.ignored_reason(n) is None]
    return sidecars.pair_folder(names)


def job(root: str, relpath: str, pairings: dict[str, sidecars.FolderPairing]):
    """(abspath, relpath, sidecars) for the worker: the sidecars as kind -> absolute path."""
    folder, name = os.path.split(relpath)
    pairing = pairings.get(folder)
    if pairing is None:
        pairing = pairings[folder] = pair(os.path.join(root, folder))
    found = pairing.sidecars_of.get(name)
    paired = {kind: os.path.join(root, folder, side) for kind, side in found.items()} if found else None
    return os.path.join(root, relpath), relpath, paired


def sync_one(db: Database, root: str, relpath: str, pairing: sidecars.FolderPairing) -> list[str]:
    """The watcher's view of one sidecar: look up its row and its file, then bring the row in line."""
    row = store_sidecars.get(db, root, relpath)
    prior = (row["size"], row["mtime_ns"], row["media_relpath"], row["kind"]) if row else None
    try:
        st = os.stat(os.path.join(root, relpath))
    except OSError:
        return _gone(db, root, relpath, prior)
    return _seen(db, root, roots_mod.FileEntry(relpath, st.st_size, st.st_mtime_ns), pairing, prior)


def _gone(db: Database, root: str, relpath: str, prior: tuple | None) -> list[str]:
    """A sidecar that went away: its photo falls back to its own metadata."""
    store_sidecars.forget(db, root, [relpath])
    if prior and prior[3] == "album":
        store_sidecars.set_album(db, root, os.path.dirname(relpath), None, "takeout")
    return [prior[2]] if prior and prior[2] else []


def _seen(db: Database, root: str, entry: roots_mod.FileEntry, pairing: sidecars.FolderPairing,
          prior: tuple | None) -> list[str]:
    """A sidecar on disk: record it if it is new or changed; returns the photos whose metadata must be re-read."""
    folder, name = os.path.split(entry.relpath)
    kind = pairing.kind_of(name) or (prior[3] if prior else "takeout")
    media = [os.path.join(folder, m) for m in pairing.media_of.get(name, [])]
    if prior and prior[:3] == (entry.size, entry.mtime_ns, media[0] if media else None):
        return []
    note = None
    if kind == "album":
        from homeroll.daemon.ingest.takeout import read_album
        from homeroll.daemon.ingest.xmp import MetadataError

        try:
            store_sidecars.set_album(db, root, folder, read_album(os.path.join(root, entry.relpath)), "takeout")
        except MetadataError as exc:
            note = str(exc)
    store_sidecars.record(db, root, entry.relpath, kind, media[0] if media else None, entry.size,
                          entry.mtime_ns, note)
    affected = [prior[2]] if prior and prior[2] else []
    return affected + media


def sync_walk(db: Database, root: str, entries: list[roots_mod.FileEntry]):
    """Pair every folder's sidecars from the walk's listing; returns (pairings, photos to re-read, sidecars)."""
    by_folder: dict[str, list[roots_mod.FileEntry]] = {}
    for entry in entries:
        if roots_mod.ignored_reason(os.path.basename(entry.relpath)) is None:
            by_folder.setdefault(os.path.dirname(entry.relpath), []).append(entry)
    known = store_sidecars.known(db, root)
    with db.atomic():  # one commit for a Takeout's thousands of rows; nothing in here waits on a worker
        return _sync_folders(db, root, by_folder, known)


def _sync_folders(db: Database, root: str, by_folder: dict[str, list[roots_mod.FileEntry]], known: dict):
    pairings: dict[str, sidecars.FolderPairing] = {}
    refresh: set[str] = set()
    sidecar_paths: set[str] = set()
    for folder, group in by_folder.items():
        pairing = pairings[folder] = sidecars.pair_folder(os.path.basename(e.relpath) for e in group)
        for entry in group:
            if pairing.kind_of(os.path.basename(entry.relpath)) is None:
                continue
            sidecar_paths.add(entry.relpath)
            refresh.update(_seen(db, root, entry, pairing, known.get(entry.relpath)))
    for relpath, prior in known.items():
        if relpath not in sidecar_paths:
            refresh.update(_gone(db, root, relpath, prior))
    return pairings, refresh, sidecar_paths
