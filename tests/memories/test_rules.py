"""The rules against the generator's ground truth, over several seeds."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import memories as store_memories
from tests.memories.conftest import SEEDS, TODAY, roll_db, selection_config

pytestmark = pytest.mark.parametrize("seed", SEEDS)


def _d(text: str) -> date:
    return date.fromisoformat(text)


def _member_ids(db, memory_id: int) -> set[int]:
    return {r[0] for r in db.execute("SELECT item_id FROM memory_items WHERE memory_id = ?", [memory_id])}


def _pick_ids(db, memory_id: int) -> list[int]:
    return [r[0] for r in db.execute(
        "SELECT item_id FROM memory_items WHERE memory_id = ? AND picked = 1 ORDER BY rank", [memory_id])]


def test_trips_have_the_right_days_and_places(selected, seed):
    db, truth, _ = selected[seed]
    trips = store_memories.list_memories(db, kind="trip")
    assert len(trips) == len(truth.trips), [t["title"] for t in trips]
    by_start = {_d(t["start"]): t for t in trips}
    for expected in truth.trips:
        found = by_start.get(expected.start)
        assert found is not None, f"no trip starting {expected.start}: {[t['start'] for t in trips]}"
        assert _d(found["end"]) == expected.end
        for word in expected.words:
            assert word in found["title"], (found["title"], expected.words)
        if expected.domestic:
            assert "Germany" not in found["title"]
        assert "km from home" in found["reason"] and "days away" in found["reason"]
        members = _member_ids(db, found["id"])
        # photos without GPS inside the span belong to the trip
        assert len(members & set(expected.item_ids)) >= 0.97 * len(expected.item_ids)
        assert 6 <= found["picks"] <= 30


def test_no_false_trips_from_commuting_the_move_or_days_out(selected, seed):
    db, truth, _ = selected[seed]
    spans = [(_d(m["start"]), _d(m["end"])) for m in store_memories.list_memories(db, kind="trip")]
    for day in [*truth.commute_days, *truth.day_outs, truth.move_date]:
        assert not any(s <= day <= e for s, e in spans), f"{day} is inside a trip"
    outs = {_d(m["start"]) for m in store_memories.list_memories(db, kind="day_out")}
    assert set(truth.day_outs) <= outs
    assert not outs & set(truth.commute_days)
    assert len(outs) == len(truth.day_outs)


def test_house_move_gives_two_homes(selected, seed):
    _, truth, summary = selected[seed]
    homes = summary["homes"]
    assert [h["place"] for h in homes] == ["Berlin", "Hamburg"] or sorted(h["place"] for h in homes) == [
        "Berlin", "Hamburg"]
    hamburg = next(h for h in homes if h["place"] == "Hamburg")
    assert abs((_d(hamburg["from"]) - truth.move_date).days) <= 3


def test_gatherings_are_found_without_flooding(selected, seed):
    db, truth, _ = selected[seed]
    memories = store_memories.list_memories(db)
    occasions = [m for m in memories if m["kind"] in ("gathering", "holiday", "birthday")]
    for day in truth.gatherings:
        assert any(_d(m["start"]) <= day <= _d(m["end"]) for m in occasions), f"party on {day} not found"
    gatherings = [m for m in memories if m["kind"] == "gathering"]
    years = {truth.first_day.year + k for k in range(3)}
    assert len(gatherings) <= len(truth.gatherings) + len(years)  # tens a year, not hundreds
    party_days = set(truth.gatherings)
    extra = [g for g in gatherings if _d(g["start"]) not in party_days]
    assert len(extra) <= 1, extra


def test_holidays_take_their_names(selected, seed):
    db, truth, _ = selected[seed]
    holidays = store_memories.list_memories(db, kind="holiday")
    titles = {m["title"] for m in holidays}
    for day, name in truth.holidays:
        year = day.year
        assert f"{name} {year}" in titles, (name, titles)
    nye = next(m for m in holidays if m["title"].startswith("New Year's Eve"))
    # the party runs past midnight: still one memory, ending on Jan 1
    assert _d(nye["end"]) - _d(nye["start"]) == timedelta(days=1)


def test_birthdays_for_named_people(selected, seed):
    db, truth, _ = selected[seed]
    birthdays = store_memories.list_memories(db, kind="birthday")
    for name, day in truth.birthdays:
        match = [b for b in birthdays if name in b["people"] and _d(b["start"]) <= day <= _d(b["end"])]
        assert match, f"no birthday for {name} on {day}"
        if name == "Anna":
            assert match[0]["title"] == f"Anna's {day.year - 2017}th birthday"
    people = {m["title"] for m in store_memories.list_memories(db, kind="people")}
    assert {"Anna through the years", "Ben through the years"} <= people


def test_picks_never_hold_screenshots_messenger_images_or_a_doubled_burst(selected, seed):
    db, truth, _ = selected[seed]
    banned = set(truth.screenshots) | set(truth.messenger)
    all_members = {r[0] for r in db.execute("SELECT item_id FROM memory_items")}
    assert not all_members & banned
    burst_of = {item: n for n, frames in enumerate(truth.bursts) for item in frames}
    for m in store_memories.list_memories(db):
        picks = _pick_ids(db, m["id"])
        assert 6 <= len(picks) <= (40 if m["kind"] == "year_review" else 30)  # year_in_review_picks
        bursts = [burst_of[i] for i in picks if i in burst_of]
        assert len(bursts) == len(set(bursts)), f"{m['title']} has two frames of one burst"
        assert m["cover"] in picks


def test_each_memory_explains_itself(selected, seed):
    db, _, _ = selected[seed]
    for m in store_memories.list_memories(db):
        assert m["reason"] and m["reason"].split(":")[0] in {"trip", "day out", "gathering", "holiday", "birthday",
                                                             "people", "on this day", "period",
                                                             f"{m['start'][:4]} in review"}
        assert any(ch.isdigit() for ch in m["reason"])


def test_on_this_day_follows_the_rule(selected, seed):
    db, _, _ = selected[seed]
    found = store_memories.list_memories(db, kind="on_this_day")
    assert len(found) == 1
    m = found[0]
    assert m["title"].startswith("On this day")
    memory = store_memories.get_memory(db, m["id"])
    years = {item["taken_at"][:4] for item in memory["media"]}
    assert len(years) >= 2
    for item in memory["media"]:
        day = date.fromisoformat(item["taken_at"][:10])
        assert abs((day.replace(year=2000) - TODAY.replace(year=2000)).days) <= 3


def test_without_named_people_there_are_no_birthdays_until_names_are_given(tmp_path, seed):
    from tests.memories.camera_roll import name_people

    db, truth = roll_db(seed, named=False)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    assert store_memories.list_memories(db, kind="birthday") == []
    assert store_memories.list_memories(db, kind="people") == []
    name_people(db, truth)
    run_selection(cfg, db, today=TODAY)
    assert len(store_memories.list_memories(db, kind="birthday")) >= len(truth.birthdays)
