"""Dates that matter: holidays of the home country, birthdays of named people, and "on this day".

- Holidays: the home country's calendar from the ``holidays`` package plus Christmas Eve and New
  Year's Eve. A holiday at home with at least ``holiday_min_photos`` moments is a memory, and a
  gathering on or next to a holiday takes the holiday's name (and becomes that memory).
- Birthdays: a named person with a birthday (MM-DD or YYYY-MM-DD): their photos within
  ``birthday_window_days`` of it, per year, plus the rest of the sessions they were photographed in.
- On this day: photos taken in earlier years within ``on_this_day_window_days`` of today's date;
  needs ``on_this_day_min_photos`` photos from ``on_this_day_min_years`` different years. The memory
  for a given today is stable (its key is today's date), and yesterday's unapproved one is dropped.
  A file whose only date is its mtime is left out: a copy's mtime is the day it was copied, so an
  "on this day" built on it would celebrate a backup. A today more than ``CLOCK_GRACE`` before the
  newest photo is a wrong clock, a Pi booted in 1970 or months back: no on-this-day memory is made for it.
  The newest photo that counts is the newest not after the DB's trusted time (``store.clock.trusted_now``)
  plus the grace: one photo from a camera whose clock read 2031 must not turn the rule off until 2031.

All three see only photos dated at least to the day (``Library.day_based``): a scan dated "1998" is
stored as 1 January and must not become a New Year's memory or the birthday of someone born then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np

from homeroll.daemon.memories.library import PRECISION_DAY, Library, moments, ordinal_to_date
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.titles import day_span, join_names, ordinal, plural, possessive

log = logging.getLogger(__name__)

_BIRTHDAY = re.compile(r"^(?:(\d{4})-)?(\d{2})-(\d{2})$")
#: How far today may read before the newest photo and still be right: a photo taken east of home carries
#: tomorrow's date, and a camera clock runs a few days fast (the generated test roll runs 5 days past its
#: "today"). A clock that is weeks, months or decades behind is the wrong clock this guards against.
CLOCK_GRACE = timedelta(days=7)


def holiday_calendar(country_code: str | None, year: int) -> dict[date, str]:
    """date -> holiday name (English) for a year, with Christmas Eve and New Year's Eve always present."""
    calendar: dict[date, str] = {}
    if country_code:
        try:
            import holidays

            for day, name in holidays.country_holidays(country_code.upper(), years=year).items():
                calendar[day] = str(name).split(";")[0].strip()
        except (NotImplementedError, KeyError, AttributeError) as exc:
            log.debug("no holiday calendar for %s: %s", country_code, exc)
    calendar.setdefault(date(year, 12, 24), "Christmas Eve")
    calendar.setdefault(date(year, 12, 31), "New Year's Eve")
    return calendar


def find_holidays(lib: Library, dist: np.ndarray, taken: np.ndarray, gatherings: list[Candidate],
                  country_for: Callable[[int], str | None], settings: dict[str, Any]
                  ) -> tuple[list[Candidate], list[Candidate]]:
    """(holiday memories, the gatherings that did not become one)."""
    min_km = float(settings["trip_min_km"])
    burst = float(settings["burst_seconds"])
    eligible = np.flatnonzero((np.isnan(dist) | (dist <= min_km)) & ~taken)
    if len(eligible) == 0:
        return [], gatherings
    days = lib.outing_day[eligible]
    calendars: dict[int, dict[date, str]] = {}

    def name_of(day: date) -> str | None:
        if day.year not in calendars:
            calendars[day.year] = holiday_calendar(country_for(date(day.year, 7, 1).toordinal()), day.year)
        return calendars[day.year].get(day)

    members: dict[date, list[np.ndarray]] = {}
    for d in np.unique(days).tolist():
        day = ordinal_to_date(d)
        if name_of(day) is None:
            continue
        rows = eligible[days == d]
        if moments(lib, rows, burst) >= int(settings["holiday_min_photos"]):
            members.setdefault(day, []).append(rows)
    remaining: list[Candidate] = []
    for gathering in gatherings:
        g = gathering.start
        target = next((d for d in (g, g + timedelta(days=1), g - timedelta(days=1)) if name_of(d)), None)
        if target is None:
            remaining.append(gathering)
            continue
        members.setdefault(target, []).append(gathering.rows)

    found: list[Candidate] = []
    for day, parts in sorted(members.items()):
        rows = np.unique(np.concatenate(parts))
        name = name_of(day) or "Holiday"
        count = moments(lib, rows, burst)
        people_ids = {p for r in rows.tolist() for p in lib.row_people.get(r, ())}
        names = sorted({lib.named(p) for p in people_ids} - {None})
        start, end = ordinal_to_date(lib.outing_day[rows].min()), ordinal_to_date(lib.day[rows].max())
        cc = country_for(day.toordinal())
        reason = (f"holiday: {name} ({cc or 'no'} calendar) on {day_span(day, day)}, "
                  f"{plural(len(rows), 'photo')} at home")
        if names:
            reason += f" with {join_names(names[:4], 'and')}"
        score = min(1.0, 0.5 + 0.3 * min(1.0, count / 60) + (0.1 if len(people_ids) >= 2 else 0))
        found.append(Candidate("holiday", f"holiday:{day.isoformat()}", f"{name} {day.year}", start, end, rows,
                               score, reason, place="home", people=names, match_by_overlap=False))
    return found, remaining


def parse_birthday(value: str | None) -> tuple[int | None, int, int] | None:
    match = _BIRTHDAY.match((value or "").strip())
    if not match:
        return None
    year, month, day = match.groups()
    try:
        date(2000, int(month), int(day))
    except ValueError:
        return None
    return (int(year) if year else None), int(month), int(day)


def _in_year(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def find_birthdays(lib: Library, session_of: np.ndarray, settings: dict[str, Any]) -> list[Candidate]:
    window = int(settings["birthday_window_days"])
    found: list[Candidate] = []
    for person_id, person in lib.people.items():
        name, parsed = person.get("name"), parse_birthday(person.get("birthday"))
        rows = lib.person_rows.get(person_id)
        if rows is not None:
            rows = rows[lib.precision[rows] <= PRECISION_DAY]  # a scan dated "1998" is on no birthday
        if not name or parsed is None or rows is None or len(rows) == 0:
            continue
        born, month, day = parsed
        for year in np.unique([ordinal_to_date(d).year for d in np.unique(lib.day[rows])]).tolist():
            birthday = _in_year(year, month, day)
            lo, hi = (birthday - timedelta(days=window)).toordinal(), (birthday + timedelta(days=window)).toordinal()
            theirs = rows[(lib.day[rows] >= lo) & (lib.day[rows] <= hi)]
            if len(theirs) < int(settings["birthday_min_photos"]):
                continue
            same_session = np.isin(session_of, np.unique(session_of[theirs]))
            members = np.flatnonzero(same_session & (lib.day >= lo) & (lib.day <= hi))
            age = year - born if born else None
            if age is not None and 0 < age < 120:
                title = f"{possessive(name)} {ordinal(age)} birthday"
            else:
                title = f"{possessive(name)} birthday {year}"
            start, end = ordinal_to_date(lib.day[members].min()), ordinal_to_date(lib.day[members].max())
            reason = (f"birthday: {possessive(name)} birthday is {birthday.strftime('%b')} {birthday.day}; "
                      f"{plural(len(theirs), 'photo')} of {name} within ±{window} days "
                      f"({day_span(start, end)}), {plural(len(members), 'photo')} in those sessions")
            score = min(1.0, 0.7 + 0.2 * min(1.0, len(theirs) / 20))
            found.append(Candidate("birthday", f"birthday:{person_id}:{year}", title, start, end, members, score,
                                   reason, people=[name], match_by_overlap=False))
    return found


def find_on_this_day(lib: Library, today: date, settings: dict[str, Any],
                     trusted: date | None = None) -> list[Candidate]:
    """``trusted``: the earliest the real date can be (the DB's trusted time); photos after it do not count
    as the newest photo, which a today well before it would be a wrong clock."""
    window = int(settings["on_this_day_window_days"])
    if len(lib) == 0:
        return []
    dated = ~lib.mtime_only & (lib.precision <= PRECISION_DAY)
    if not dated.any():
        return []
    counted = dated if trusted is None else dated & (lib.day <= (trusted + CLOCK_GRACE).toordinal())
    newest = int(lib.day[counted].max()) if counted.any() else today.toordinal()
    if today < ordinal_to_date(newest) - CLOCK_GRACE:
        log.warning("today reads %s, before the newest photo (%s): the clock is wrong; no on-this-day memory",
                    today.isoformat(), ordinal_to_date(newest).isoformat())
        return []
    first_year = ordinal_to_date(int(lib.day[dated].min())).year
    parts: list[np.ndarray] = []
    years: list[int] = []
    for year in range(first_year, today.year):
        anchor = _in_year(year, today.month, today.day)
        lo, hi = (anchor - timedelta(days=window)).toordinal(), (anchor + timedelta(days=window)).toordinal()
        rows = np.flatnonzero(dated & (lib.day >= lo) & (lib.day <= hi))
        if len(rows):
            parts.append(rows)
            years.append(year)
    total = sum(len(p) for p in parts)
    if total < int(settings["on_this_day_min_photos"]) or len(years) < int(settings["on_this_day_min_years"]):
        return []
    rows = np.concatenate(parts)
    ago = [str(today.year - y) for y in sorted(years, reverse=True)]
    title = f"On this day, {join_names(ago)} years ago"
    start, end = ordinal_to_date(lib.day[rows].min()), ordinal_to_date(lib.day[rows].max())
    reason = (f"on this day: {plural(len(rows), 'photo')} from {len(years)} years "
              f"({join_names([str(y) for y in years], 'and')}) within ±{window} days of "
              f"{today.strftime('%b')} {today.day}")
    score = min(1.0, 0.4 + 0.1 * len(years) + 0.2 * min(1.0, len(rows) / 100))
    return [Candidate("on_this_day", f"on_this_day:{today.isoformat()}", title, start, end, rows, score, reason,
                      spread="year", match_by_overlap=False)]
