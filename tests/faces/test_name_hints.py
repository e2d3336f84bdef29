"""Takeout name offers on a real DB: offered only for a clear majority cluster, never applied on their own.

People, faces and hints are written through the real store functions (save_detection, create_person,
set_name_hints), the same ones the faces job and the indexer use; the CLI runs as a real process.
"""

from __future__ import annotations

import numpy as np
import pytest

from homeroll.daemon import store
from homeroll.daemon.errors import UserError
from homeroll.daemon.faces import hints
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import sidecars as store_sidecars
from tests.conftest import cli_json, run_cli


class Library:
    """Photos numbered from 1, each with the people (letters) in it and the names Takeout gave it."""

    def __init__(self, db) -> None:
        self.db = db
        self.items: list[int] = []
        self.faces: dict[str, list[int]] = {}
        self.people: dict[str, int] = {}

    def photo(self, people: str = "", names: tuple[str, ...] = ()) -> int:
        n = len(self.items) + 1
        record = {"hash": f"h{n}", "kind": "photo", "taken_at_local": f"2024-01-01T10:{n:02d}:00",
                  "utc_offset_min": 60, "tz_name": "Europe/Berlin", "taken_at_utc": f"2024-01-01T09:{n:02d}:00",
                  "lat": None, "lon": None, "width": 100, "height": 100}
        item = store_items.save_item(self.db, record, "/lib", f"p{n}.jpg", 10, 1)[0]
        boxes = [_face(0.1 + 0.2 * k, n * 10 + k) for k in range(len(people))]
        for who, face in zip(people, store_faces.save_detection(self.db, item, boxes), strict=True):
            self.faces.setdefault(who, []).append(face)
        if names:
            store_sidecars.set_name_hints(self.db, item, names, "takeout")
        self.items.append(item)
        return item

    def cluster(self) -> dict[str, int]:
        """Every letter becomes one (unnamed) person, as the faces job would create it."""
        for who, face_ids in sorted(self.faces.items()):
            self.people[who] = store_faces.create_person(self.db, face_ids)
        return self.people


def _face(top: float, seed: int) -> dict:
    enc = np.random.default_rng(seed).normal(0, 0.06, 128).astype(np.float32)
    return {"top": top, "left": 0.1, "bottom": top + 0.15, "right": 0.3, "det_score": 1.0, "size_px": 40,
            "encoding": enc.tobytes(), "crop": b"\xff\xd8jpeg"}


def _anna_mostly_a(lib: Library) -> dict[str, int]:
    """Seven photos called Anna: A in 4 of the 5 with faces, B in 1, two without a face at all."""
    for people in ("A", "A", "AC", "A", "B", "", ""):
        lib.photo(people, ("Anna",))
    lib.photo("B")
    lib.photo("C")
    return lib.cluster()


def test_a_majority_cluster_is_offered_the_name_and_stays_unnamed(memdb):
    ids = _anna_mostly_a(Library(memdb))
    offers = hints.offers(memdb)
    assert set(offers) == {ids["A"]}
    offer = offers[ids["A"]]
    assert offer.as_json() == {"name": "Anna", "source": "takeout", "photos": 4, "of": 5}
    assert offer.text == "Takeout calls this person Anna (4 of 5 photos)"
    # Computing offers (again) never writes a name.
    hints.offers(memdb)
    assert all(p["name"] is None for p in store_faces.list_people(memdb))


@pytest.mark.parametrize("layout", [
    ("A", "A", "A", "B", "B", "B"),  # an even split
    ("A", "A", "A", "B", "B", "C"),  # the biggest share is only half
    ("AB", "AB", "AB", "AB"),  # a couple always photographed together: a tie
    ("A", "A"),  # too few photos to mean anything
])
def test_no_offer_without_a_clear_majority(memdb, layout):
    lib = Library(memdb)
    for people in layout:
        lib.photo(people, ("Anna",))
    lib.cluster()
    assert hints.offers(memdb) == {}


def test_three_of_five_is_enough_and_names_are_kept_apart(memdb):
    lib = Library(memdb)
    for people in ("A", "A", "A", "B", "C"):
        lib.photo(people, ("Anna",))
    for people in ("B", "B", "B", "D"):
        lib.photo(people, ("Ben",))
    ids = lib.cluster()
    offers = hints.offers(memdb)
    assert {pid: o.name for pid, o in offers.items()} == {ids["A"]: "Anna", ids["B"]: "Ben"}
    assert (offers[ids["A"]].photos, offers[ids["A"]].of) == (3, 5)


def test_declined_offer_is_not_made_again_and_accept_names_the_person(memdb):
    lib = Library(memdb)
    for people in ("A", "A", "A", "B", "B", "B", "B"):
        lib.photo(people, ("Anna",) if people == "A" else ("Ben",))
    ids = lib.cluster()
    declined = hints.decline(memdb, ids["A"])
    assert declined.name == "Anna"
    assert set(hints.offers(memdb)) == {ids["B"]}
    assert store_faces.person(memdb, ids["A"])["name"] is None
    with pytest.raises(UserError, match="no name is offered"):
        hints.decline(memdb, ids["A"])
    with pytest.raises(UserError, match="no name is offered"):
        hints.accept(memdb, ids["A"])

    # The TUI passes the name it showed: a changed offer is refused, the shown one accepted.
    with pytest.raises(UserError, match="now 'Ben'"):
        hints.accept(memdb, ids["B"], "Bernd")
    assert store_faces.person(memdb, ids["B"])["name"] is None
    hints.accept(memdb, ids["B"], "Ben")
    assert store_faces.person(memdb, ids["B"])["name"] == "Ben"
    assert hints.offers(memdb) == {}


def test_named_people_and_names_in_use_are_never_offered(memdb):
    ids = _anna_mostly_a(Library(memdb))
    # Named differently: the household's name wins, and the runner-up is not offered Anna instead.
    store_faces.name_person(memdb, ids["A"], "Annie")
    assert hints.offers(memdb) == {}
    store_faces.name_person(memdb, ids["A"], "Anna")
    assert hints.offers(memdb) == {}
    # Anna already is someone else (our clustering split her): that is a merge for the household to make.
    store_faces.name_person(memdb, ids["A"], None)
    store_faces.name_person(memdb, ids["C"], "anna")
    assert hints.offers(memdb) == {}
    store_faces.name_person(memdb, ids["C"], None)
    assert set(hints.offers(memdb)) == {ids["A"]}


def test_ignored_faces_do_not_count(memdb):
    lib = Library(memdb)
    for people in ("A", "A", "A", "B"):
        lib.photo(people, ("Anna",))
    ids = lib.cluster()
    assert set(hints.offers(memdb)) == {ids["A"]}
    store_faces.ignore_faces(memdb, lib.faces["A"][:2])
    assert hints.offers(memdb) == {}


def test_two_names_for_one_person_offer_the_better_one_and_none_on_a_tie(memdb):
    lib = Library(memdb)
    for names in (("Anna", "Mum"), ("Anna", "Mum"), ("Anna", "Mum"), ("Anna",)):
        lib.photo("A", names)
    ids = lib.cluster()
    assert hints.offers(memdb)[ids["A"]].name == "Anna"
    hints.decline(memdb, ids["A"])
    assert hints.offers(memdb)[ids["A"]].name == "Mum"  # Anna was turned down; Mum is still a fair guess



def test_two_names_that_fit_one_person_equally_offer_neither(memdb):
    lib = Library(memdb)
    for _ in range(3):
        lib.photo("A", ("Anna", "Mum"))
    lib.cluster()
    assert hints.offers(memdb) == {}


@pytest.mark.parametrize("gone", ["merged", "forgotten"])
def test_declines_go_with_a_merged_or_forgotten_person(memdb, gone):
    # A deleted person's id can be handed out again: their declines must not silence the newcomer.
    ids = _anna_mostly_a(Library(memdb))
    hints.decline(memdb, ids["A"])
    assert store_sidecars.declined_name_hints(memdb) == {(ids["A"], "Anna")}
    if gone == "merged":
        store_faces.merge_people(memdb, ids["B"], ids["A"])
    else:
        store_faces.forget_person(memdb, ids["A"])
    assert store_sidecars.declined_name_hints(memdb) == set()


def test_cli_lists_accepts_and_declines_offers(make_config):
    cfg = make_config()
    db = store.connect(cfg.db_path)
    try:
        lib = Library(db)
        for people in ("A", "A", "A", "B", "B", "B", "B", "C", "C", "C"):
            lib.photo(people, {"A": ("Anna",), "B": ("Ben",), "C": ()}[people])
        ids = lib.cluster()
    finally:
        db.close()

    rows = {p["id"]: p for p in cli_json(cfg.path, "people", "--json")}
    assert rows[ids["A"]]["suggested_name"] == {"name": "Anna", "source": "takeout", "photos": 3, "of": 3}
    assert rows[ids["B"]]["suggested_name"]["name"] == "Ben"
    assert rows[ids["C"]]["suggested_name"] is None
    assert all(r["name"] is None for r in rows.values())
    text = run_cli(cfg.path, "people").stdout
    assert f"Takeout calls this person Anna (3 of 3 photos): `homeroll people accept-name {ids['A']}`" in text

    accepted = cli_json(cfg.path, "people", "accept-name", str(ids["A"]), "--json")
    assert (accepted["id"], accepted["name"], accepted["suggested_name"]) == (ids["A"], "Anna", None)
    proc = run_cli(cfg.path, "people", "decline-name", str(ids["B"]))
    assert "will not be offered again" in proc.stdout

    for command, pid in (("accept-name", ids["C"]), ("decline-name", ids["B"]), ("accept-name", 999)):
        bad = run_cli(cfg.path, "people", command, str(pid), check=False)
        assert bad.returncode == 2, (command, pid, bad.stderr)
        assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
        assert bad.stdout == ""
    rows = {p["id"]: p for p in cli_json(cfg.path, "people", "--json")}
    assert [rows[i]["name"] for i in (ids["A"], ids["B"], ids["C"])] == ["Anna", None, None]
    assert all(r["suggested_name"] is None for r in rows.values())


def test_forget_inside_a_callers_transaction_commits_nothing_behind_its_back(memdb):
    """VACUUM needs no open transaction; forget must refuse rather than commit the caller's work."""
    ids = _anna_mostly_a(Library(memdb))
    memdb.conn.execute("BEGIN")
    with pytest.raises(RuntimeError, match="inside an open transaction"):
        store_faces.forget_person(memdb, ids["A"])
    memdb.conn.rollback()
    assert ids["A"] in {p["id"] for p in store_faces.list_people(memdb)}
    assert store_faces.forget_person(memdb, ids["A"])["faces_deleted"] > 0  # outside one it works
    assert ids["A"] not in {p["id"] for p in store_faces.list_people(memdb)}
