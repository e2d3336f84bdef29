"""Dates and titles in folder names: "1998 Summer holiday", "2001-07 Lake Garda", "Photos from 2019".

Scanned prints and exports that lost their metadata often carry their only date in the folder a person
named. Such a date is as precise as what was typed (a year, a month or a day), and that precision is
recorded, so a print dated "1998" never makes an on-this-day memory or a birthday. The same names
are title hints: photos that mostly sit in "2019 Lisbon" make a memory the household already called
"Lisbon". Only the folders under a library root are read (a root's own name is the user's, not a date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from homeroll.daemon.ingest import timeinfo

EARLIEST_YEAR = 1900  # scanned prints are older than digital cameras

_MONTHS = {name: number for number, names in enumerate((
    ("january", "jan", "januar", "janvier", "enero", "gennaio"),
    ("february", "feb", "februar", "février", "fevrier", "febrero", "febbraio"),
    ("march", "mar", "märz", "maerz", "mars", "marzo"),
    ("april", "apr", "avril", "abril", "aprile"),
    ("may", "mai", "mayo", "maggio"),
    ("june", "jun", "juni", "juin", "junio", "giugno"),
    ("july", "jul", "juli", "juillet", "julio", "luglio"),
    ("august", "aug", "août", "aout", "agosto"),
    ("september", "sep", "sept", "septembre", "septiembre", "settembre"),
    ("october", "oct", "oktober", "octobre", "octubre", "ottobre"),
    ("november", "nov", "novembre", "noviembre"),
    ("december", "dec", "dezember", "décembre", "decembre", "diciembre", "dicembre"),
), start=1) for name in names}

_DAY = re.compile(r"^(?P<y>\d{4})[-_.](?P<m>\d{2})[-_.](?P<d>\d{2})(?!\d)[\s_\-–,.]*(?P<rest>.*)$")
_MONTH = re.compile(r"^(?P<y>\d{4})[-_.](?P<m>\d{2})(?![\d\-_.]\d)[\s_\-–,.]*(?P<rest>.*)$")
_YEAR_FIRST = re.compile(r"^(?P<y>\d{4})(?!\d)[\s_\-–,.]*(?P<rest>.*)$")
_YEAR_LAST = re.compile(r"^(?P<rest>.*?[^\W\d_].*?)[\s,(]+(?P<y>\d{4})\)?$")  # 'Summer 1998', not 'IMG_2019'
_WORD = re.compile(r"[^\W\d_]{2,}")

#: Folder words that name where files came from, not an occasion: never a title hint.
_GENERIC = re.compile(
    r"^(photos? from|fotos? (von|de|del)|photos? de|foto|photos?|pictures?|pics|images?|bilder|camera|"
    r"kamera|dcim|camera roll|screenshots?|scans?|gescannt|export(ed)?|takeout|google photos|icloud photos|"
    r"uploads?|imports?|backup|misc|various|untitled( folder)?|new folder)$", re.I)


@dataclass(frozen=True)
class FolderDate:
    local: datetime   # the first moment of the period, at midday (a date stays a date through zone maths)
    precision: str    # day | month | year
    folder: str       # the folder's name, for the reason shown to the user


def _month_word(text: str) -> tuple[int | None, str]:
    """'Summer holiday' -> (None, ...); 'July at the lake' -> (7, 'at the lake')."""
    words = text.split()
    if words:
        number = _MONTHS.get(words[0].lower().strip(",."))
        if number:
            return number, " ".join(words[1:])
    return None, text


def parse_folder(name: str, now: datetime | None = None) -> tuple[FolderDate | None, str]:
    """(the date a folder name gives, if any; the words left over for a title)."""
    now = timeinfo.reference_now(now)  # a Pi booted in 1970 still knows a folder named 2026 is past
    name = name.strip()
    for pattern, precision in ((_DAY, "day"), (_MONTH, "month"), (_YEAR_FIRST, "year"), (_YEAR_LAST, "year")):
        match = pattern.match(name)
        if not match:
            continue
        year = int(match["y"])
        if not EARLIEST_YEAR <= year <= now.year:
            continue
        rest = match["rest"].strip(" _-–,.")
        month = int(match["m"]) if "m" in match.groupdict() and match["m"] else None
        day = int(match["d"]) if "d" in match.groupdict() and match["d"] else None
        if precision == "year":
            month, rest_after = _month_word(rest)
            if month is None and pattern is _YEAR_LAST:
                words = rest.split()
                if words and words[-1].lower() in _MONTHS:  # "Lake Garda July 2001"
                    month, rest_after = _MONTHS[words[-1].lower()], " ".join(words[:-1])
            if month:
                precision, rest = "month", rest_after
        try:
            local = datetime(year, month or 1, day or 1, 12, 0, 0)
        except ValueError:
            continue
        if local > now:
            continue
        return FolderDate(local, precision, name), rest
    return None, name


def folder_date(relpath: str, now: datetime | None = None) -> FolderDate | None:
    """The date of the nearest dated folder above a file (deepest first), or None."""
    for folder in reversed(relpath.replace("\\", "/").split("/")[:-1]):
        found, _ = parse_folder(folder, now)
        if found is not None:
            return found
    return None


def album_title(folder: str) -> str | None:
    """A title hint from a folder name: '2019 Lisbon' -> 'Lisbon'; 'Photos from 2019', 'DCIM' -> None."""
    found, rest = parse_folder(folder)
    text = " ".join(rest.replace("_", " ").split()) if found else " ".join(folder.replace("_", " ").split())
    if not found:
        return None  # an undated folder ('Camera', 'Family') says where files live, not what happened
    if not _WORD.search(text) or _GENERIC.match(text):
        return None
    return text


def within(local: datetime, period: FolderDate) -> bool:
    """Does a (more precise) date fall inside the folder's period?"""
    if local.year != period.local.year:
        return False
    if period.precision == "year":
        return True
    if local.month != period.local.month:
        return False
    return period.precision == "month" or local.day == period.local.day
