"""Period memories: a folder of photos dated only to a year or a month, such as scanned prints.

A scan in "1998 Summer holiday" has no day, so no day-based rule may use it (it would be a New
Year's memory on 1 January). But the folder is an event the household named. Photos dated only to a
month or a year are grouped by the dated folder that gave them their date (the nearest folder above
them whose name holds a date, else their own folder) and by year. A group of at least
``PERIOD_MIN_PHOTOS`` is one ``period`` memory: "Summer holiday, 1998" (the folder's title hint or
Takeout album title, then the period), explained by where its date came from. It is a suggestion
like every other memory and follows the same approval rules.
"""

from __future__ import annotations

import calendar
import os
from collections import defaultdict
from datetime import date
from typing import Any

import numpy as np

from homeroll.daemon.ingest import folderdate
from homeroll.daemon.memories.albums import AlbumNamer
from homeroll.daemon.memories.library import PRECISION_DAY, PRECISION_MONTH, Library, ordinal_to_date
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.titles import day_span, month_span, plural

#: A folder needs this many photos dated only to its year or month to be a memory (a module constant,
#: not a config key: curation's ``min_picks`` still applies on top of it).
PERIOD_MIN_PHOTOS = 6


def _dated_folder(rel: str, year: int) -> tuple[str, bool]:
    """(the folder that names this photo's year, True) or (the photo's own folder, False)."""
    parts = rel.split("/")[:-1]
    for depth in range(len(parts), 0, -1):
        found, _ = folderdate.parse_folder(parts[depth - 1])
        if found is not None and found.local.year == year:
            return "/".join(parts[:depth]), True
    return "/".join(parts), False


def find_periods(lib: Library, settings: dict[str, Any]) -> list[Candidate]:
    if not lib.imprecise_paths:
        return []
    namer = AlbumNamer(lib.albums)
    groups: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    by_folder_name: dict[tuple[str, str, int], bool] = {}
    for row, paths in sorted(lib.imprecise_paths.items()):
        year = ordinal_to_date(int(lib.day[row])).year
        # a copy inside a dated folder tells more than one in "Scans/inbox"
        choices = [(root, *_dated_folder(rel, year)) for root, rel in paths]
        root, folder, named = next((c for c in choices if c[2]), choices[0])
        groups[(root, folder, year)].append(row)
        by_folder_name[(root, folder, year)] = named

    found: list[Candidate] = []
    minimum = max(PERIOD_MIN_PHOTOS, int(settings["min_picks"]))
    for (root, folder, year), members in sorted(groups.items()):
        if len(members) < minimum:
            continue
        rows = np.asarray(sorted(members), dtype=np.int64)
        months = {ordinal_to_date(int(d)).month for d in lib.day[rows].tolist()}
        days = set(lib.day[rows].tolist())
        if np.all(lib.precision[rows] == PRECISION_DAY) and len(days) == 1:
            start = end = ordinal_to_date(int(days.pop()))
            label, key_period = day_span(start, end), start.isoformat()
        elif np.all(lib.precision[rows] == PRECISION_DAY):
            continue  # a folder of scans dated to several days is no one occasion
        elif np.all(lib.precision[rows] == PRECISION_MONTH) and len(months) == 1:
            month = months.pop()
            start = date(year, month, 1)
            end = date(year, month, calendar.monthrange(year, month)[1])
            label, key_period = month_span(start, start), f"{year}-{month:02d}"
        else:
            start, end = date(year, 1, 1), date(year, 12, 31)
            label, key_period = str(year), str(year)
        album = namer.folder_album(root, folder)
        if album is not None and not album.covers(start, end):
            album = None
        title = f"{album.title}, {label}" if album else f"Photos from {label}"
        name = os.path.basename(folder) or os.path.basename(root.rstrip("/")) or root
        if by_folder_name[(root, folder, year)]:
            reason = f"period: {plural(len(rows), 'photo')} dated only to {label} by their folder '{name}'"
            if start == end:
                reason = f"period: {plural(len(rows), 'photo')} dated to {label} only by their folder '{name}'"
        else:
            reason = (f"period: {plural(len(rows), 'photo')} in the folder '{name}' dated only to {label} "
                      "by their metadata")
        if album is not None and album.takeout:
            reason += f"; titled after {album.explain()}"
        score = min(1.0, 0.45 + 0.25 * min(1.0, len(rows) / 40))
        key = f"period:{os.path.join(root, folder)}:{key_period}"
        found.append(Candidate("period", key, title, start, end, rows, score, reason))
    return found
