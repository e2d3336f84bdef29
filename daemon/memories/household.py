"""The household's say before a memory exists: hidden people, excluded periods and places, its own occasions.

Selection reads them once per run (``load``) and takes the left-out photos out of the library before any
rule sees it (``leave_out``), so no rule can propose, title or pick what the household ruled out: the
rules stay as they are, and a new rule needs no checks of its own. Approved and exported memories are
never re-curated (select._Writer), so nothing here touches them; suggestions are re-selected without.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlite_utils import Database

from homeroll.daemon.memories import exclusions, hidden
from homeroll.daemon.memories.library import Library
from homeroll.daemon.store import exclusions as store_exclusions
from homeroll.daemon.store import hiding as store_hiding
from homeroll.daemon.store import occasions as store_occasions

__all__ = ["HouseholdSay", "leave_out", "load"]


@dataclass
class HouseholdSay:
    hidden: set[int] = field(default_factory=set)                # person ids
    exclusions: list[dict[str, Any]] = field(default_factory=list)
    occasions: list[dict[str, Any]] = field(default_factory=list)


def load(db: Database) -> HouseholdSay:
    return HouseholdSay(hidden=store_hiding.hidden_ids(db), exclusions=store_exclusions.list_exclusions(db),
                        occasions=store_occasions.list_occasions(db))


def leave_out(lib: Library, say: HouseholdSay, settings: dict[str, Any]) -> Library:
    """The library without the photos the household ruled out, and without the names of hidden people."""
    drop = np.zeros(len(lib), dtype=bool)
    if say.hidden:
        drop |= hidden.rows_to_drop(lib, say.hidden, settings["hide_mode"])
    if say.exclusions:
        drop |= exclusions.rows_to_drop(lib, say.exclusions)
    if drop.any():
        lib = lib.subset(np.flatnonzero(~drop))
    return hidden.without_people(lib, say.hidden) if say.hidden else lib
