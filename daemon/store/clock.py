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

A clock that was once far ahead (a bad RTC) would leave the high water in the future; a step back that
the running service sees (``service.clockwatch``) is a correction, so it resets the mark
(``accept_correction``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from homeroll.daemon.store import items as store_items

log = logging.getLogger(__name__)

__all__ = ["FLOOR", "HIGH_WATER_KEY", "accept_correction", "clock_is_behind", "high_water", "missing_allowed",
           "observe", "purge_cutoff", "trusted_now", "worker_floor"]

#: This version's release day: a clock that reads earlier is wrong, whatever the DB says.
FLOOR = datetime(2026, 11, 1, tzinfo=UTC)
HIGH_WATER_KEY = "clock.high_water"
#: The mark moves forward at most this often (one kv write per few minutes, not per file).
RECORD_EVERY = timedelta(minutes=5)
#: A clock this far before the trusted time is still right: NTP slews, and the mark lags by RECORD_EVERY.
SLACK = timedelta(minutes=10)
#: A missing stamp before this was written by a wrong clock (homeroll did not exist yet): it is renewed.
IMPOSSIBLE_BEFORE = "2000-01-01"

_warned_about: list[str] = []  # the high water last warned about, so a long wait logs once, not per file


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


def observe(db: Database, now: datetime | None = None) -> bool:
    """Writers only: move the high water forward to a right clock; True when the clock is behind.

    While behind, one warning per high water says what is held back; once the clock is right, one line
    says so.
    """
    system = _system_now(now)
    mark = high_water(db)
    trusted = max(system, FLOOR, mark or FLOOR)
    if system + SLACK < trusted:
        shown = trusted.isoformat(timespec="seconds")
        if shown not in _warned_about:
            _warned_about[:] = [shown]
            log.warning("system clock reads %s, behind the last time this library saw (%s); not marking anything "
                        "missing or purging until it is right", system.isoformat(timespec="seconds"), shown)
        return True
    if _warned_about:
        _warned_about.clear()
        log.info("system clock reads %s again: marking missing files and purging as usual",
                 system.isoformat(timespec="seconds"))
    if mark is None or system - mark >= RECORD_EVERY:
        store_items.kv_set(db, HIGH_WATER_KEY, system.isoformat(timespec="seconds"))
    return False


def missing_allowed(db: Database, now: datetime | None = None) -> bool:
    """Writers only, before ``store.items.mark_missing``: False while the clock is behind.

    A path stamped missing by a clock in 1970 would be purged by the first purge after the jump; held
    back, it is found by the next reconcile with a right clock.
    """
    return not observe(db, now)


def purge_cutoff(db: Database, grace_days: float, now: datetime | None = None) -> str | None:
    """The ``missing_since`` cutoff for ``store.items.purge_missing``, or None: nothing is purged while behind.

    Stamps no right clock could have written (before IMPOSSIBLE_BEFORE: an older version's 1970 boot)
    get a fresh grace period first, so the jump to the right time never purges them at once.
    """
    if observe(db, now):
        return None
    system = _system_now(now)
    stamp = system.isoformat(timespec="seconds")
    with db.atomic():
        renewed = db.execute("UPDATE paths SET missing_since = ? WHERE missing_since IS NOT NULL "
                             "AND missing_since < ?", [stamp, IMPOSSIBLE_BEFORE]).rowcount
    if renewed:
        log.warning("%d paths were marked missing by a clock before %s; their grace period starts now",
                    renewed, IMPOSSIBLE_BEFORE)
    return (system - timedelta(days=float(grace_days))).isoformat(timespec="seconds")


def worker_floor(db: Database, now: datetime | None = None) -> str:
    """Writers only: ISO text for the analyse workers' ``settings["clock_floor"]`` (see ``ingest.timeinfo``)."""
    observe(db, now)
    return trusted_now(db, now).isoformat(timespec="seconds")


def accept_correction(db: Database, now: datetime | None = None) -> None:
    """The running service saw the clock step back: it was ahead, so the mark it left is not to be trusted."""
    system = _system_now(now)
    previous = high_water(db)
    if previous is not None and previous > system:
        log.warning("system clock stepped back to %s; forgetting the high water %s it had left",
                    system.isoformat(timespec="seconds"), previous.isoformat(timespec="seconds"))
    store_items.kv_set(db, HIGH_WATER_KEY, system.isoformat(timespec="seconds"))
