"""Memories before faces: the first scan of a new library gets its suggestions at once, not at 03:30.

Selection runs on ``[memories] cron`` (nightly) and faces in budgets of ``[faces] batch_size`` on
``[faces] cron``, so a new household waited until the night for any memory, and the faces of a 100k
library took days of half-hourly budgets on a Pi. Trips, days out, gatherings, holidays and on-this-day
need no faces. So:

* when a reconcile ends on a DB where selection never ran (no ``job.select.last_run``), no memory exists
  and photos are indexed, selection is queued at once, and the faces job right after it;
* while that first backlog lasts (``FIRST_BACKLOG`` in kv, so a restart carries on with it) each faces
  budget queues the next one instead of waiting for the cron: the backlog is worked through continuously,
  which is what a household that just installed wants, and what makes the status ETA true;
* the budget that empties it queues selection again (when faces were found), so birthdays, people and
  pairs appear then. Suggestions keep their identity (their keys) through that run as through any other.

After the first backlog the cron pace is back: photos added later are a few budgets, and selection does
not run again after each of them. Everything here returns commands for the index worker, like the
scheduler's: the single writer runs them between files (new files first), and a selection never follows a
faces chunk, only the end of the backlog.
"""

from __future__ import annotations

import logging

from homeroll.daemon.config import Config
from homeroll.daemon.service.commands import Job
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store import service as store_service

log = logging.getLogger(__name__)

__all__ = ["FIRST_BACKLOG", "PENDING", "after_faces", "after_reconcile"]

#: kv: "pending" while the first scan's faces backlog is worked through, then when it ended (ISO time).
FIRST_BACKLOG = "service.first_faces_backlog"
PENDING = "pending"


def _faces_waiting(cfg: Config, db) -> bool:
    return bool(cfg["faces"]["enabled"]) and bool(store_faces.todo_items(db, cfg["faces"]["disabled_roots"], limit=1))


def after_reconcile(cfg: Config, db) -> list[Job]:
    """What to queue when a reconcile ends: selection then faces on a new library; the faces of an
    unfinished first backlog after a restart; else nothing."""
    if store_items.kv_get(db, FIRST_BACKLOG) == PENDING:
        return [Job("faces")] if cfg["faces"]["enabled"] else []
    if store_items.kv_get(db, store_service.job_key("select", "last_run")) is not None:
        return []  # selection ran once (or failed, which records it too): the schedule takes it from here
    if store_items.counts(db)["items"] == 0:
        return []  # nothing indexed yet (an empty or offline root): the next reconcile looks again
    if store_memories.existing_memories(db):
        return []  # memories made some other way (an import, a test): not a new library, the crons decide
    queued = [Job("select")]
    if _faces_waiting(cfg, db):
        store_items.kv_set(db, FIRST_BACKLOG, PENDING)
        queued.append(Job("faces"))
    log.info("first scan of this library: memory selection now, then %s",
             "the faces job until every photo is scanned" if len(queued) > 1 else "nothing else")
    return queued


def after_faces(cfg: Config, db, yielded: bool) -> list[Job]:
    """What to queue when a faces budget ends. ``yielded``: it stopped early for new files, and the rest
    of its batch comes after them (as always). During the first backlog: the next budget, or, once no
    photo waits, selection again."""
    if yielded:
        return [Job("faces")]
    if store_items.kv_get(db, FIRST_BACKLOG) != PENDING:
        return []
    if _faces_waiting(cfg, db):
        return [Job("faces")]
    store_items.kv_set(db, FIRST_BACKLOG, store_items.now_iso())
    if not cfg["faces"]["enabled"] or store_faces.last_face_id(db) == 0:
        return []  # no face anywhere: nothing for a second selection to add
    log.info("faces: the first scan's backlog is done; memory selection again, for people and birthdays")
    return [Job("select")]
