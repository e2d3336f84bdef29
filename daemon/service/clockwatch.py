"""Noticing the system clock jump while the service runs, so it says so and carries on.

A Pi without an RTC runs in 1970 (or at fake-hwclock's saved time) until NTP syncs, and then the wall
clock jumps forward by months or decades at once. Monotonic time does not jump, so a difference
between how far each moved since the last look is a jump, not elapsed time. The service logs it, keeps
the time in kv (``service.clock_jump_at``), and asks for a reconcile: files that went while the clock
was behind were not marked missing (``store.clock``), and are now, with a right clock. A step back
is a correction of a clock that was ahead, so the DB's high water mark, set by that clock, is reset.

Suspend also moves wall time without monotonic time; a Pi does not suspend, and reporting it is harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlite_utils import Database

from homeroll.daemon.store import clock as store_clock
from homeroll.daemon.store import items as store_items

log = logging.getLogger(__name__)

__all__ = ["JUMP_AT_KEY", "JUMP_SECONDS_KEY", "ClockWatch", "describe", "record_jump"]

#: Wall time may drift from monotonic time by this much between two looks before it counts as a jump.
THRESHOLD_SECONDS = 120.0
JUMP_AT_KEY = "service.clock_jump_at"
JUMP_SECONDS_KEY = "service.clock_jump_seconds"


class ClockWatch:
    """``check()`` every tick: the jump in seconds (positive: forward) since the last check, or None."""

    def __init__(self, wall: Callable[[], float] = time.time, mono: Callable[[], float] = time.monotonic,
                 threshold: float = THRESHOLD_SECONDS) -> None:
        self.wall = wall
        self.mono = mono
        self.threshold = threshold
        self._last = (wall(), mono())

    def check(self) -> float | None:
        wall, mono = self.wall(), self.mono()
        last_wall, last_mono = self._last
        self._last = (wall, mono)
        jump = (wall - last_wall) - (mono - last_mono)
        return jump if abs(jump) > self.threshold else None


def describe(seconds: float) -> str:
    """'forward by 56 years', 'back by 3 hours': the largest whole unit, for one log line."""
    direction = "forward" if seconds >= 0 else "back"
    size = abs(seconds)
    for unit, length in (("year", 365.25 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if size >= length:
            count = round(size / length)
            return f"{direction} by {count} {unit}{'s' if count != 1 else ''}"
    return f"{direction} by {round(size)} seconds"


def record_jump(db: Database, seconds: float, now: datetime | None = None) -> None:
    """The writer's part of a jump: one log line, the kv keys status can show, and the high water's care."""
    now = now or datetime.now(UTC)
    log.warning("system clock jumped %s; carrying on", describe(seconds))
    store_items.kv_set(db, "service.clock_jump_at", now.isoformat(timespec="seconds"))  # = JUMP_AT_KEY
    store_items.kv_set(db, "service.clock_jump_seconds", str(round(seconds)))  # = JUMP_SECONDS_KEY
    if seconds < 0:
        store_clock.accept_correction(db, now)
    else:
        store_clock.observe(db, now)
