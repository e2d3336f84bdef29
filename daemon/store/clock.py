"""The time the DB can trust, for a Pi without a real-time clock.

Such a Pi boots in 1970 (or at the time fake-hwclock saved, which may be months old) and jumps forward
when NTP syncs, minutes later. Read as "now", that clock would stamp deleted files as missing since
1970, so the next purge after the jump deletes them at once; it would make every capture date after
1970 "in the future"; and it would make an on-this-day memory for a day long gone.

So the DB keeps a high-water mark: the latest wall-clock time it has seen (``clock.high_water`` in kv,
moved forward at most every few minutes). Together with ``FLOOR``, the day this version was released
(no clock that reads earlier is right), it gives ``trusted_now``. While the system clock reads more
than a few minutes before it, the clock is behind: nothing is marked missing and nothing is purged
(a reconcile after the jump does that with a right clock), and the analyse workers judge "future"
dates against the trusted time instead (``worker_floor``, read by ``ingest.timeinfo``).

A clock that was once far ahead (a bad RTC, a wrong date set by hand) would leave the high water in the
future, and every right clock after it would be "behind" until that date. A step back that the running
service sees (``service.clockwatch``) is a correction, so it resets the mark (``accept_correction``); so
does a clock behind the mark that the kernel says is NTP-synchronised (a correction made while the service
was down), with one warning. The store runs no command to learn that: the caller passes the answer
(``synchronized=``), or the service installs the check once (``use_sync_check``), which is asked only while
the clock is behind, at most once a minute, and only about the real system clock (not an injected ``now``).
While behind, ``service.clock_behind`` in kv holds the mark, so status can say why nothing goes missing.

Missing stamps a wrong clock wrote (before 2000, or after the present once the clock is right) get a fresh
grace period before any purge, so a clock put right never deletes files at once (``store.items.renew_missing``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from homeroll.daemon.store import items as store_items

log = logging.getLogger(__name__)

__all__ = ["BEHIND_KEY", "FLOOR", "HIGH_WATER_KEY", "accept_correction", "clock_is_behind", "high_water",
           "missing_allowed", "observe", "purge_cutoff", "trusted_now", "use_sync_check", "worker_floor"]

#: This version's release day: a clock that reads earlier is wrong, whatever the DB says.
FLOOR = datetime(2026, 11, 1, tzinfo=UTC)
HIGH_WATER_KEY = "clock.high_water"
#: Set (to the mark the clock is behind) while it is behind, gone once it is right: for status.
BEHIND_KEY = "service.clock_behind"
#: The mark moves forward at most this often (one kv write per few minutes, not per file).
RECORD_EVERY = timedelta(minutes=5)
#: A clock this far before the trusted time is still right: NTP slews, and the mark lags by RECORD_EVERY.
SLACK = timedelta(minutes=10)
#: A missing stamp before this was written by a wrong clock (homeroll did not exist yet): it is renewed.
IMPOSSIBLE_BEFORE = "2000-01-01"

#: While behind, the kernel is asked at most this often (it may run timedatectl; observe runs per file gone).
SYNC_ASK_EVERY = 60.0

_warned_about: list[str] = []  # the high water last warned about, so a long wait logs once, not per file
_sync: dict = {"check": None, "asked_at": None, "answer": None}  # the service's check and its last answer


def use_sync_check(check: Callable[[], bool | None] | None) -> None:
    """The service's "is the system clock NTP-synchronised?" (True, False, None: nobody can tell), or None."""
    _sync.update(check=check, asked_at=None, answer=None)


def _ask_sync() -> bool | None:
    if _sync["check"] is None:
        return None
    if _sync["asked_at"] is None or time.monotonic() - _sync["asked_at"] >= SYNC_ASK_EVERY:
        _sync["answer"], _sync["asked_at"] = _sync["check"](), time.monotonic()
    return _sync["answer"]


def _system_now(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def high_water(db: Database) -> datetime | None:
    """The latest wall-clock time this DB has seen, or None for a new DB (or an unreadable value)."""
    value = store_items.kv_get(db, HIGH_WATER_KEY)
    try:
        mark = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return mark if mark is None or mark.tzinfo is not None else mark.replace(tzinfo=UTC)


def trusted_now(db: Database, now: datetime | None = None) -> datetime:
    """max(system clock, FLOOR, high water): the earliest the real time can be (aware, UTC)."""
    candidates = [_system_now(now), FLOOR]
    mark = high_water(db)
    if mark is not None:
        candidates.append(mark)
    return max(candidates)


def clock_is_behind(db: Database, now: datetime | None = None) -> bool:
    """Does the system clock read earlier than the time the DB can trust (beyond a few minutes' slack)?"""
    system = _system_now(now)
    return system + SLACK < trusted_now(db, system)


_SYNC_SAYS = {True: "", False: "; the kernel says it is not synchronised", None: "; nobody can tell whether it is synchronised"}


def observe(db: Database, now: datetime | None = None, synchronized: bool | None = None) -> bool:
    """Writers only: move the high water forward to a right clock; True when the clock is behind.

    ``synchronized``: the kernel's word on the system clock, if the caller has it; else the service's check
    is asked, for the real clock only. A clock behind the mark but synchronised (and past FLOOR) is right:
    the mark was left by a clock that was ahead, and is reset. While behind, one warning per high water says
    what is held back; once the clock is right, one line says so.
    """
    system = _system_now(now)
    mark = high_water(db)
    trusted = max(system, FLOOR, mark or FLOOR)
    if system + SLACK < trusted:
        asked = synchronized is None and now is None and _sync["check"] is not None
        if asked:
            synchronized = _ask_sync()
        if synchronized and system + SLACK >= FLOOR:
            accept_correction(db, system, why="the kernel says it is synchronised")
            return False
        shown = trusted.isoformat(timespec="seconds")
        if shown not in _warned_about:
            _warned_about[:] = [shown]
            log.warning("system clock reads %s, behind the last time this library saw (%s)%s; not marking anything "
                        "missing or purging until it is right", system.isoformat(timespec="seconds"), shown,
                        _SYNC_SAYS[synchronized] if asked else "")
        if store_items.kv_get(db, BEHIND_KEY) != shown:
            store_items.kv_set(db, BEHIND_KEY, shown)
        return True
    if _warned_about:
        _warned_about.clear()
        log.info("system clock reads %s again: marking missing files and purging as usual",
                 system.isoformat(timespec="seconds"))
    if store_items.kv_get(db, BEHIND_KEY) is not None:
        _clear_behind(db)
    if mark is None or system - mark >= RECORD_EVERY:
        store_items.kv_set(db, HIGH_WATER_KEY, system.isoformat(timespec="seconds"))
    return False


def _clear_behind(db: Database) -> None:
    with db.atomic():
        db.execute("DELETE FROM kv WHERE key = ?", [BEHIND_KEY])


def missing_allowed(db: Database, now: datetime | None = None, synchronized: bool | None = None) -> bool:
    """Writers only, before ``store.items.mark_missing``: False while the clock is behind.

    A path stamped missing by a clock in 1970 would be purged by the first purge after the jump; held
    back, it is found by the next reconcile with a right clock.
    """
    return not observe(db, now, synchronized)


def purge_cutoff(db: Database, grace_days: float, now: datetime | None = None,
                 synchronized: bool | None = None) -> str | None:
    """The ``missing_since`` cutoff for ``store.items.purge_missing``, or None: nothing is purged while behind.

    Stamps no right clock could have written (before IMPOSSIBLE_BEFORE: an older version's 1970 boot; after
    now: a clock that was ahead) get a fresh grace period first, so a clock put right never purges them at once.
    """
    if observe(db, now, synchronized):
        return None
    system = _system_now(now)
    stamp = system.isoformat(timespec="seconds")
    renewed = store_items.renew_missing(db, stamp, only_before=IMPOSSIBLE_BEFORE, only_after=stamp)
    if renewed:
        log.warning("%d paths were marked missing by a wrong clock (before %s or after %s); their grace period "
                    "starts now", renewed, IMPOSSIBLE_BEFORE, stamp)
    return (system - timedelta(days=float(grace_days))).isoformat(timespec="seconds")


def worker_floor(db: Database, now: datetime | None = None, synchronized: bool | None = None) -> str:
    """Writers only: ISO text for the analyse workers' ``settings["clock_floor"]`` (see ``ingest.timeinfo``)."""
    observe(db, now, synchronized)
    return trusted_now(db, now).isoformat(timespec="seconds")


def accept_correction(db: Database, now: datetime | None = None, why: str = "stepped back") -> None:
    """The clock was ahead (the service saw it step back, or the kernel says the clock behind the mark is
    synchronised): the mark it left is not to be trusted, and missing stamps after now were written by it."""
    system = _system_now(now)
    stamp = system.isoformat(timespec="seconds")
    previous = high_water(db)
    with db.atomic():
        store_items.kv_set(db, HIGH_WATER_KEY, stamp)
        _clear_behind(db)
        renewed = store_items.renew_missing(db, stamp, only_after=stamp)
    _warned_about.clear()
    if previous is not None and previous > system + SLACK:
        log.warning("system clock reads %s, %s; forgetting the high water %s a clock ahead had left (%d paths it "
                    "stamped missing get a fresh grace period)", stamp, why,
                    previous.isoformat(timespec="seconds"), renewed)
