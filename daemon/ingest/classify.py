"""One verdict per file, whichever way it arrives: the stage both the reconcile walk and the watcher run.

The walk (``Indexer.reconcile_root``) and the watcher's settled files (``Indexer.index_files``) used to
be sorted by two loops that drifted apart: the watcher's loop recorded no temp names, read again files
that had been skipped with the same size and mtime, and sent unsupported types to a worker. Now both
hand their files to :func:`classify` and only act on what it says, in the manner of a beets importer
stage, so a file gets the same verdict whichever way it comes.

The stage decides from what it is given and writes nothing: the files with their stat, one listing per
folder (:class:`FolderListing`: the sidecars and a Live Photo's partner are paired from the same names,
so no folder is listed twice), and what the DB knows (:class:`Known`). It looks at the disk only to stat
a file it pulls in (a photo whose sidecar changed, a Live Photo's photo that its video arrived before),
and only when that file's folder listing has it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from sqlite_utils import Database

from homeroll.daemon.ingest import roots
from homeroll.daemon.ingest import sidecars as sidecars_mod
from homeroll.daemon.ingest.metadata import IMAGE_EXTENSIONS
from homeroll.daemon.ingest.roots import FileEntry
from homeroll.daemon.ingest.video import VIDEO_EXTENSIONS
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import sidecars as store_sidecars

__all__ = ["Deferred", "FolderListing", "Ignored", "Known", "Photo", "Plan", "Sidecar", "SidecarGone",
           "SidecarSeen", "Skip", "SkippedBefore", "Unchanged", "Vanished", "Verdict", "Video", "classify",
           "list_folders", "listings_of_walk", "stat_files"]

#: A Live Photo is a video beside a still of the same stem in one of these formats.
LIVE_PHOTO_STILLS = (".heic", ".heif", ".jpg", ".jpeg")

PathRow = tuple[int, int, bool]                       # size, mtime_ns, missing
SkipRow = tuple[int | None, int | None, str]          # size, mtime_ns, reason
SidecarRow = tuple[int | None, int | None, str | None, str]  # size, mtime_ns, media relpath, kind


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


# --- what the stage is given ---------------------------------------------------------------------
@dataclass(frozen=True)
class FolderListing:
    """One look at one folder: its candidate names (temp and hidden names left out), paired once."""

    folder: str
    names: frozenset[str]
    pairing: sidecars_mod.FolderPairing
    live_stills: dict[str, str]  # stem -> the first still of that stem, in listing order

    @classmethod
    def of(cls, folder: str, names: Iterable[str]) -> FolderListing:
        kept = [n for n in names if roots.ignored_reason(n) is None]
        stills: dict[str, str] = {}
        for name in kept:
            stem, ext = os.path.splitext(name)
            if ext.lower() in LIVE_PHOTO_STILLS:
                stills.setdefault(stem, name)
        return cls(folder, frozenset(kept), sidecars_mod.pair_folder(kept), stills)

    def live_partner(self, video_name: str) -> str | None:
        """The relpath of the still that makes this video one Live Photo with it, if the folder has one."""
        still = self.live_stills.get(os.path.splitext(video_name)[0])
        return _join(self.folder, still) if still else None


def listings_of_walk(entries: Iterable[FileEntry]) -> dict[str, FolderListing]:
    """The walk's own listings, folder by folder: it has looked at every folder once already."""
    names: dict[str, list[str]] = {}
    for entry in entries:
        folder, name = os.path.split(entry.relpath)
        names.setdefault(folder, []).append(name)
    return {folder: FolderListing.of(folder, group) for folder, group in names.items()}


def list_folders(root: str, folders: Iterable[str]) -> dict[str, FolderListing]:
    """One listing of each folder the watcher's files are in."""
    return {folder: FolderListing.of(folder, sidecars_mod.list_folder(os.path.join(root, folder)))
            for folder in folders}


def _stat(root: str, relpath: str) -> FileEntry | None:
    """A regular file's stat, as the walk sees it: a symlink or a folder is not a file here either."""
    try:
        st = os.lstat(os.path.join(root, relpath))
    except OSError:
        return None
    return FileEntry(relpath, st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def stat_files(root: str, relpaths: Iterable[str]) -> dict[str, FileEntry | None]:
    """The watcher's files with their stat now (None: not there any more)."""
    return {relpath: _stat(root, relpath) for relpath in relpaths}


@dataclass(frozen=True)
class Known:
    """What the DB recorded, as look-ups (the walk passes whole-root dicts, the watcher asks per path).

    ``sidecars`` holds every sidecar row in scope, the whole root for the walk and the given files for the
    watcher: a row there whose file is no sidecar in its listing now has gone away.
    """

    path: Callable[[str], PathRow | None]
    skip: Callable[[str], SkipRow | None]
    sidecars: dict[str, SidecarRow]

    @classmethod
    def of_files(cls, db: Database, root: str, relpaths: Iterable[str]) -> Known:
        """The watcher's look-ups: a query per path asked, and the sidecar rows of the files given."""

        def path(relpath: str) -> PathRow | None:
            row = store_items.get_path(db, root, relpath)
            return None if row is None else (row["size"], row["mtime_ns"], row["missing_since"] is not None)

        rows = {relpath: store_sidecars.get(db, root, relpath) for relpath in relpaths}
        return cls(path, lambda relpath: store_items.get_skipped(db, root, relpath),
                   {rel: (r["size"], r["mtime_ns"], r["media_relpath"], r["kind"]) for rel, r in rows.items() if r})


# --- what it says ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _AtPath:
    relpath: str
    outcome: ClassVar[str]


class Ignored(_AtPath):
    """Inside an ignored or excluded folder: passed over, nothing recorded (the walk never enters one)."""

    outcome = "ignored"


class Vanished(_AtPath):
    """Gone before it could be looked at (a watcher's file; the walk only sees what is there)."""

    outcome = "skipped:vanished"


class Sidecar(_AtPath):
    """A sidecar, or a sidecar's row whose file went away: part of its photo, never an item or a skip."""

    outcome = "sidecar"


class Deferred(_AtPath):
    """Modified within the stability window: the reconcile hands it to the watcher's tracker."""

    outcome = "deferred"


@dataclass(frozen=True)
class SkippedBefore(_AtPath):
    """Skipped before with the same size and mtime: it would only be skipped again."""

    reason: str
    outcome = "unchanged"


@dataclass(frozen=True)
class Unchanged(_AtPath):
    """Indexed with the same size and mtime: one stat was all it cost."""

    revive: bool  # it was marked missing and is back
    outcome = "unchanged"


@dataclass(frozen=True)
class Skip:
    """Never an item, with a reason: a temp or hidden name, or a type nothing here reads."""

    entry: FileEntry
    reason: str
    record: bool  # False when the DB has this reason for it already

    @property
    def outcome(self) -> str:
        return f"skipped:{self.reason}"


@dataclass(frozen=True)
class _Read:
    """A file for a worker, with the sidecars paired with it (kind -> absolute path)."""

    relpath: str
    path: str
    sidecars: dict[str, str] | None
    refresh: bool  # a sidecar changed: its new reading replaces the old one

    @property
    def job(self) -> tuple[str, str, dict[str, str] | None]:
        return self.path, self.relpath, self.sidecars


class Photo(_Read):
    """A still to analyse."""


@dataclass(frozen=True)
class Video(_Read):
    """A video: attached to its Live Photo's still when that is indexed, else analysed on its own."""

    partner: str | None  # the still of the same stem beside it


Verdict = Ignored | Vanished | Sidecar | Skip | SkippedBefore | Unchanged | Deferred | Photo | Video


@dataclass(frozen=True)
class SidecarSeen:
    """A sidecar that is new, or whose stat or photo changed since the DB recorded it."""

    entry: FileEntry
    kind: str
    media: str | None


@dataclass(frozen=True)
class SidecarGone:
    """A recorded sidecar that is no sidecar in its listing now (deleted, or its photo went)."""

    relpath: str
    kind: str


@dataclass
class Plan:
    """The verdicts, in the order files were given (pulled-in files last), and the sidecar rows to write."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    sidecar_changes: list[SidecarSeen | SidecarGone] = field(default_factory=list)

    def photos(self) -> list[Photo]:
        return [v for v in self.verdicts.values() if isinstance(v, Photo)]

    def videos(self) -> list[Video]:
        return [v for v in self.verdicts.values() if isinstance(v, Video)]


# --- the stage -------------------------------------------------------------------------------------
def classify(root: str, files: dict[str, FileEntry | None], listings: dict[str, FolderListing], known: Known,
             *, excluded: frozenset[str] = frozenset(), young_after: int | None = None) -> Plan:
    """Decide for each file (relpath -> its stat, None when absent) what the indexer does with it.

    ``listings`` must hold the folder of every file given. ``young_after`` (ns since the epoch; the
    reconcile only): a file modified later is deferred. Photos whose sidecar changed are read again,
    and pulled in when they were not given; so is the still of a Live Photo whose video came alone.
    """
    stage = _Stage(root, listings, known, excluded, young_after)
    plan = Plan(sidecar_changes=stage.changes)
    stage.find_sidecars(files)
    for relpath, entry in files.items():
        plan.verdicts[relpath] = stage.verdict(relpath, entry)
    for relpath in sorted(stage.refresh - plan.verdicts.keys()):
        stage.pull_in(relpath, plan)
    for video in plan.videos():
        if video.partner and video.partner not in plan.verdicts and known.path(video.partner) is None:
            stage.pull_in(video.partner, plan)
    return plan


@dataclass
class _Stage:
    root: str
    listings: dict[str, FolderListing]
    known: Known
    excluded: frozenset[str]
    young_after: int | None
    refresh: set[str] = field(default_factory=set)  # photos to read again: a sidecar of theirs changed
    changes: list[SidecarSeen | SidecarGone] = field(default_factory=list)  # sidecar rows to write
    given_sidecars: set[str] = field(default_factory=set)  # the files given that are sidecars

    def find_sidecars(self, files: dict[str, FileEntry | None]) -> None:
        """The sidecars among the files; what changed about them goes to ``changes`` and ``refresh``."""
        for relpath, entry in files.items():
            folder, name = os.path.split(relpath)
            if entry is None or roots.in_ignored_dir(relpath, self.excluded):
                continue
            kind = self.listings[folder].pairing.kind_of(name)
            if kind is not None:
                self.given_sidecars.add(relpath)
                self._seen(entry, kind)
        for relpath, (_, _, media, kind) in self.known.sidecars.items():
            if relpath not in self.given_sidecars:
                self.changes.append(SidecarGone(relpath, kind))
                self.refresh.update([media] if media else [])  # its photo falls back to its own metadata

    def _seen(self, entry: FileEntry, kind: str) -> None:
        folder, name = os.path.split(entry.relpath)
        media = [_join(folder, m) for m in self.listings[folder].pairing.media_of.get(name, [])]
        prior = self.known.sidecars.get(entry.relpath)
        if prior and prior[:3] == (entry.size, entry.mtime_ns, media[0] if media else None):
            return
        self.changes.append(SidecarSeen(entry, kind, media[0] if media else None))
        self.refresh.update(([prior[2]] if prior and prior[2] else []) + media)

    def verdict(self, relpath: str, entry: FileEntry | None) -> Verdict:
        if roots.in_ignored_dir(relpath, self.excluded):
            return Ignored(relpath)
        if relpath in self.given_sidecars:
            return Sidecar(relpath)
        if entry is None:
            return Sidecar(relpath) if relpath in self.known.sidecars else Vanished(relpath)
        reason = roots.ignored_reason(os.path.basename(relpath))
        if reason:
            prior = self.known.skip(relpath)
            return Skip(entry, reason, record=not prior or prior[2] != reason)
        stale = relpath in self.refresh
        settled = None if stale else self._settled(entry)
        if settled is not None:
            return settled
        if self.young_after is not None and entry.mtime_ns > self.young_after:
            return Deferred(relpath)
        return self._by_type(entry, stale)

    def _settled(self, entry: FileEntry) -> Unchanged | SkippedBefore | None:
        """Nothing to do when the DB saw this very size and mtime, as an item or as a skip."""
        prior = self.known.path(entry.relpath)
        if prior and prior[:2] == (entry.size, entry.mtime_ns):
            return Unchanged(entry.relpath, revive=prior[2])
        skipped = self.known.skip(entry.relpath)
        if skipped and skipped[:2] == (entry.size, entry.mtime_ns):
            return SkippedBefore(entry.relpath, skipped[2])
        return None

    def _by_type(self, entry: FileEntry, stale: bool) -> Verdict:
        folder, name = os.path.split(entry.relpath)
        ext = os.path.splitext(name)[1].lower()
        if ext not in VIDEO_EXTENSIONS and ext not in IMAGE_EXTENSIONS:
            return Skip(entry, f"unsupported file type ({ext or 'no extension'})", record=True)
        listing = self.listings[folder]
        found = listing.pairing.sidecars_of.get(name)
        paired = {kind: os.path.join(self.root, folder, side) for kind, side in found.items()} if found else None
        for kind, side in (found or {}).items():
            self._read_with(_join(folder, side), kind, entry.relpath)
        path = os.path.join(self.root, entry.relpath)
        if ext in VIDEO_EXTENSIONS:
            return Video(entry.relpath, path, paired, stale, listing.live_partner(name))
        return Photo(entry.relpath, path, paired, stale)

    def _read_with(self, sidecar: str, kind: str, media: str) -> None:
        """A photo is read with a sidecar the watcher has not handed over yet (it is still settling):
        record it now, so that deleting it before it settles still re-reads the photo without it."""
        if sidecar in self.given_sidecars or sidecar in self.known.sidecars:
            return
        entry = _stat(self.root, sidecar)
        if entry is not None:
            self.changes.append(SidecarSeen(entry, kind, media))

    def pull_in(self, relpath: str, plan: Plan) -> None:
        """A file that was not given: only when its folder's listing has it, and only to be read."""
        folder, name = os.path.split(relpath)
        listing = self.listings.get(folder)
        entry = _stat(self.root, relpath) if listing and name in listing.names else None
        if entry is None:
            return
        verdict = self.verdict(relpath, entry)
        if isinstance(verdict, (Photo, Video)):
            plan.verdicts[relpath] = verdict
