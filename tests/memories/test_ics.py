"""Calendar files as occasions: .ics files the tests write with icalendar, parsed, then imported through
`homeroll occasions import` as a real process (a pipe, and a terminal for the birthday question)."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.errors import UserError
from homeroll.daemon.memories import ics
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store import occasions as store_occasions
from tests.conftest import HOMEROLL, cli_json, run_cli
from tests.memories.camera_roll import generate

NEW_YORK = ZoneInfo("America/New_York")


def calendar(*events: dict, name: str | None = None) -> bytes:
    """An .ics as icalendar writes it (VTIMEZONEs included, as Google and Apple export them)."""
    cal = Calendar()
    cal.add("prodid", "-//homeroll tests//EN")
    cal.add("version", "2.0")
    if name:
        cal.add("x-wr-calname", name)
    for fields in events:
        event = Event()
        for key, value in fields.items():
            event.add(key.replace("_", "-"), value)
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def parse(*events: dict, name: str | None = None, home: str = "Europe/Lisbon") -> ics.Parsed:
    return ics.parse(calendar(*events, name=name), home)


# -- parsing ------------------------------------------------------------------------------------------
def test_days_in_home_time():
    parsed = parse(
        {"uid": "a", "summary": "Moving day", "dtstart": date(2022, 3, 4), "dtend": date(2022, 3, 6)},
        {"uid": "b", "summary": "Wedding weekend", "dtstart": date(2023, 8, 4), "duration": timedelta(days=3)},
        # 23:30 in New York is 04:30 the next morning in Lisbon: the next day, past the early-morning rule
        {"uid": "c", "summary": "Dinner", "dtstart": datetime(2022, 6, 10, 23, 30, tzinfo=NEW_YORK),
         "dtend": datetime(2022, 6, 11, 1, 0, tzinfo=NEW_YORK)},
        # a night out (floating time: home's wall clock) is the evening's day, as its photos are
        {"uid": "d", "summary": "New Year's Eve party", "dtstart": datetime(2023, 12, 31, 20, 0),
         "dtend": datetime(2024, 1, 1, 2, 0)},
        {"uid": "e", "summary": "Lunch", "dtstart": datetime(2022, 7, 1, 11, 0, tzinfo=UTC)},
        {"uid": "f", "summary": "Sabbatical", "dtstart": date(2020, 5, 1), "dtend": date(2020, 9, 1)},
    )
    days = {e.title: (e.date, e.days, e.yearly) for e in parsed.events}
    assert days == {"Moving day": (date(2022, 3, 4), 2, False), "Wedding weekend": (date(2023, 8, 4), 3, False),
                    "Dinner": (date(2022, 6, 11), 1, False), "New Year's Eve party": (date(2023, 12, 31), 1, False),
                    "Lunch": (date(2022, 7, 1), 1, False)}
    assert parsed.skipped == [{"title": "Sabbatical", "reason": "lasts 123 days: an occasion is at most 31"}]


def test_only_one_off_and_yearly_events_are_occasions():
    parsed = parse(
        {"uid": "y", "summary": "Our wedding anniversary", "dtstart": date(2014, 6, 21), "rrule": {"freq": "yearly"}},
        {"uid": "w", "summary": "Standup", "dtstart": datetime(2024, 1, 8, 9, 30), "rrule": {"freq": "weekly"}},
        {"uid": "m", "summary": "Rent", "dtstart": date(2024, 1, 1), "rrule": {"freq": "monthly"}},
        {"uid": "2", "summary": "Elections", "dtstart": date(2024, 1, 1), "rrule": {"freq": "yearly", "interval": 2}},
        {"uid": "s", "summary": "Mother's day", "dtstart": date(2024, 5, 12),
         "rrule": {"freq": "yearly", "bymonth": 5, "byday": "2SU"}},
        {"uid": "x", "summary": "Concert", "dtstart": date(2024, 3, 1), "status": "CANCELLED"},
        {"uid": "y", "summary": "Our wedding anniversary (moved)", "dtstart": date(2020, 6, 22),
         "recurrence_id": date(2020, 6, 21)},
        {"uid": "y", "summary": "A copy", "dtstart": date(2014, 6, 21)},
    )
    assert [(e.uid, e.yearly) for e in parsed.events] == [("y", True)]
    reasons = {s["title"]: s["reason"] for s in parsed.skipped}
    assert reasons["Standup"].startswith("repeats weekly")
    assert reasons["Rent"].startswith("repeats monthly")
    assert reasons["Elections"].startswith("repeats every 2 years")
    assert "weekday rule" in reasons["Mother's day"]
    assert reasons["Concert"] == "cancelled"
    assert "RECURRENCE-ID" in reasons["Our wedding anniversary (moved)"]
    assert "same UID" in reasons["A copy"]


def test_an_event_without_uid_gets_a_stable_one():
    one = parse({"summary": "Moving day", "dtstart": date(2022, 3, 4)}).events[0].uid
    assert one == parse({"summary": "Moving day", "dtstart": date(2022, 3, 4)}).events[0].uid
    assert one.startswith("homeroll:")


def test_birthdays_are_offers_not_occasions():
    parsed = parse(
        {"uid": "g", "summary": "Anna Smith's birthday", "dtstart": date(2017, 5, 14), "rrule": {"freq": "yearly"}},
        {"uid": "b", "summary": "Birthday: Ben", "dtstart": date(2019, 9, 3), "rrule": {"freq": "yearly"}},
        {"uid": "c", "summary": "Clara", "dtstart": date(2015, 3, 21), "rrule": {"freq": "yearly"},
         "categories": ["BIRTHDAY"]},
        {"uid": "n", "summary": "🎂 Leon Green (2000)", "dtstart": date(2000, 1, 1), "rrule": {"freq": "yearly"},
         "x_nextcloud_bc_field_type": "BDAY", "x_nextcloud_bc_year": "2000"},
        {"uid": "p", "summary": "Grandma's 80th birthday party", "dtstart": date(2024, 2, 3)},
    )
    found = {b.name: b.birthday for b in parsed.birthdays}
    # a contacts calendar knows the year (its series starts at the birth date); a typed-in event does not
    assert found == {"Anna Smith": "05-14", "Ben": "09-03", "Clara": "2015-03-21", "Leon Green": "2000-01-01"}
    assert [e.title for e in parsed.events] == ["Grandma's 80th birthday party"]
    apple = parse({"uid": "a", "summary": "Dora’s Birthday", "dtstart": date(1604, 4, 2), "rrule": {"freq": "yearly"}},
                  name="Birthdays")
    assert [(b.name, b.birthday) for b in apple.birthdays] == [("Dora", "04-02")]  # 1604: Apple's "year unknown"


def test_matching_birthdays_needs_a_named_person(memdb):
    for name, birthday in (("Anna", "2017-05-14"), ("Ben", None), ("Eve", None), ("Eve", None)):
        memdb["people"].insert({"name": name, "birthday": birthday, "created_at": "2025-01-01T00:00:00+00:00"})
    parsed = parse(
        {"uid": "a", "summary": "Anna's birthday", "dtstart": date(2018, 5, 14), "rrule": {"freq": "yearly"}},
        {"uid": "b", "summary": "Ben Smith's birthday", "dtstart": date(2018, 9, 3), "rrule": {"freq": "yearly"}},
        {"uid": "e", "summary": "Eve's birthday", "dtstart": date(2018, 1, 3), "rrule": {"freq": "yearly"}},
        {"uid": "z", "summary": "Zed's birthday", "dtstart": date(2018, 1, 3), "rrule": {"freq": "yearly"}},
    )
    offers, passed = ics.matching_birthdays(memdb, parsed)
    assert [(o.name, o.birthday, o.was) for o in offers] == [("Ben", "09-03", None)]
    reasons = " | ".join(p["reason"] for p in passed)
    assert "Anna's birthday is 2017-05-14 already" in reasons
    assert "2 people are named 'Eve'" in reasons and "nobody named 'Zed'" in reasons


@pytest.mark.parametrize("data", [b"hello, not a calendar", b"", b"{\"json\": true}",
                                  b"BEGIN:VCARD\r\nFN:Anna\r\nEND:VCARD\r\n"])
def test_a_file_that_is_no_calendar_is_one_line(data):
    with pytest.raises(UserError, match="is not a calendar file"):
        ics.parse(data, "Europe/Lisbon", "x.ics")


def test_a_broken_event_is_skipped_not_the_file():
    good = calendar({"uid": "a", "summary": "Moving day", "dtstart": date(2022, 3, 4)})
    broken = good.replace(b"END:VCALENDAR", b"BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Broken\r\nDTSTART:2020xx\r\n"
                                            b"END:VEVENT\r\nEND:VCALENDAR")
    parsed = ics.parse(broken, "Europe/Lisbon")
    assert [e.title for e in parsed.events] == ["Moving day"]
    assert parsed.skipped[0]["title"] == "Broken" and parsed.skipped[0]["reason"].startswith("cannot be read")


# -- the import, as a real process -------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A generated roll (named Anna, Ben, Clara; one more person named Dora, without a birthday) in a DB file."""
    tmp = tmp_path_factory.mktemp("ics-template")
    cfg = config_mod.build(tmp / "config.toml", [tmp / "library"], tmp / "data", tmp / "export", "Europe/Lisbon")
    cfg.data_dir.mkdir(parents=True)
    db = store.connect(cfg.db_path)
    truth = generate(db, 4, root=str(tmp / "library"), years=2)
    store_faces.name_person(db, truth.unnamed_person, "Dora")
    db.close()
    return cfg.db_path, truth


@pytest.fixture
def home(template, tmp_path):
    """(config, truth, .ics path): a private copy of the roll, home in Lisbon."""
    db_path, truth = template
    library = tmp_path / "library"
    library.mkdir()
    cfg = config_mod.build(tmp_path / "config.toml", [library], tmp_path / "data", tmp_path / "export",
                           "Europe/Lisbon", {"export": {"outputs": ["collage"]}})
    config_mod.save(cfg)
    cfg.db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(db_path, cfg.db_path)
    party = truth.gatherings[0]
    path = tmp_path / "family.ics"
    path.write_bytes(calendar(*family_events(party)))
    return cfg, truth, path


def family_events(party: date, moving: str = "Moving day") -> list[dict]:
    return [
        {"uid": "wedding@family", "summary": "Our wedding anniversary", "dtstart": party.replace(year=2011),
         "dtend": party.replace(year=2011) + timedelta(days=1), "rrule": {"freq": "yearly"}},
        {"uid": "moving@family", "summary": moving, "dtstart": date(2022, 3, 4), "dtend": date(2022, 3, 6)},
        {"uid": "dinner@family", "summary": "Dinner with the Smiths",
         "dtstart": datetime(2022, 6, 10, 23, 30, tzinfo=NEW_YORK), "dtend": datetime(2022, 6, 11, 1, tzinfo=NEW_YORK)},
        {"uid": "yoga@family", "summary": "Yoga", "dtstart": datetime(2022, 1, 3, 18, 0, tzinfo=NEW_YORK),
         "rrule": {"freq": "weekly"}},
        {"uid": "dora@family", "summary": "Dora's birthday", "dtstart": date(2016, 4, 2), "rrule": {"freq": "yearly"}},
    ]


def _occasions(cfg) -> list[dict]:
    db = store.connect(cfg.db_path)
    try:
        return store_occasions.list_occasions(db)
    finally:
        db.close()


def _dora(cfg, truth) -> str | None:
    db = store.connect(cfg.db_path)
    try:
        return store_faces.person(db, truth.unnamed_person)["birthday"]
    finally:
        db.close()


def test_import_then_reimport_by_uid(home):
    cfg, truth, path = home
    report = cli_json(cfg.path, "occasions", "import", str(path), "--json")
    added = {o["title"]: o for o in report["added"]}
    assert set(added) == {"Our wedding anniversary", "Moving day", "Dinner with the Smiths"}
    assert added["Dinner with the Smiths"]["date"] == "2022-06-11"  # New York's evening, Lisbon's next morning
    assert added["Moving day"]["days"] == 2 and added["Our wedding anniversary"]["yearly"] is True
    assert [(s["title"], s["reason"].split(":")[0]) for s in report["skipped"]] == [("Yoga", "repeats weekly")]
    # no terminal, no --set-birthdays: the birthday is offered, not set
    assert [(b["name"], b["birthday"], b["set"]) for b in report["birthdays"]] == [("Dora", "04-02", False)]
    assert "--set-birthdays" in report["text"] and _dora(cfg, truth) is None
    assert report["selection"]["created"] >= 1
    rows = {o["title"]: o for o in _occasions(cfg)}
    assert rows["Moving day"]["source"] == "ics:family.ics" and rows["Moving day"]["uid"] == "moving@family"
    # the anniversary on the party day is a memory that counts its years; the gathering yielded to it
    party = truth.gatherings[0]
    memories = cli_json(cfg.path, "memories", "--json")
    on_party = [m for m in memories if m["start"] <= party.isoformat() <= m["end"]]
    assert f"Our {party.year - 2011}th wedding anniversary" in {m["title"] for m in on_party}
    assert not [m for m in on_party if m["kind"] == "gathering"]

    again = cli_json(cfg.path, "occasions", "import", str(path), "--json")
    assert (len(again["added"]), len(again["updated"]), len(again["unchanged"])) == (0, 0, 3)
    assert again["selection"] is None and "nothing changed" in again["text"]

    path.write_bytes(calendar(*family_events(party, moving="Moving day (Hamburg)")))
    proc = run_cli(cfg.path, "occasions", "import", str(path))
    assert "updated" in proc.stdout and "Moving day (Hamburg)" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1].startswith(
        "family.ics: 0 added, 1 updated, 2 unchanged, 1 skipped, 1 birthday not set; selection: ")
    after = _occasions(cfg)
    assert len(after) == 3
    assert {o["id"] for o in after} == {o["id"] for o in rows.values()}
    assert "Moving day (Hamburg)" in {o["title"] for o in after}


def test_set_birthdays_flag_sets_them(home):
    cfg, truth, path = home
    report = cli_json(cfg.path, "occasions", "import", str(path), "--set-birthdays", "--json")
    assert [(b["name"], b["set"]) for b in report["birthdays"]] == [("Dora", True)]
    assert _dora(cfg, truth) == "04-02"


@pytest.mark.parametrize("answer, expected", [(b"y\n", "04-02"), (b"n\n", None)])
def test_in_a_terminal_the_birthdays_are_asked(home, answer, expected):
    cfg, truth, path = home
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([*HOMEROLL, "--config", str(cfg.path), "occasions", "import", str(path)],
                            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(terminal)
    try:
        os.write(controller, answer)
        out, err = proc.communicate(timeout=300)
    finally:
        os.close(controller)
    assert proc.returncode == 0, err
    assert "Dora (person" in out and "Set these birthdays?" in out
    assert _dora(cfg, truth) == expected
    assert len(_occasions(cfg)) == 3  # the events are imported either way


def test_malformed_and_huge_files_exit_2_with_one_line(home, tmp_path):
    cfg, _, path = home
    bad = tmp_path / "bad.ics"
    bad.write_text("BEGIN:VCALENDAR\nthis is not a content line\nEND:VCALENDAR\n")
    huge = tmp_path / "huge.ics"
    event = calendar({"uid": "a", "summary": "Moving day", "dtstart": date(2022, 3, 4)})
    huge.write_bytes(event + b"X-PAD:" + b"x" * ics.MAX_BYTES + b"\r\n")
    for file, message in ((bad, "bad.ics is not a calendar file (.ics)"), (huge, "is larger than 5 MB")):
        proc = run_cli(cfg.path, "occasions", "import", str(file), check=False)
        assert proc.returncode == 2, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
    assert _occasions(cfg) == []
    db = store.connect(cfg.db_path)
    try:
        assert not store_memories.list_memories(db, kind="occasion")
    finally:
        db.close()


def test_the_tests_own_calendar_reads_back(home):
    """The file the import tests use is what they claim: icalendar writes the zone and the yearly rule."""
    _, _, path = home
    text = Path(path).read_text()
    assert "TZID=America/New_York" in text and "BEGIN:VTIMEZONE" in text and "RRULE:FREQ=YEARLY" in text
