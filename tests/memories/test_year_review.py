"""A year in review (issue 14, part 4): real selection runs on generated rolls in real DBs.

"2022 in review" is proposed from 1 January 2023 (never for the year still running), keeps its key
``year:2022`` and its id across runs (a wrong clock included), spreads its picks over months, trips,
gatherings and named people even when one trip and one party are far better photographed than the
rest of the year, follows the approval rules, respects hidden people and excluded periods, and goes
when ``year_in_review = false``.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from homeroll.daemon import config as config_mod
from homeroll.daemon import store
from homeroll.daemon.memories import exclusions
from homeroll.daemon.memories.curate import collapse, item_scores
from homeroll.daemon.memories.library import load_library
from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import exclusions as store_exclusions
from homeroll.daemon.store import hiding as store_hiding
from homeroll.daemon.store import memories as store_memories
from tests.conftest import cli_json
from tests.memories.camera_roll import generate
from tests.memories.conftest import roll_db, selection_config

JANUARY = date(2023, 1, 10)
PICKS = 40


def _review(db, year: int = 2022) -> dict | None:
    """The memory keyed year:<year>, with its picks and members (item ids), or None."""
    found = [m for m in store_memories.list_memories(db) if m["stable_key"] == f"year:{year}"]
    if not found:
        return None
    [m] = found
    picks = store_memories.picked_items(db, [m["id"]]).get(m["id"], [])
    members = {r[0] for r in db.execute("SELECT item_id FROM memory_items WHERE memory_id = ? AND removed_by_user = 0",
                                        [m["id"]])}
    return {**m, "pick_ids": picks, "member_ids": members}


def _review_keys(db) -> set[str]:
    return {m["stable_key"] for m in store_memories.list_memories(db, kind="year_review")}


def _outing_days(db, item_ids) -> dict[int, date]:
    """item -> the day it counts to (a night belongs to the evening before, as for every day rule)."""
    out = {}
    for item_id in item_ids:
        [local] = db.execute("SELECT taken_at_local FROM items WHERE id = ?", [item_id]).fetchone()
        out[item_id] = (datetime.fromisoformat(local[:19]) - timedelta(hours=4)).date()
    return out


def _photos_of(db, person_id: int) -> set[int]:
    return {item for item, pid in store_memories.face_links(db) if pid == person_id}


def _gorgeous(db, item_ids) -> None:
    """These are sharp, every other photo is blurred: a best-first choice takes all of its picks from them."""
    db.execute("UPDATE items SET quality = 0.05")
    db.execute(f"UPDATE items SET quality = 0.99 WHERE id IN ({','.join(map(str, item_ids))})")


def _rarely_photographed(db, person_id: int) -> list[int]:
    """Two blurred photos of the person in 2022 on ordinary days: their faces elsewhere that year are gone."""
    theirs = db.execute(
        "SELECT DISTINCT f.item_id, i.quality FROM faces f JOIN items i ON i.id = f.item_id WHERE f.person_id = ? "
        "AND substr(i.taken_at_local, 1, 4) = '2022' ORDER BY f.item_id", [person_id]).fetchall()
    blurred = [item for item, quality in theirs if quality < 0.5]
    kept = [blurred[len(blurred) // 3], blurred[2 * len(blurred) // 3]]
    theirs = [item for item, _ in theirs]
    gone = ",".join(map(str, sorted(set(theirs) - set(kept))))
    db.execute(f"DELETE FROM faces WHERE person_id = ? AND item_id IN ({gone})", [person_id])
    db.execute(f"UPDATE items SET face_count = (SELECT COUNT(*) FROM faces f WHERE f.item_id = items.id) "
               f"WHERE id IN ({gone})")
    db.execute(f"UPDATE items SET quality = 0.0 WHERE id IN ({','.join(map(str, kept))})")
    return kept


def _day_items(db, day: date) -> list[int]:
    return [r[0] for r in db.execute("SELECT id FROM items WHERE substr(taken_at_local, 1, 10) = ? "
                                     "AND kind != 'screenshot' AND is_messenger = 0", [day.isoformat()])]


@pytest.mark.parametrize("seed", [1, 2])
def test_the_picks_spread_over_months_trips_gatherings_and_people(tmp_path, seed):
    db, truth = roll_db(seed)
    trips = [t for t in truth.trips if t.start.year == 2022]
    parties = [d for d in truth.gatherings if d.year == 2022]
    assert len(trips) >= 2 and len(parties) >= 2
    _gorgeous(db, trips[0].item_ids + _day_items(db, parties[0]))
    rare = _rarely_photographed(db, truth.people["Clara"])
    cfg = selection_config(tmp_path)

    # the control: the year's best moments, without shares, come from that one trip and that party
    lib = load_library(db, home_tz="Europe/Berlin")
    first, last = date(2022, 1, 1).toordinal(), date(2022, 12, 31).toordinal()
    year = np.flatnonzero((lib.outing_day >= first) & (lib.outing_day <= last))
    scores = item_scores(lib, year)
    moments = collapse(lib, year, scores, cfg["memories"]["burst_seconds"], cfg["memories"]["burst_hamming"])
    plain_ids = {int(lib.ids[year[i]]) for i in moments[np.argsort(-scores[moments], kind="stable")[:PICKS]]}
    assert len(plain_ids & set(trips[0].item_ids)) > 6 and len(plain_ids & set(_day_items(db, parties[0]))) > 3

    run_selection(cfg, db, today=JANUARY)
    review = _review(db)
    assert review is not None and review["kind"] == "year_review" and review["status"] == "suggested"
    assert review["title"] == "2022 in review" and (review["start"], review["end"]) == ("2022-01-01", "2022-12-31")
    picks = review["pick_ids"]
    assert len(picks) == PICKS and set(picks) == review["member_ids"]
    day_of = _outing_days(db, picks)
    assert all(d.year == 2022 for d in day_of.values())
    months = Counter(d.month for d in day_of.values())
    assert len(months) >= 10, months
    assert max(months.values()) <= math.ceil(PICKS / len(months)) + 1, months  # an even share plus one
    days = Counter(day_of.values())
    assert max(days.values()) <= 3, days.most_common(3)
    for trip in trips:  # every trip shows, none above 15% of the picks (the gorgeous one included)
        assert 1 <= len(set(picks) & set(trip.item_ids)) <= 6, (trip.words, trip.start)
    for party in parties:
        assert 1 <= days[party] <= 3, party
    named = {name: _photos_of(db, pid) & set(picks) for name, pid in truth.people.items()}
    assert all(named.values()), {k: len(v) for k, v in named.items()}
    assert named["Clara"] & set(rare)  # on two blurred photos all year, and still in the review
    banned = set(truth.screenshots) | set(truth.messenger)
    assert not set(picks) & banned
    burst_of = {item: n for n, frames in enumerate(truth.bursts) for item in frames}
    in_bursts = [burst_of[i] for i in picks if i in burst_of]
    assert len(in_bursts) == len(set(in_bursts))

    reason = review["reason"]
    assert reason.startswith(f"2022 in review: 40 of {len(year):,} photos from {len(months)} months; ")
    assert f"{len(trips)} trips (" in reason and all(w in reason for t in trips for w in t.words)
    assert "gathering" in reason
    for name, shown in sorted(named.items(), key=lambda kv: -len(kv[1])):
        assert f"{name} in {len(shown)}" in reason
    assert set(review["people"]) == set(truth.people)


def test_the_key_and_id_stay_through_the_year_and_a_wrong_clock(tmp_path):
    db, _ = roll_db(1)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=JANUARY)
    first = _review(db)
    for today in (date(2023, 7, 1), date(2023, 12, 31), date(1970, 1, 1)):  # 1970: a Pi without its clock
        run_selection(cfg, db, today=today)
        again = _review(db)
        assert again is not None, today
        assert (again["id"], again["stable_key"], again["pick_ids"], again["reason"]) == (
            first["id"], "year:2022", first["pick_ids"], first["reason"]), today
    # the next January proposes the next year; last year's untouched suggestion drops as stale
    run_selection(cfg, db, today=date(2024, 1, 2))
    assert _review_keys(db) == {"year:2023"}
    assert _review(db, 2023)["title"] == "2023 in review"


def test_never_before_january_nor_for_the_year_still_running(tmp_path):
    db, _ = roll_db(1, years=2)  # photos from 2021-01-01 to 2022-12-31
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=date(2022, 12, 31))
    assert _review_keys(db) == {"year:2021"}
    run_selection(cfg, db, today=date(2023, 1, 1))
    assert _review_keys(db) == {"year:2022"}


def test_a_year_with_too_few_moments_for_its_picks_has_none(tmp_path):
    # 2 distinct moments per pick: the roll's ~1,700 photos of 2022 are enough for 40 picks, not for 2,000
    db, _ = roll_db(1)
    run_selection(selection_config(tmp_path / "many", year_in_review_picks=2000), db, today=JANUARY)
    assert _review_keys(db) == set()
    run_selection(selection_config(tmp_path / "usual"), db, today=JANUARY)
    assert _review_keys(db) == {"year:2022"}


def test_year_in_review_false_turns_it_off(tmp_path):
    db, _ = roll_db(1)
    run_selection(selection_config(tmp_path / "on"), db, today=JANUARY)
    assert _review_keys(db) == {"year:2022"}
    summary = run_selection(selection_config(tmp_path / "off", year_in_review=False), db, today=JANUARY)
    assert _review_keys(db) == set() and summary["dropped"] >= 1
    assert "year_review" not in summary["by_kind"]


def test_an_excluded_month_leaves_a_suggested_review_and_an_approved_one_keeps_its_picks(tmp_path):
    outcomes = {}
    for approve in (False, True):
        db, _ = roll_db(1)
        cfg = selection_config(tmp_path / str(approve))
        run_selection(cfg, db, today=JANUARY)
        before = _review(db)
        if approve:
            store_memories.approve(db, before["id"])
        result = exclusions.exclude(db, cfg, period="2022-03-01..2022-03-31", reason="hospital", today=JANUARY)
        assert result["photos"] > 0
        outcomes[approve] = (db, before, _review(db))

    db, before, after = outcomes[False]
    march = {r[0] for r in db.execute("SELECT id FROM items WHERE substr(taken_at_local, 1, 7) = '2022-03'")}
    assert set(before["pick_ids"]) & march and "from 12 months" in before["reason"]
    assert after["id"] == before["id"] and after["status"] == "suggested"
    assert len(after["pick_ids"]) == PICKS and not after["member_ids"] & march
    assert "from 11 months" in after["reason"]

    db, before, after = outcomes[True]
    assert after["status"] == "approved" and set(after["pick_ids"]) & march
    assert (after["id"], after["pick_ids"], after["title"], after["reason"]) == (
        before["id"], before["pick_ids"], before["title"], before["reason"])
    assert [e["reason"] for e in store_exclusions.list_exclusions(db)] == ["hospital"]


def test_a_hidden_person_is_on_no_pick_and_named_nowhere(tmp_path):
    db, truth = roll_db(1)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=JANUARY)
    before = _review(db)
    anna = truth.people["Anna"]
    assert set(before["pick_ids"]) & _photos_of(db, anna) and "Anna in " in before["reason"]
    assert store_hiding.hide(db, anna)
    run_selection(cfg, db, today=JANUARY)
    after = _review(db)
    assert after["id"] == before["id"] and len(after["pick_ids"]) == PICKS
    assert not after["member_ids"] & _photos_of(db, anna)
    assert "Anna" not in after["title"] + after["reason"] and "Anna" not in after["people"]
    assert "Ben in " in after["reason"] and "Clara in " in after["reason"]


def test_the_cli_lists_the_review_with_its_media(tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    cfg = config_mod.build(tmp_path / "config.toml", [library], tmp_path / "data", tmp_path / "export",
                           "Europe/Berlin")
    config_mod.save(cfg)
    db = store.connect(cfg.db_path)
    generate(db, 4, root=str(library), years=2)
    db.close()
    summary = cli_json(cfg.path, "select", "--today", "2022-03-01")
    assert summary["by_kind"]["year_review"] == 1
    [review] = cli_json(cfg.path, "memories", "--kind", "year_review", "--json")
    assert review["title"] == "2021 in review" and len(review["media"]) == PICKS
    assert all(Path(p).is_relative_to(library) for p in review["media"])
    assert review["reason"].startswith("2021 in review: 40 of ")


def test_a_photo_taken_out_of_the_review_is_the_only_one_that_goes(tmp_path):
    # 25 picks over 12 months: a month's share is 4 of 25 but only 3 of 24, so re-curating the 24 left
    # with the shares of 24 would also take one pick off every month that gives 4
    db, truth = roll_db(1)
    _gorgeous(db, next(t for t in truth.trips if t.start.year == 2022).item_ids)  # fills its month
    cfg = selection_config(tmp_path, year_in_review_picks=25)
    run_selection(cfg, db, today=JANUARY)
    before = _review(db)
    assert len(before["pick_ids"]) == 25
    month_of = {item: (d.year, d.month) for item, d in _outing_days(db, before["pick_ids"]).items()}
    months = Counter(month_of.values())
    assert len(months) == 12 and max(months.values()) == 4, months  # the case the shares of 24 would cut
    taken_out = next(item for item, month in month_of.items() if months[month] < 4)
    store_memories.remove_item(db, before["id"], taken_out)
    run_selection(cfg, db, today=JANUARY)
    after = _review(db)
    assert after["id"] == before["id"] and after["status"] == "suggested"
    assert after["pick_ids"] == [i for i in before["pick_ids"] if i != taken_out]
    assert taken_out not in after["member_ids"]
