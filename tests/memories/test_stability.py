"""Identity across runs and the user's word: rejections, approvals, titles, removed photos, covers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from homeroll.daemon.memories.select import run_selection
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories
from tests.memories.conftest import TODAY, roll_db, selection_config

SEED = 2


def _snapshot(db):
    return {m["stable_key"]: (m["id"], m["status"]) for m in store_memories.list_memories(db)}


def _add_photos(db, day: date, lat: float, lon: float, tz: str, count: int, tag: str) -> list[int]:
    """New photos arriving late (a second phone syncing), written like the indexer would."""
    ids = []
    zone = ZoneInfo(tz)
    for k in range(count):
        local = datetime(day.year, day.month, day.day, 11, 0) + timedelta(minutes=7 * k)
        aware = local.replace(tzinfo=zone)
        record = {
            "hash": f"late-{tag}-{k}", "kind": "photo", "taken_at_local": local.isoformat(),
            "utc_offset_min": int(aware.utcoffset().total_seconds() // 60), "tz_name": tz,
            "taken_at_utc": aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "lat": lat + k * 1e-3, "lon": lon, "width": 4000, "height": 3000, "quality": 0.97,
            "phash": f"{(k * 0x9E3779B97F4A7C15 + 7) & 0xFFFFFFFFFFFFFFFF:016x}",
        }
        item_id, _ = store_items.save_item(db, record, "/library", f"Phone2/{tag}_{k}.jpg", 1000, 1)
        ids.append(item_id)
    return ids


def _first_trip(db, truth):
    trips = sorted(store_memories.list_memories(db, kind="trip"), key=lambda m: m["start"])
    return trips[0], truth.trips[0]


def test_rerun_changes_nothing(tmp_path):
    db, _ = roll_db(SEED)
    cfg = selection_config(tmp_path)
    first = run_selection(cfg, db, today=TODAY)
    before = _snapshot(db)
    second = run_selection(cfg, db, today=TODAY)
    assert first["created"] == len(before) and len(before) > 20
    assert second["created"] == 0 and second["updated"] == 0 and second["dropped"] == 0
    assert _snapshot(db) == before
    assert len({m["stable_key"] for m in store_memories.list_memories(db)}) == len(before)


def test_a_trip_keeps_its_identity_when_photos_are_added(tmp_path):
    db, truth = roll_db(SEED)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    trip, expected = _first_trip(db, truth)
    # a second phone adds photos at the destination, one day earlier than anything so far
    lat, lon = 48.1351, 11.5820  # seed 2 starts with Munich
    assert "Munich" in trip["title"]
    earlier = expected.start - timedelta(days=1)
    new = _add_photos(db, earlier, lat, lon, "Europe/Berlin", 8, "early")
    summary = run_selection(cfg, db, today=TODAY)
    assert summary["created"] == 0
    again = store_memories.get_memory(db, trip["id"])
    assert again["stable_key"] == trip["stable_key"]
    assert again["start"] == earlier.isoformat()
    members = {r[0] for r in db.execute("SELECT item_id FROM memory_items WHERE memory_id = ?", [trip["id"]])}
    assert set(new) <= members


def test_rejected_memories_never_come_back(tmp_path):
    db, truth = roll_db(SEED)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    trip, expected = _first_trip(db, truth)
    gathering = store_memories.list_memories(db, kind="gathering")[0]
    store_memories.reject(db, trip["id"])
    store_memories.reject(db, gathering["id"])
    count = len(store_memories.list_memories(db))
    _add_photos(db, expected.start, 48.1351, 11.5820, "Europe/Berlin", 10, "more")
    summary = run_selection(cfg, db, today=TODAY)
    assert summary["rejected_kept_out"] == 2 and summary["created"] == 0
    assert len(store_memories.list_memories(db)) == count
    assert store_memories.get_memory(db, trip["id"])["status"] == "rejected"
    suggested_trips = store_memories.list_memories(db, kind="trip", status="suggested")
    assert not any(m["start"] <= expected.end.isoformat() and m["end"] >= expected.start.isoformat()
                   for m in suggested_trips)


def test_approved_memories_keep_their_picks_and_are_offered_new_photos(tmp_path):
    db, truth = roll_db(SEED)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    trip, expected = _first_trip(db, truth)
    store_memories.approve(db, trip["id"])
    picks = [m["item_id"] for m in store_memories.get_memory(db, trip["id"])["media"]]
    new = _add_photos(db, expected.start + timedelta(days=1), 48.1351, 11.5820, "Europe/Berlin", 6, "offer")
    run_selection(cfg, db, today=TODAY)
    after = store_memories.get_memory(db, trip["id"])
    assert after["status"] == "approved"
    assert [m["item_id"] for m in after["media"]] == picks
    assert {o["item_id"] for o in after["offered"]} == set(new)
    assert trip["id"] in store_memories.approved_not_exported(db)
    store_memories.mark_exported(db, trip["id"])
    assert trip["id"] not in store_memories.approved_not_exported(db)
    assert run_selection(cfg, db, today=TODAY)["created"] == 0


def test_user_titles_removed_photos_and_covers_persist(tmp_path):
    db, _ = roll_db(SEED)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    memory = store_memories.list_memories(db, kind="gathering")[0]
    detail = store_memories.get_memory(db, memory["id"])
    removed = detail["media"][0]["item_id"]
    cover = detail["media"][-1]["item_id"]
    store_memories.rename(db, memory["id"], "Grandma's garden party")
    store_memories.remove_item(db, memory["id"], removed)
    store_memories.set_cover(db, memory["id"], cover)
    run_selection(cfg, db, today=TODAY)
    after = store_memories.get_memory(db, memory["id"])
    assert after["title"] == "Grandma's garden party"
    assert removed not in [m["item_id"] for m in after["media"]]
    assert removed in after["removed"]
    assert after["cover"] == cover
    assert len(after["media"]) >= 6


def test_on_this_day_is_stable_for_a_day_and_refreshed_the_next(tmp_path):
    db, _ = roll_db(SEED)
    cfg = selection_config(tmp_path)
    run_selection(cfg, db, today=TODAY)
    [first] = store_memories.list_memories(db, kind="on_this_day")
    run_selection(cfg, db, today=TODAY)
    assert [m["id"] for m in store_memories.list_memories(db, kind="on_this_day")] == [first["id"]]
    summary = run_selection(cfg, db, today=TODAY + timedelta(days=1))
    [second] = store_memories.list_memories(db, kind="on_this_day")
    assert second["id"] != first["id"] and summary["dropped"] == 1
    store_memories.approve(db, second["id"])
    run_selection(cfg, db, today=TODAY + timedelta(days=2))
    kept = {m["id"] for m in store_memories.list_memories(db, kind="on_this_day")}
    assert second["id"] in kept and len(kept) == 2


def test_works_without_faces_or_people(tmp_path):
    db, truth = roll_db(SEED)
    with db.atomic():
        db.execute("DELETE FROM faces")
        db.execute("UPDATE items SET face_count = 0")
        db.execute("DELETE FROM people")
    run_selection(selection_config(tmp_path), db, today=TODAY)
    kinds = {m["kind"] for m in store_memories.list_memories(db)}
    assert {"trip", "gathering", "holiday"} <= kinds
    assert not kinds & {"birthday", "people"}
    assert len(store_memories.list_memories(db, kind="trip")) == len(truth.trips)


def test_excluded_folders_are_left_out(tmp_path):
    db, _ = roll_db(SEED)
    run_selection(selection_config(tmp_path, excluded_folders=["2022"]), db, today=TODAY)
    years = {r[0][:4] for r in db.execute(
        "SELECT i.taken_at_local FROM memory_items mi JOIN items i ON i.id = mi.item_id")}
    assert "2022" not in years and "2021" in years


def test_configured_home_wins(tmp_path):
    db, _ = roll_db(SEED)
    summary = run_selection(selection_config(tmp_path, home_lat=52.52, home_lon=13.405), db, today=TODAY)
    assert len(summary["homes"]) == 1 and summary["homes"][0]["place"] == "Berlin"


def test_unknown_ids_are_user_errors(tmp_path):
    import pytest

    from homeroll.daemon.errors import UserError

    db, _ = roll_db(SEED)
    for call in (store_memories.approve, store_memories.reject, store_memories.mark_exported):
        with pytest.raises(UserError):
            call(db, 999_999)
    with pytest.raises(UserError):
        store_memories.rename(db, 999_999, "x")
    assert store_memories.get_memory(db, 999_999) is None
