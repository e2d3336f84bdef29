"""The selection job: rules propose candidates, identities are matched, the user's decisions win.

Identity: each candidate has a natural key ("birthday:3:2024", "holiday:2024-12-24",
"on_this_day:2025-08-04"). Span memories (trips, days out, gatherings) whose key moves when photos
are added (an earlier photo changes the start) are matched to the existing memory of the same kind
that shares the most members, so a trip keeps its id and its stable_key for ever.

The user's word: a rejected memory is never proposed again (its row stays as a tombstone and keeps
matching); an approved or exported one keeps its picks, and new members are only *offered*;
user titles, covers and removed photos are separate columns that selection never overwrites.
Suggestions that no rule proposes any more are dropped unless the user edited them.

Dates: the day rules (trips, days out, gatherings, holidays, birthdays, on this day) see only photos
dated at least to the day; photos dated to a month or year feed people and period memories. A
memory whose picks mostly sit in one titled folder is named after it (memories.albums).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from typing import Any

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.ingest.geocode import lookup_place
from homeroll.daemon.memories import household
from homeroll.daemon.memories.albums import TITLED_KINDS, AlbumNamer, titled
from homeroll.daemon.memories.curate import Curation, curate
from homeroll.daemon.memories.family_occasions import find_occasions
from homeroll.daemon.memories.gatherings import find_gatherings
from homeroll.daemon.memories.home import infer_homes
from homeroll.daemon.memories.library import Library, load_library, sessions
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.occasions import find_birthdays, find_holidays, find_on_this_day
from homeroll.daemon.memories.people import find_people
from homeroll.daemon.memories.periods import find_periods
from homeroll.daemon.memories.titles import PlaceAt, PlaceNamer
from homeroll.daemon.memories.trips import find_trips
from homeroll.daemon.memories.year_review import find_year_in_review
from homeroll.daemon.store import clock as store_clock
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import leftout as store_leftout
from homeroll.daemon.store import memories as store_memories

log = logging.getLogger(__name__)

__all__ = ["run_selection", "propose"]


def propose(lib: Library, settings: dict[str, Any], today: date, place_at: PlaceAt,
            trusted: date | None = None, occasions: list[dict[str, Any]] | None = None,
            ) -> tuple[list[Candidate], dict[str, Any]]:
    """Every candidate the rules find, before identities and curation; plus facts for the summary.

    ``settings`` is the ``[memories]`` section; ``place_at`` names positions without a stored place;
    ``trusted`` is the DB's trusted date (store.clock), which on-this-day checks today against;
    ``occasions`` are the family's own (store.occasions rows).
    """
    full = lib
    lib, day_rows = full.day_based()
    homes = infer_homes(lib, settings, place_at)
    dist = homes.distance_km(lib)
    namer = PlaceNamer(lib, place_at)

    def country_for(ordinal: int) -> str | None:
        idx = int(homes.index_for(np.array([ordinal]))[0]) if homes.homes else -1
        return homes.homes[idx].country_code if idx >= 0 else (settings["home_country"] or None)

    trips, outs = find_trips(lib, dist, namer, country_for, settings)
    taken = np.zeros(len(lib), dtype=bool)
    for c in (*trips, *outs):
        taken[c.rows] = True
    gatherings = find_gatherings(lib, dist, taken, settings)
    session_of = sessions(lib.t, float(settings["gathering_gap_minutes"]) * 60)
    birthdays = find_birthdays(lib, session_of, settings)
    if birthdays:
        # a party for a birthday is that birthday, not also a gathering or a holiday
        in_birthday = np.zeros(len(lib), dtype=bool)
        for b in birthdays:
            in_birthday[b.rows] = True
        gatherings = [g for g in gatherings if np.count_nonzero(in_birthday[g.rows]) * 2 < len(g.rows)]
    holidays, gatherings = find_holidays(lib, dist, taken, gatherings, country_for, settings)
    if birthdays:
        holidays = [h for h in holidays if np.count_nonzero(in_birthday[h.rows]) * 2 < len(h.rows)]
    own = find_occasions(lib, session_of, occasions or [], settings)
    if own:
        # the family named the day: a gathering or holiday on it is that occasion, not a second memory
        gatherings, holidays = _yield_to(own, gatherings, len(lib)), _yield_to(own, holidays, len(lib))
    on_this_day = find_on_this_day(lib, today, settings, trusted)
    if lib is not full:
        # the day rules ran on the day-precise rows; candidates hold rows of the full library
        for c in (*trips, *outs, *gatherings, *holidays, *birthdays, *own, *on_this_day):
            c.rows = day_rows[c.rows]
    # a year is enough to place a photo in "Anna through the years"
    people = find_people(full, settings)
    periods = find_periods(full, settings)
    claimed = np.zeros(len(full), dtype=bool)
    for c in (*trips, *outs, *gatherings, *holidays, *birthdays, *own):
        claimed[c.rows] = True
    # a day-dated scan folder that a day rule already made a memory of is not proposed twice
    periods = [p for p in periods if np.count_nonzero(claimed[p.rows]) * 2 < len(p.rows)]
    facts = {"homes": homes.summary(), "items": len(full)}
    found = [*trips, *outs, *gatherings, *holidays, *birthdays, *own, *people, *on_this_day, *periods]
    if settings["year_in_review"]:
        found += find_year_in_review(full, found, today, settings)
    return found, facts


def _yield_to(winners: list[Candidate], others: list[Candidate], size: int) -> list[Candidate]:
    """``others`` without those whose photos are mostly in one of ``winners`` (rows of one library)."""
    won = np.zeros(size, dtype=bool)
    for w in winners:
        won[w.rows] = True
    return [c for c in others if np.count_nonzero(won[c.rows]) * 2 < len(c.rows)]


def _match(candidates: list[Candidate], existing: list[dict[str, Any]], ids: np.ndarray) -> dict[int, dict]:
    """candidate index -> existing memory: by key first, then by most shared members within a kind."""
    matched = _match_by_key(candidates, existing)
    used = {m["id"] for m in matched.values()}
    by_id = {m["id"]: m for m in existing}
    for _, i, memory_id in sorted(_overlaps(candidates, existing, ids, matched), key=lambda p: (-p[0], p[1], p[2])):
        if i not in matched and memory_id not in used:
            matched[i] = by_id[memory_id]
            used.add(memory_id)
    return matched


def _match_by_key(candidates: list[Candidate], existing: list[dict[str, Any]]) -> dict[int, dict]:
    by_key = {m["stable_key"]: m for m in existing}
    matched: dict[int, dict] = {}
    used: set[int] = set()
    for i, c in enumerate(candidates):
        m = by_key.get(c.key)
        if m is not None and m["kind"] == c.kind and m["id"] not in used:
            matched[i] = m
            used.add(m["id"])
    return matched


def _overlaps(candidates: list[Candidate], existing: list[dict[str, Any]], ids: np.ndarray,
              matched: dict[int, dict]) -> list[tuple[int, int, int]]:
    """(shared members, candidate index, memory id) for each span candidate and memory of its kind not yet matched."""
    used = {m["id"] for m in matched.values()}
    holders: dict[int, list[dict]] = defaultdict(list)
    for m in existing:
        if m["id"] not in used:
            for item_id in m["members"]:
                holders[item_id].append(m)
    pairs: list[tuple[int, int, int]] = []
    for i, c in enumerate(candidates):
        if i in matched or not c.match_by_overlap:
            continue
        shared: Counter[int] = Counter()
        for item_id in ids[c.rows].tolist():
            for m in holders.get(item_id, ()):
                if m["kind"] == c.kind:
                    shared[m["id"]] += 1
        pairs.extend((n, i, memory_id) for memory_id, n in shared.items())
    return pairs


def _removed_ids(m: dict[str, Any] | None) -> set[int]:
    """The items the user took out of a memory: they stay out of every later version of it."""
    return {item_id for item_id, member in (m["members"].items() if m else ()) if member.removed_by_user}


def _user_edited(m: dict[str, Any]) -> bool:
    return bool(m.get("user_title") or m.get("user_cover_item") or _removed_ids(m))


class _Writer:
    """Stores each candidate against the memory it matched, so the user's word wins; counts what it did."""

    def __init__(self, db: Database, lib: Library, settings: dict[str, Any], existing: list[dict[str, Any]]) -> None:
        self.db, self.lib, self.settings = db, lib, settings
        self.row_of = lib.row_of()
        self.keys_taken = {m["stable_key"] for m in existing}
        self.albums = AlbumNamer(lib.albums)
        self.seen: set[int] = set()  # ids of the memories some candidate still proposes
        self.stale: set[int] = set()  # ids of the suggestions dropped in this run
        self.summary: dict[str, Any] = {"created": 0, "updated": 0, "unchanged": 0, "dropped": 0, "offered": 0,
                                        "rejected_kept_out": 0, "by_kind": Counter()}

    def write(self, c: Candidate, m: dict[str, Any] | None) -> None:
        member_ids = [int(x) for x in self.lib.ids[c.rows]]
        if m is not None:
            self.seen.add(m["id"])
            if m["status"] == "rejected":
                self.summary["rejected_kept_out"] += 1
                return
            if m["status"] in ("approved", "exported"):
                self._offer(m, c.kind, member_ids)
                return
        removed_ids = _removed_ids(m)
        removed_rows = {self.row_of[x] for x in removed_ids if x in self.row_of}
        settings = self.settings if c.max_picks is None else {**self.settings, "max_picks": c.max_picks}
        curation = curate(self.lib, c.rows, settings, spread=c.spread, removed_rows=removed_rows)
        if curation is None:
            if m is not None:
                self.seen.discard(m["id"])  # no longer proposable: treated as stale below
            return
        self.summary["by_kind"][c.kind] += 1
        members = [x for x in member_ids if x not in removed_ids]
        picks = [int(self.lib.ids[r]) for r in curation.picks]
        fields = self._fields(c, curation, picks)
        if m is None:
            self._insert(c.key, fields, members, picks)
        else:
            self._update(m, fields, members, picks)

    def _offer(self, m: dict[str, Any], kind: str, member_ids: list[int]) -> None:
        """An approved or exported memory keeps its picks; photos new to it are only offered."""
        new = [x for x in member_ids if x not in m["members"]]
        if new:
            store_memories.offer_items(self.db, m["id"], new)
            self.summary["offered"] += len(new)
            self.summary["updated"] += 1
        else:
            self.summary["unchanged"] += 1
        self.summary["by_kind"][kind] += 1

    def _fields(self, c: Candidate, curation: Curation, picks: list[int]) -> dict[str, Any]:
        title, reason = c.title, c.reason
        if c.kind in TITLED_KINDS:
            # the picks, not all members: the title should name what the memory shows
            hint = self.albums.hint(store_memories.folder_paths(self.db, picks), picks, c.start, c.end)
            if hint is not None:
                album, in_album = hint
                title, reason = titled(c, album, in_album, len(picks))
        return {
            "kind": c.kind, "title": title, "start": c.start.isoformat(), "end": c.end.isoformat(),
            "place": c.place, "people": json.dumps(c.people, ensure_ascii=False),
            "score": round(float(c.score), 3), "reason": reason, "cover_item": int(self.lib.ids[curation.cover]),
        }

    def _insert(self, natural_key: str, fields: dict[str, Any], members: list[int], picks: list[int]) -> None:
        key = natural_key
        suffix = 2
        while key in self.keys_taken:
            key = f"{natural_key}#{suffix}"
            suffix += 1
        self.keys_taken.add(key)
        store_memories.insert_memory(self.db, key, fields, members, picks)
        self.summary["created"] += 1

    def _update(self, m: dict[str, Any], fields: dict[str, Any], members: list[int], picks: list[int]) -> None:
        by_rank = sorted(m["members"].items(), key=lambda kv: (kv[1].rank is None, kv[1].rank))
        old_picks = [x for x, member in by_rank if member.picked and not member.removed_by_user]
        old_members = {x for x, member in m["members"].items() if not member.removed_by_user}
        if all(m.get(k) == v for k, v in fields.items()) and old_picks == picks and old_members == set(members):
            self.summary["unchanged"] += 1
            return
        store_memories.update_fields(self.db, m["id"], fields)
        store_memories.replace_members(self.db, m["id"], members, picks)
        self.summary["updated"] += 1

    def drop_stale(self, existing: list[dict[str, Any]]) -> None:
        """Suggestions no rule proposes any more go, unless the user edited them."""
        stale = [m["id"] for m in existing
                 if m["id"] not in self.seen and m["status"] == "suggested" and not _user_edited(m)]
        store_memories.delete_memories(self.db, stale)
        self.summary["dropped"] = len(stale)
        self.stale = set(stale)

    def withdraw(self, existing: list[dict[str, Any]], left_out: list[int]) -> None:
        """Left-out photos leave what was not re-curated: an edited suggestion kept, an approved one's offers."""
        gone = set(left_out)
        for m in existing if gone else ():
            if m["id"] in self.seen and m["status"] == "suggested" or m["id"] in self.stale:
                continue  # re-curated from the library without them, or gone
            hit = gone.intersection(m["members"])
            if hit and m["status"] != "rejected":
                store_leftout.withdraw(self.db, m["id"], sorted(hit), offered_only=m["status"] != "suggested")


def run_selection(cfg: Config, db: Database, *, today: date | None = None,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Propose memories from the DB; returns {created, updated, unchanged, dropped, by_kind, ...}.

    ``progress(done, 3)`` counts its stages (library loaded, candidates proposed, written): the writes
    are one transaction, so a count inside it could not be seen before it ends anyway.
    """
    started = time.perf_counter()
    report = progress or (lambda done, total: None)
    settings = cfg["memories"]
    today = today or datetime.now(cfg.zone).date()
    # a root taken out of the config is excluded like a folder: its photos feed no new memory
    excluded = [*settings["excluded_folders"], *store_items.removed_roots(db)]
    lib = load_library(db, home_tz=cfg.home_tz, excluded_folders=excluded)
    say = household.load(db)
    kept = household.leave_out(lib, say, settings)  # hidden people, excluded periods and places
    left_out = np.setdiff1d(lib.ids, kept.ids).tolist() if kept is not lib else []
    lib = kept
    report(1, 3)
    # places for positions without a stored one come from ingest's geocoder, so titles and items agree
    trusted = store_clock.trusted_now(db).astimezone(cfg.zone).date()  # a photo dated after it is no "newest"
    candidates, facts = propose(lib, settings, today, partial(lookup_place, cfg, db), trusted, say.occasions)
    report(2, 3)
    with db.atomic():  # the household's decisions are read in the transaction that writes beside them
        existing = store_memories.existing_memories(db)
        matched = _match(candidates, existing, lib.ids)
        writer = _Writer(db, lib, settings, existing)
        for i, c in enumerate(candidates):
            writer.write(c, matched.get(i))
        writer.drop_stale(existing)
        writer.withdraw(existing, left_out)
        store_items.kv_set(db, "memories.homes", json.dumps(facts["homes"]))
    report(3, 3)
    summary = writer.summary
    summary["by_kind"] = dict(summary["by_kind"])
    summary["items"] = facts["items"]
    summary["homes"] = facts["homes"]
    summary["today"] = today.isoformat()
    summary["seconds"] = round(time.perf_counter() - started, 3)
    log.info("selection: %d created, %d updated, %d unchanged, %d dropped in %.1fs", summary["created"],
             summary["updated"], summary["unchanged"], summary["dropped"], summary["seconds"])
    return summary
