"""Album title hints: when the household already named an event, a memory of it uses that name.

A folder has a title when it is a Google Takeout album with its own ``metadata.json`` title (the
``albums`` table) or when its name is a date followed by words ("2019 Lisbon" -> "Lisbon",
``ingest.folderdate.album_title``). Folders that only say where files live (DCIM, Camera, "Photos from
2019", any undated name) never give a title: "Camera, Aug 2019" would be worse than the place names.
A photo sits in the nearest titled folder above it, so "2019 Lisbon/Day 2" still counts for "Lisbon".

When more than half of a memory's picks sit in one titled folder, and that folder's own date (if it
has one) agrees with the memory's dates, the title becomes the album's name plus the usual dates and
the explanation says so. On-this-day and people memories keep their titles: they gather many events,
so one album cannot name them. Birthdays keep theirs too: "Anna's 7th birthday" says whose and which,
and a folder such as "2023 Family" would only make it vaguer. A title the user typed (``user_title``)
is a separate column and wins.
"""

from __future__ import annotations

import calendar
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from homeroll.daemon.ingest import folderdate
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.titles import day_span, month_span

#: The kinds of memory that are one event, so an album may name them.
TITLED_KINDS = frozenset({"trip", "day_out", "gathering", "holiday"})

#: Google Photos names albums nobody titled "Untitled", "Untitled(1)", ...
_UNTITLED = re.compile(r"^untitled\b", re.I)


@dataclass(frozen=True)
class Album:
    root: str
    folder: str                            # relpath of the folder under its root ("" = the root itself)
    title: str                             # the name to use in a memory's title
    takeout: bool                          # the title is a Takeout album's own; else it is the folder's name
    period: folderdate.FolderDate | None   # the date the name gives, if any

    @property
    def name(self) -> str:
        """The folder's name as the user sees it on disk."""
        return os.path.basename(self.folder) or self.folder

    def covers(self, start: date, end: date) -> bool:
        """Does the album's own date (if it names one) overlap a memory from start to end?"""
        if self.period is None:
            return True
        first = self.period.local.date()
        if self.period.precision == "year":
            last = date(first.year, 12, 31)
        elif self.period.precision == "month":
            last = date(first.year, first.month, calendar.monthrange(first.year, first.month)[1])
        else:
            last = first
        return first <= end and start <= last

    def explain(self) -> str:
        return f"the album '{self.title}'" if self.takeout else f"the folder '{self.name}'"


def _takeout_title(title: str) -> tuple[str | None, folderdate.FolderDate | None]:
    """A Takeout album title as a memory name: 'Lisbon 2019' -> 'Lisbon'; 'Photos from 2019' -> None."""
    period, _ = folderdate.parse_folder(title)
    if period is not None:
        return folderdate.album_title(title), period
    if _UNTITLED.match(title):
        return None, None
    return title, None


class AlbumNamer:
    """Finds the titled folder of photos from their paths, caching one answer per folder."""

    def __init__(self, albums: dict[tuple[str, str], str]) -> None:
        self.albums = albums
        self._cache: dict[tuple[str, str], Album | None] = {}

    def folder_album(self, root: str, folder: str) -> Album | None:
        """The nearest titled folder at or above ``folder`` (a folder's relpath under ``root``)."""
        key = (root, folder)
        if key in self._cache:
            return self._cache[key]
        found: Album | None = None
        own = self.albums.get(key)
        if own:
            title, period = _takeout_title(own)
            if title:
                found = Album(root, folder, title, True, period)
        if found is None and folder:
            name = os.path.basename(folder)
            title = folderdate.album_title(name)
            if title:
                found = Album(root, folder, title, False, folderdate.parse_folder(name)[0])
            else:
                found = self.folder_album(root, os.path.dirname(folder))
        self._cache[key] = found
        return found

    def albums_of(self, paths: Sequence[tuple[str, str]]) -> set[Album]:
        """Every titled folder an item sits in: one per copy (a photo copied into an album counts there)."""
        found = set()
        for root, rel in paths:
            album = self.folder_album(root, os.path.dirname(rel))
            if album is not None:
                found.add(album)
        return found

    def hint(self, paths: dict[int, list[tuple[str, str]]], picks: Sequence[int], start: date,
             end: date) -> tuple[Album, int] | None:
        """(the album holding more than half of the picks, how many it holds), or None."""
        if not picks:
            return None
        counts: Counter[Album] = Counter()
        for item_id in picks:
            counts.update(self.albums_of(paths.get(item_id, ())))
        for album, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].root, kv[0].folder)):
            if n * 2 <= len(picks):
                break
            if album.covers(start, end):
                return album, n
        return None


def titled(candidate: Candidate, album: Album, n: int, picks: int) -> tuple[str, str]:
    """(title, reason) of a candidate named after an album: 'Lisbon, Aug 2019', with the why appended."""
    if candidate.kind == "trip":
        when = month_span(candidate.start, candidate.end)
    else:
        when = day_span(candidate.start, candidate.start)
    reason = f"{candidate.reason}; titled after {album.explain()} ({n} of {picks} picked photos)"
    return f"{album.title}, {when}", reason
