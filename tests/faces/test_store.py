"""The people store on an in-memory DB: rescans, user decisions, validation."""

from __future__ import annotations

import numpy as np
import pytest

from homeroll.daemon.errors import UserError
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import items as store_items


def _item(db, n: int) -> int:
    record = {"hash": f"h{n}", "kind": "photo", "taken_at_local": f"2024-01-0{n}T10:00:00", "utc_offset_min": 60,
              "tz_name": "Europe/Berlin", "taken_at_utc": f"2024-01-0{n}T09:00:00", "lat": None, "lon": None,
              "width": 100, "height": 100}
    return store_items.save_item(db, record, "/lib", f"p{n}.jpg", 10, 1)[0]


def _face(top: float, seed: int) -> dict:
    enc = np.random.default_rng(seed).normal(0, 0.06, 128).astype(np.float32)
    return {"top": top, "left": 0.1, "bottom": top + 0.2, "right": 0.3, "det_score": 1.0, "size_px": 40,
            "encoding": enc.tobytes(), "crop": b"\xff\xd8jpeg"}


def test_rescan_keeps_user_faces_without_duplicating_them(memdb):
    item = _item(memdb, 1)
    first, second = store_faces.save_detection(memdb, item, [_face(0.1, 1), _face(0.5, 2)])
    person = store_faces.move_face(memdb, first, None)
    store_faces.save_detection(memdb, item, [_face(0.1, 1), _face(0.5, 2)])
    faces = store_faces.faces_for_item(memdb, item)
    assert len(faces) == 2
    assert [f["person_id"] for f in faces if f["assigned_by"] == "user"] == [person]
    assert store_faces.people_for_items(memdb, [item]) == {item: [person]}


def test_birthdays_names_and_unknown_ids(memdb):
    item = _item(memdb, 2)
    (face,) = store_faces.save_detection(memdb, item, [_face(0.1, 3)])
    person = store_faces.move_face(memdb, face, None)
    for good in ("02-29", "1990-12-31"):
        store_faces.name_person(memdb, person, "Anna", good)
        assert store_faces.person(memdb, person)["birthday"] == good
    for bad in ("13-01", "1990-02-30", "yesterday", "2-3"):
        with pytest.raises(UserError):
            store_faces.name_person(memdb, person, "Anna", bad)
    with pytest.raises(UserError):
        store_faces.name_person(memdb, 999, "Nobody")
    with pytest.raises(UserError):
        store_faces.move_face(memdb, 999, None)
    assert store_faces.face_crop(memdb, face) == b"\xff\xd8jpeg"


def test_moving_the_last_face_away_drops_an_unnamed_person_but_keeps_a_named_one(memdb):
    item = _item(memdb, 3)
    a, b = store_faces.save_detection(memdb, item, [_face(0.1, 4), _face(0.5, 5)])
    unnamed = store_faces.move_face(memdb, a, None)
    named = store_faces.move_face(memdb, b, None)
    store_faces.name_person(memdb, named, "Ben")
    target = store_faces.move_face(memdb, a, None)
    store_faces.move_face(memdb, b, target)
    ids = {p["id"] for p in store_faces.list_people(memdb)}
    assert unnamed not in ids and named in ids
