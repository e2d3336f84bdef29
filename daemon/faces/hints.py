"""Name offers from Google Takeout: when a name Google gave is mostly one face cluster, offer it for that person.

Takeout sidecars name the people Google recognised in a photo, but its clusters are not ours: a
name is only a guess about one of our people when most of the photos carrying it show that person,
and clearly more than anyone else (a couple photographed together is a tie, so no offer). It stays
an offer: nothing here names or merges anyone. Only the household's accept (the same path as
naming by hand) writes a name, and a decline is remembered so the same offer never comes back.

Decided on purpose:

* A person who already has a name gets no offer, whatever Takeout says: the household's name wins.
* If the cluster holding the name is named, no one else is offered that name either.
* A name that some other person already carries (compared case-insensitively) is not offered: that
  usually means our clustering split one person in two, and the fix is a merge the household makes.
* When two names point at one person, the one with more photos is offered; an exact tie offers none.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from homeroll.daemon.errors import UserError
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import sidecars as store_sidecars

__all__ = ["MIN_PHOTOS", "MIN_SHARE", "Offer", "accept", "decline", "offer_for", "offers"]

#: Fewer hinted photos than this in one cluster is coincidence, not evidence.
MIN_PHOTOS = 3
#: Share of the hinted photos (those with an assigned face) the cluster must appear in.
MIN_SHARE = 0.6
#: Where the hints come from; the sidecar store records only Takeout names today.
SOURCE = "takeout"


@dataclass(frozen=True)
class Offer:
    person_id: int
    name: str
    photos: int  # hinted photos this person appears in
    of: int  # hinted photos with at least one assigned face
    source: str = SOURCE

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "photos": self.photos, "of": self.of}

    @property
    def text(self) -> str:
        return f"Takeout calls this person {self.name} ({self.photos} of {self.of} photos)"


def _candidates(db: Database) -> list[Offer]:
    """For each hinted name, the person it most likely is, if the evidence is a clear majority."""
    items_by_name: dict[str, set[int]] = {}
    for item_id, name in store_sidecars.name_hints(db):
        name = (name or "").strip()
        if name:
            items_by_name.setdefault(name, set()).add(int(item_id))
    if not items_by_name:
        return []
    people_by_item = store_faces.people_in_items(db, {i for items in items_by_name.values() for i in items},
                                                  with_ignored=False)
    names = store_faces.people_names(db)
    taken = {n.casefold() for n in names.values() if n}
    out = []
    for name, items in sorted(items_by_name.items()):
        # Photos where we found no assigned face say nothing about which cluster the name is.
        with_faces = [i for i in items if people_by_item.get(i)]
        if len(with_faces) < MIN_PHOTOS:
            continue
        counts = Counter(p for i in with_faces for p in people_by_item[i])
        (top, photos), *rest = counts.most_common(2)
        runner_up = rest[0][1] if rest else 0
        if photos < MIN_PHOTOS or photos < MIN_SHARE * len(with_faces) or photos <= runner_up:
            continue
        if names.get(top) or name.casefold() in taken:
            continue
        out.append(Offer(person_id=top, name=name, photos=photos, of=len(with_faces)))
    return out


def offers(db: Database) -> dict[int, Offer]:
    """person id -> the one name offered for them (unnamed people only; declined offers left out)."""
    declined = store_sidecars.declined_name_hints(db)
    by_person: dict[int, list[Offer]] = {}
    for offer in _candidates(db):
        if (offer.person_id, offer.name) not in declined:
            by_person.setdefault(offer.person_id, []).append(offer)
    out = {}
    for person_id, choices in by_person.items():
        choices.sort(key=lambda o: (o.photos, o.photos / o.of), reverse=True)
        best = choices[0]
        if len(choices) > 1 and (choices[1].photos, choices[1].photos / choices[1].of) == (best.photos,
                                                                                           best.photos / best.of):
            continue  # two names fit this person equally well: offering either would be a coin toss
        out[person_id] = best
    return out


def offer_for(db: Database, person_id: int) -> Offer | None:
    return offers(db).get(person_id)


def _require_offer(db: Database, person_id: int, name: str | None) -> Offer:
    if store_faces.person(db, person_id) is None:
        raise UserError(f"no person with id {person_id} (see `homeroll people`)")
    offer = offer_for(db, person_id)
    if offer is None:
        raise UserError(f"no name is offered for person {person_id} (see `homeroll people --json`)")
    # The TUI passes the name it showed: if the offer changed since, the user did not agree to the new one.
    if name is not None and offer.name != name:
        raise UserError(f"the name offered for person {person_id} is now {offer.name!r}, not {name!r}")
    return offer


def accept(db: Database, person_id: int, name: str | None = None) -> Offer:
    """Name the person as offered, through the same store call as naming by hand."""
    offer = _require_offer(db, person_id, name)
    store_faces.name_person(db, person_id, offer.name)
    return offer


def decline(db: Database, person_id: int, name: str | None = None) -> Offer:
    """Remember that this person is not the offered name, so it is not offered again."""
    offer = _require_offer(db, person_id, name)
    store_sidecars.decline_name_hint(db, person_id, offer.name)
    return offer
