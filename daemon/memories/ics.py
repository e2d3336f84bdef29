"""Occasions from a calendar file: an offline .ics exported from Nextcloud, Google or Apple Calendar.

The household already wrote its graduations and anniversaries into a calendar; typing them again is why
they would never reach homeroll. The file is read with ``icalendar`` (never fetched: no socket opens), and
each event becomes an occasion (store.occasions) under its UID, so exporting and importing the calendar
again updates what changed instead of adding it twice.

What an event becomes:

- its days are home-zone days (``[general] home_tz``): an all-day event's dates as written (DTEND is the
  day after, as RFC 5545 has it), a timed one (a TZID, UTC or floating, which is the wall clock at home)
  converted to home time with the same early-morning rule as photos (an hour before 4 am belongs to the
  evening before), so the party that ends at 2 am is one day, the day its photos count to;
- ``RRULE:FREQ=YEARLY`` makes a yearly occasion; any other repeat (weekly, monthly, every second year, a
  weekday rule like "the 2nd Sunday of May", listed RDATEs) is skipped with its reason: those are routines
  or moving dates, not a day the family keeps; so are a changed instance of a repeat (RECURRENCE-ID),
  cancelled events, events longer than ``store.occasions.MAX_DAYS`` and a second event with one UID;
- a birthday is not an occasion (people have birthdays already): "Anna's birthday" (Google), "Birthday:
  Anna", CATEGORIES:BIRTHDAY, an event of a calendar named "Birthdays" (Apple) or of Nextcloud's contact
  birthdays ("🎂 Anna Smith (2017)") can set the birthday of the named person of that name, and only with
  the household's yes (``matching_birthdays`` finds them; the CLI and the TUI ask). The year is kept only
  from a contacts birthday calendar (its series starts at the birth date; Apple's 1604 means "year
  unknown"): a yearly event someone typed starts the year they typed it, which is no age.

A file over ``MAX_BYTES`` or one that is not a calendar is one line (a UserError), never a traceback.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.memories.family_occasions import select_after, source_of
from homeroll.daemon.memories.hidden import selection_text
from homeroll.daemon.memories.library import NIGHT_OWL_HOURS
from homeroll.daemon.memories.titles import plural
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import occasions as store_occasions

__all__ = ["MAX_BYTES", "BirthdayOffer", "Event", "Parsed", "import_calendar", "matching_birthdays", "parse",
           "read"]

#: A family calendar of twenty years is well under 1 MB; anything much bigger is not one.
MAX_BYTES = 5 * 1024 * 1024
_TITLE_CHARS = 200
_WORD = r"(?:birthday|b-day|bday|geburtstag)"
#: "Anna's birthday", "Birthday: Anna", "Birthday of Anna", "Anna - Birthday", "🎂 Anna Smith (2017)".
_NAME_PATTERNS = [re.compile(p, re.IGNORECASE) for p in (
    rf"^(?P<name>.+?)(?:['’]s?)?\s+{_WORD}$",
    rf"^{_WORD}(?:\s+(?:of|von)\s+|\s*[:\-–]\s*)(?P<name>.+)$",
    rf"^(?P<name>.+?)\s*[:\-–(]\s*{_WORD}\)?$",
)]
#: Apple's "Birthdays", Google's "Birthdays", "Contacts' birthdays", "Geburtstage".
_BIRTHDAY_CALENDAR = re.compile(rf"(?:^|\W){_WORD}(?:s|e)?(?:\W|$)", re.IGNORECASE)
_DECORATION = re.compile(r"^\W+|\s*\(\*?\d{4}\)\s*$")  # Nextcloud's "🎂 " and " (2017)"


@dataclass
class Event:
    """An event to import as an occasion."""

    uid: str
    title: str
    date: date
    days: int
    yearly: bool


@dataclass
class Birthday:
    """A birthday event: whose (as the calendar writes the name) and when, MM-DD or YYYY-MM-DD."""

    uid: str
    title: str
    name: str
    birthday: str


@dataclass
class Parsed:
    file: str
    events: list[Event] = field(default_factory=list)
    birthdays: list[Birthday] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)   # {title, reason}

    def skip(self, title: str, reason: str) -> None:
        self.skipped.append({"title": title or "(no title)", "reason": reason})


def read(path: Path | str, home_tz: str) -> Parsed:
    """Parse the .ics at ``path``; a file too big or not a calendar is a UserError."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{path} is larger than {MAX_BYTES // (1024 * 1024)} MB: export one calendar as .ics, "
                        f"not an archive or a mailbox")
    return parse(data, home_tz, path.name)


def parse(data: bytes, home_tz: str, name: str = "calendar.ics") -> Parsed:
    from icalendar import Calendar

    try:
        calendars = Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # noqa: BLE001 - icalendar raises ValueError, UnicodeError, KeyError… on garbage
        first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise UserError(f"{name} is not a calendar file (.ics): {first}") from None
    if not calendars or not all(c.name == "VCALENDAR" for c in calendars):
        raise UserError(f"{name} is not a calendar file (.ics): it holds no VCALENDAR")
    parsed = Parsed(name)
    zone = ZoneInfo(home_tz)
    seen: set[str] = set()
    for calendar in calendars:
        birthdays_calendar = bool(_BIRTHDAY_CALENDAR.search(str(calendar.get("X-WR-CALNAME") or "")))
        for event in calendar.walk("VEVENT"):
            title = str(event.get("SUMMARY") or "").strip()[:_TITLE_CHARS]
            try:
                _one(parsed, event, title, zone, birthdays_calendar, seen)
            except (ValueError, TypeError, KeyError, OverflowError) as exc:  # a broken DTSTART, a bad RRULE…
                parsed.skip(title, f"cannot be read: {str(exc).splitlines()[0][:120] if str(exc) else exc!r}")
    return parsed


def _one(parsed: Parsed, event: Any, title: str, zone: ZoneInfo, birthdays_calendar: bool, seen: set[str]) -> None:
    """Sort one VEVENT into parsed's events, birthdays or skipped."""
    if event.get("RECURRENCE-ID") is not None:
        parsed.skip(title, "a changed instance of a repeating event (RECURRENCE-ID): its series is what counts")
        return
    if str(event.get("STATUS") or "").upper() == "CANCELLED":
        parsed.skip(title, "cancelled")
        return
    if not title:
        parsed.skip(title, "no title (SUMMARY)")
        return
    start, days = _days(event, zone)
    yearly, why_not = _repeat(event)
    if why_not:
        parsed.skip(title, why_not)
        return
    uid = str(event.get("UID") or "").strip()
    if not uid:  # RFC 5545 requires one; without it the title and first day stand in (edit them: a new event)
        uid = "homeroll:" + hashlib.sha1(f"{title}|{start.isoformat()}".encode()).hexdigest()[:20]
    if uid in seen:
        parsed.skip(title, f"the same UID as an earlier event in the file ({uid})")
        return
    seen.add(uid)
    kind = str(event.get("X-NEXTCLOUD-BC-FIELD-TYPE") or "").upper()
    if kind in ("DEATHDATE", "ANNIVERSARY"):
        parsed.skip(title, f"a contact's {kind.lower()} from Nextcloud's birthday calendar: add it with "
                           f"`homeroll occasions add` if it should be a memory")
        return
    categories = {str(c).casefold() for c in (event.categories or [])}
    from_contacts = birthdays_calendar or kind == "BDAY" or "birthday" in categories
    if from_contacts or any(p.match(title) for p in _NAME_PATTERNS):
        parsed.birthdays.append(Birthday(uid, title, _person_name(title), _birthday(event, start, from_contacts)))
        return
    if days > store_occasions.MAX_DAYS:
        parsed.skip(title, f"lasts {days} days: an occasion is at most {store_occasions.MAX_DAYS}")
        return
    parsed.events.append(Event(uid, title, start, days, yearly))


def _local_day(value: date, zone: ZoneInfo) -> date:
    """The home-zone day of a DATE or DATE-TIME, a night counted to the evening before (as photos are)."""
    if not isinstance(value, datetime):
        return value
    local = value.astimezone(zone) if value.tzinfo is not None else value  # floating: home's wall clock
    return (local - timedelta(hours=NIGHT_OWL_HOURS)).date()


def _days(event: Any, zone: ZoneInfo) -> tuple[date, int]:
    """(first home day, how many days): DTEND or DURATION; DTEND is exclusive (a DATE: the day after)."""
    start, end = event.start, event.end
    first = _local_day(start, zone)
    if isinstance(end, datetime):
        last = _local_day(end - timedelta(seconds=1), zone) if end > start else first
    else:
        last = end - timedelta(days=1)
    return first, max(1, (last - first).days + 1)


def _repeat(event: Any) -> tuple[bool, str | None]:
    """(yearly, why it is skipped): only no repeat and a plain yearly repeat are occasions."""
    rules = event.rrules
    if not rules:
        return False, ("repeats on listed dates (RDATE): only one-off and yearly events are occasions"
                       if event.get("RDATE") is not None else None)
    for rule in rules:
        freq = str((rule.get("FREQ") or ["?"])[0]).upper()
        interval = int((rule.get("INTERVAL") or [1])[0])
        if freq != "YEARLY":
            return False, f"repeats {freq.lower()}: only one-off and yearly events are occasions"
        if interval != 1:
            return False, f"repeats every {interval} years: only one-off and yearly events are occasions"
        if rule.get("BYDAY") or rule.get("BYWEEKNO") or rule.get("BYYEARDAY") or rule.get("BYSETPOS"):
            return False, "repeats yearly on a weekday rule (BYDAY): its date moves, an occasion's does not"
    return True, None


def _person_name(title: str) -> str:
    for pattern in _NAME_PATTERNS:
        match = pattern.match(title)
        if match:
            return _DECORATION.sub("", match.group("name")).strip()
    return _DECORATION.sub("", title).strip()


def _birthday(event: Any, start: date, from_contacts: bool) -> str:
    """MM-DD, or YYYY-MM-DD when a contacts calendar knows the year (see the module docstring)."""
    year = start.year
    if str(event.get("X-NEXTCLOUD-BC-YEAR") or "").isdigit() and str(event.get("X-NEXTCLOUD-BC-UNKNOWN-YEAR")) != "1":
        year = int(str(event.get("X-NEXTCLOUD-BC-YEAR")))
    elif str(event.get("X-NEXTCLOUD-BC-UNKNOWN-YEAR") or "") == "1":
        year = 0
    if from_contacts and 1900 <= year <= date.today().year:
        return f"{year:04d}-{start.month:02d}-{start.day:02d}"
    return f"{start.month:02d}-{start.day:02d}"


@dataclass
class BirthdayOffer:
    """A birthday from the file for a named person: set only when the household says yes."""

    person_id: int
    name: str            # the person's name in homeroll
    birthday: str        # what the file says
    was: str | None      # what homeroll has now
    title: str           # the event, as the calendar wrote it

    def text(self) -> str:
        return f"{self.name} (person {self.person_id}): birthday {self.birthday} (now {self.was or 'none'}), " \
               f"from {self.title!r}"


def _match_person(name: str, named: dict[int, str]) -> tuple[int | None, str | None]:
    """(person id, or why none): the whole name, else its first word, matched without regard to case."""
    first = (name.split() or [""])[0]
    # "Anna Smith" is Anna; "Annas Geburtstag" (no apostrophe in German) is Anna too
    for key in dict.fromkeys(k.casefold() for k in (name, first, name[:-1] if name.endswith("s") else name)):
        ids = [pid for pid, n in named.items() if n.casefold() == key]
        if len(ids) == 1:
            return ids[0], None
        if len(ids) > 1:
            return None, f"{len(ids)} people are named {named[ids[0]]!r}: set it with `homeroll people name`"
    return None, f"nobody named {name!r} (see `homeroll people`; name them, then import again)"


def matching_birthdays(db: Database, parsed: Parsed) -> tuple[list[BirthdayOffer], list[dict[str, str]]]:
    """(offers to confirm, birthdays already known or without a named person: {title, reason})."""
    people = store_faces.list_people(db)
    named = {p["id"]: p["name"] for p in people if p["name"]}
    current = {p["id"]: p["birthday"] for p in people}
    offers: list[BirthdayOffer] = []
    passed: list[dict[str, str]] = []
    for b in parsed.birthdays:
        pid, why = _match_person(b.name, named)
        if pid is None:
            passed.append({"title": b.title, "reason": f"a birthday, not an occasion; {why}"})
            continue
        was = current.get(pid)
        same_day = was is not None and was[-5:] == b.birthday[-5:]
        if (same_day and (len(b.birthday) == 5 or was == b.birthday)) or any(o.person_id == pid for o in offers):
            passed.append({"title": b.title, "reason": f"{named[pid]}'s birthday is {was or 'set'} already"})
            continue
        offers.append(BirthdayOffer(pid, named[pid], b.birthday, was, b.title))
    return offers, passed


def import_calendar(db: Database, cfg: Config, parsed: Parsed, offers: list[BirthdayOffer],
                    passed: list[dict[str, str]], *, set_birthdays: bool, today: date | None = None) -> dict[str, Any]:
    """Write the file's occasions (and, when the household said yes, the ``offers``) in one transaction,
    then re-select when anything changed.

    {file, added, updated, unchanged, skipped, birthdays: [offer + set], selection (or None), text}.
    """
    report: dict[str, Any] = {"file": parsed.file, "added": [], "updated": [], "unchanged": [],
                              "skipped": [*parsed.skipped, *passed], "birthdays": [], "selection": None}
    source = source_of(parsed.file)
    with db.atomic():
        for event in parsed.events:
            occasion_id, outcome = store_occasions.upsert_occasion(
                db, event.uid, event.title, event.date, days=event.days, yearly=event.yearly, source=source)
            report[outcome].append({"id": occasion_id, **asdict(event), "date": event.date.isoformat()})
        for offer in offers:
            if set_birthdays:
                store_faces.name_person(db, offer.person_id, offer.name, offer.birthday)
            report["birthdays"].append({**asdict(offer), "set": set_birthdays})
    counts = ", ".join(f"{len(report[k])} {k}" for k in ("added", "updated", "unchanged", "skipped"))
    text = f"{parsed.file}: {counts}"
    if offers:
        text += f", {plural(len(offers), 'birthday')} {'set' if set_birthdays else 'not set'}"
    if report["added"] or report["updated"] or (offers and set_birthdays):
        report["selection"] = select_after(db, cfg, today)
        text += f"; selection: {selection_text(report['selection'])}"
    else:
        text += "; nothing changed"
    report["text"] = text
    return report
