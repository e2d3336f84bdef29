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
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.config import Config
from homeroll.daemon.memories.albums import TITLED_KINDS, AlbumNamer, titled
from homeroll.daemon.memories.curate import curate
from homeroll.daemon.memories.gatherings import find_gatherings
from homeroll.daemon.memories.home import infer_homes
from homeroll.daemon.memories.library import Library, load_library, sessions
from homeroll.daemon.memories.model import Candidate
from homeroll.daemon.memories.occasions import find_birthdays, find_holidays, find_on_this_day
from homeroll.daemon.memories.people import find_people
from homeroll.daemon.memories.periods import find_periods
from homeroll.daemon.memories.titles import PlaceNamer
from homeroll.daemon.memories.trips import find_trips
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories

log = logging.getLogger(__name__)

__all__ = ["run_selection", "propose"]


def propose(lib: Library, cfg: dict[str, Any], today: date) -> tuple[list[Candidate], dict[str, Any]]:
    """Every candidate the rules find, before identities and curation; plus facts for the summary."""
    full = lib
    lib, day_rows = full.day_based()
    homes = infer_homes(lib, cfg)
    dist = homes.distance_km(lib)
    namer = PlaceNamer(lib)

    def country_for(ordinal: int) -> str | None:
        idx = int(homes.index_for(np.array([ordinal]))[0]) if homes.homes else -1
        return homes.homes[idx].country_code if idx >= 0 else (cfg.get("home_country") or None)

    trips, outs = find_trips(lib, dist, namer, country_for, cfg)
    taken = np.zeros(len(lib), dtype=bool)
    for c in (*trips, *outs):
        taken[c.rows] = True
    gatherings = find_gatherings(lib, dist, taken, cfg)
    session_of = sessions(lib.t, float(cfg["gathering_gap_minutes"]) * 60)
    birthdays = find_birthdays(lib, session_of, cfg)
    if birthdays:
        # a party for a birthday is that birthday, not also a gathering or a holiday
        in_birthday = np.zeros(len(lib), dtype=bool)
        for b in birthdays:
            in_birthday[b.rows] = True
        gatherings = [g for g in gatherings if np.count_nonzero(in_birthday[g.rows]) * 2 < len(g.rows)]
    holidays, gatherings = find_holidays(lib, dist, taken, gatherings, country_for, cfg)
    if birthdays:
        holidays = [h for h in holidays if np.count_nonzero(in_birthday[h.rows]) * 2 < len(h.rows)]
    on_this_day = find_on_this_day(lib, today, cfg)
    if lib is not full:
        # the day rules ran on the day-precise rows; candidates hold rows of the full library
        for c in (*trips, *outs, *gatherings, *holidays, *birthdays, *on_this_day):
            c.rows = day_rows[c.rows]
    # a year is enough to place a photo in "Anna through the years"
    people = find_people(full, cfg)
    periods = find_periods(full, cfg)
    claimed = np.zeros(len(full), dtype=bool)
    for c in (*trips, *outs, *gatherings, *holidays, *birthdays):
        claimed[c.rows] = True
    # a day-dated scan folder that a day rule already made a memory of is not proposed twice
    periods = [p for p in periods if np.count_nonzero(claimed[p.rows]) * 2 < len(p.rows)]
    facts = {"homes": homes.summary(), "items": len(full)}
    return [*trips, *outs, *gatherings, *holidays, *birthdays, *people, *on_this_day, *periods], facts


def _match(candidates: list[Candidate], existing: list[dict[str, Any]], ids: np.ndarray) -> dict[int, dict]:
    """candidate index -> existing memory: by key first, then by most shared members within a kind."""
    by_key = {m["stable_key"]: m for m in existing}
    matched: dict[int, dict] = {}
    used: set[int] = set()
    for i, c in enumerate(candidates):
        m = by_key.get(c.key)
        if m is not None and m["kind"] == c.kind and m["id"] not in used:
            matched[i] = m
            used.add(m["id"])
    holders: dict[int, list[dict]] = defaultdict(list)
    for m in existing:
        if m["id"] not in used:
            for item_id in m["members"]:
                holders[item_id].append(m)
    pairs: list[tuple[int, int, int]] = []
    by_id = {m["id"]: m for m in existing}
    for i, c in enumerate(candidates):
        if i in matched or not c.match_by_overlap:
            continue
        shared: Counter[int] = Counter()
        for item_id in ids[c.rows].tolist():
            for m in holders.get(item_id, ()):
                if m["kind"] == c.kind:
                    shared[m["id"]] += 1
        pairs.extend((n, i, mid) for mid, n in shared.items())
    for _, i, mid in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if i not in matched and mid not in used:
            matched[i] = by_id[mid]
            used.add(mid)
    return matched


def _user_edited(m: dict[str, Any]) -> bool:
    return bool(m.get("user_title") or m.get("user_cover_item")
                or any(v[2] for v in m["members"].values()))


def run_selection(cfg: Config, db: Database, *, today: date | None = None) -> dict[str, Any]:
    """Propose memories from the DB; returns {created, updated, unchanged, dropped, by_kind, ...}."""
    started = time.perf_counter()
    mcfg = cfg["memories"]
    today = today or datetime.now(cfg.zone).date()
    lib = load_library(db, home_tz=cfg.home_tz, excluded_folders=list(mcfg.get("excluded_folders") or []))
    candidates, facts = propose(lib, mcfg, today)
    existing = store_memories.existing_memories(db)
    matched = _match(candidates, existing, lib.ids)
    row_of = lib.row_of()
    keys_taken = {m["stable_key"] for m in existing}
    summary: dict[str, Any] = {"created": 0, "updated": 0, "unchanged": 0, "dropped": 0, "offered": 0,
                               "rejected_kept_out": 0, "by_kind": Counter()}
    seen: set[int] = set()
    albums = AlbumNamer(lib.albums)
    with db.atomic():
        for i, c in enumerate(candidates):
            m = matched.get(i)
            member_ids = [int(x) for x in lib.ids[c.rows]]
            if m is not None:
                seen.add(m["id"])
                if m["status"] == "rejected":
                    summary["rejected_kept_out"] += 1
                    continue
                if m["status"] in ("approved", "exported"):
                    new = [x for x in member_ids if x not in m["members"]]
                    if new:
                        store_memories.offer_items(db, m["id"], new)
                        summary["offered"] += len(new)
                        summary["updated"] += 1
                    else:
                        summary["unchanged"] += 1
                    summary["by_kind"][c.kind] += 1
                    continue
            removed_ids = {x for x, v in (m["members"].items() if m else ()) if v[2]}
            removed_rows = {row_of[x] for x in removed_ids if x in row_of}
            curation = curate(lib, c.rows, mcfg, spread=c.spread, removed_rows=removed_rows)
            if curation is None:
                if m is not None:
                    seen.discard(m["id"])  # no longer proposable: treated as stale below
                continue
            summary["by_kind"][c.kind] += 1
            members = [x for x in member_ids if x not in removed_ids]
            picks = [int(lib.ids[r]) for r in curation.picks]
            title, reason = c.title, c.reason
            if c.kind in TITLED_KINDS:
                # the picks, not all members: the title should name what the memory shows
                hint = albums.hint(store_memories.primary_paths(db, picks), picks, c.start, c.end)
                if hint is not None:
                    title, reason = titled(c, hint[0], hint[1], len(picks))
            fields = {
                "kind": c.kind, "title": title, "start": c.start.isoformat(), "end": c.end.isoformat(),
                "place": c.place, "people": json.dumps(c.people, ensure_ascii=False),
                "score": round(float(c.score), 3), "reason": reason, "cover_item": int(lib.ids[curation.cover]),
            }
            if m is None:
                key = c.key
                suffix = 2
                while key in keys_taken:
                    key = f"{c.key}#{suffix}"
                    suffix += 1
                keys_taken.add(key)
                store_memories.insert_memory(db, key, fields, members, picks)
                summary["created"] += 1
                continue
            old_picks = [x for x, v in sorted(m["members"].items(), key=lambda kv: (kv[1][1] is None, kv[1][1]))
                         if v[0] and not v[2]]
            old_members = {x for x, v in m["members"].items() if not v[2]}
            same = (all(m.get(k) == v for k, v in fields.items())
                    and old_picks == picks and old_members == set(members))
            if same:
                summary["unchanged"] += 1
                continue
            store_memories.update_fields(db, m["id"], fields)
            store_memories.replace_members(db, m["id"], members, picks)
            summary["updated"] += 1
        stale = [m["id"] for m in existing
                 if m["id"] not in seen and m["status"] == "suggested" and not _user_edited(m)]
        store_memories.delete_memories(db, stale)
        summary["dropped"] = len(stale)
        store_items.kv_set(db, "memories.homes", json.dumps(facts["homes"]))
        store_items.kv_set(db, "memories.last_run", store_items.now_iso())
    summary["by_kind"] = dict(summary["by_kind"])
    summary["items"] = facts["items"]
    summary["homes"] = facts["homes"]
    summary["today"] = today.isoformat()
    summary["seconds"] = round(time.perf_counter() - started, 3)
    log.info("selection: %d created, %d updated, %d unchanged, %d dropped in %.1fs", summary["created"],
             summary["updated"], summary["unchanged"], summary["dropped"], summary["seconds"])
    return summary
