"""Noticing the system clock jump while the service runs, so it says so and carries on.

A Pi without an RTC runs in 1970 (or at fake-hwclock's saved time) until NTP syncs, and then the wall
clock jumps forward by months or decades at once. Monotonic time does not jump, so a difference
between how far each moved since the last look is a jump, not elapsed time. The service logs it, keeps
the time in kv (``service.clock_jump_at``), and asks for a reconcile: files that went while the clock
was behind were not marked missing (``store.clock``), and are now, with a right clock. A step back
is a correction of a clock that was ahead, so the DB's high water mark, set by that clock, is reset.

A forward jump of a clock that was right (to 2038, say) would age every missing stamp by years, and the
next purge would delete files missing for a minute; so their grace period starts again at the new time.
A clock that was ahead and was corrected while the service was down is not seen to step back: the DB
stays "behind" its own mark until the kernel says the clock is synchronised (``ntp_synchronised``,
which the worker hands to ``store.clock`` so that the store never runs a command).

Suspend also moves wall time without monotonic time; a Pi does not suspend, and reporting it is harmless.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from homeroll.daemon.store import clock as store_clock
from homeroll.daemon.store import items as store_items

log = logging.getLogger(__name__)

__all__ = ["JUMP_AT_KEY", "JUMP_SECONDS_KEY", "ClockWatch", "describe", "kernel_says_synchronised",
           "ntp_synchronised", "record_jump"]

#: Wall time may drift from monotonic time by this much between two looks before it counts as a jump.
THRESHOLD_SECONDS = 120.0
JUMP_AT_KEY = "service.clock_jump_at"
JUMP_SECONDS_KEY = "service.clock_jump_seconds"
#: A mark this close before the new time may have been left by the new clock itself (a file seen gone just
#: before the check that noticed the jump), so it says nothing about whether the old clock was behind.
JUST_WRITTEN = timedelta(hours=1)


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


def _was_behind(db: Database, before: datetime, after: datetime) -> bool:
    """Was the clock behind the DB's trusted time before it jumped forward from ``before`` to ``after``?"""
    marks = [store_clock.FLOOR]
    mark = store_clock.high_water(db)
    if mark is not None and mark < after - JUST_WRITTEN:
        marks.append(mark)
    return before + store_clock.SLACK < max(marks)


def record_jump(db: Database, seconds: float, now: datetime | None = None) -> None:
    """The writer's part of a jump: one log line, the kv keys status can show, the high water's care, and
    (forward, from a right clock) a fresh grace period for what is missing. One transaction."""
    at = now or datetime.now(UTC)
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    log.warning("system clock jumped %s; carrying on", describe(seconds))
    with db.atomic():
        restart = seconds > 0 and not _was_behind(db, at - timedelta(seconds=seconds), at)
        store_items.kv_set(db, JUMP_AT_KEY, at.isoformat(timespec="seconds"))
        store_items.kv_set(db, JUMP_SECONDS_KEY, str(round(seconds)))
        if seconds < 0:
            store_clock.accept_correction(db, now)
            return
        store_clock.observe(db, now)
        # a right clock gone ahead: every stamp aged by the jump, and the next purge would take them at once
        renewed = store_items.renew_missing(db, at.isoformat(timespec="seconds")) if restart else 0
    if renewed:
        log.warning("%d paths marked missing get a fresh grace period from the new time", renewed)


# --- whether the kernel thinks the clock is right ---------------------------------------------------------------

_TIME_ERROR = 5  # adjtimex(2): "the clock is not synchronised"


def _adjtimex_synchronised() -> bool | None:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex with modes = 0: read only
        state = libc.adjtimex(buf)
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != _TIME_ERROR


def ntp_synchronised() -> tuple[bool | None, str]:
    """(synchronised or None if nobody can tell, who said so): timedatectl, else the kernel (adjtimex)."""
    tool = shutil.which("timedatectl")
    if tool:
        try:
            out = subprocess.run([tool, "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                                 text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            out = None
        if out is not None and out.returncode == 0 and out.stdout.strip() in ("yes", "no"):
            return out.stdout.strip() == "yes", "timedatectl"
    return _adjtimex_synchronised(), "the kernel's adjtimex"


def kernel_says_synchronised() -> bool | None:
    """``ntp_synchronised`` without its source: the check the service gives ``store.clock.use_sync_check``."""
    return ntp_synchronised()[0]
