"""Is the service really running? A heartbeat file and the recorded pid say; the recorded state alone cannot.

`homeroll run` records ``service.state = running`` at start and ``stopped`` on a clean exit, so after a
``kill -9``, an OOM kill or a power cut the DB still says "running". The main thread therefore touches
``<data_dir>/service.heartbeat`` every ``HEARTBEAT_SECONDS`` while the index worker, the watchers and the
scheduler are alive (the same test as systemd's watchdog ping). It is a file, not a DB row, so a long
write transaction of the worker can never make a live service look dead. A reader calls :func:`read`
(the file's time and whether the recorded pid exists) and :func:`assess` with its own clock: a service
whose pid is gone, or whose heartbeat is older than three intervals, is "not responding" since its
last heartbeat.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from homeroll.daemon.store import fsutil

__all__ = ["HEARTBEAT_SECONDS", "STALE_AFTER_SECONDS", "Facts", "assess", "beat", "heartbeat_path", "read"]

HEARTBEAT_SECONDS = 15.0
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


def heartbeat_path(data_dir: Path | str) -> Path:
    return Path(data_dir) / "service.heartbeat"


def beat(data_dir: Path | str, first: bool = False) -> None:
    """Say "alive" now: the file's mtime is the heartbeat, its text this pid (written at the first beat)."""
    path = heartbeat_path(data_dir)
    if not first:
        try:
            os.utime(path)
            return
        except FileNotFoundError:
            pass
    path.write_text(f"{os.getpid()}\n")


@dataclass(frozen=True)
class Facts:
    """What a reader saw: the heartbeat's time (None: never beat) and whether the recorded pid exists."""

    heartbeat: datetime | None
    pid_alive: bool | None  # None: no pid recorded


def read(data_dir: Path | str, kv: dict[str, str]) -> Facts:
    try:
        beat_at = datetime.fromtimestamp(heartbeat_path(data_dir).stat().st_mtime, UTC)
    except OSError:
        beat_at = None
    raw = kv.get("service.pid")
    pid = int(raw) if raw and raw.isdigit() else None
    return Facts(beat_at, None if pid is None else fsutil.pid_alive(pid))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def assess(kv: dict[str, str], facts: Facts, now: datetime) -> dict[str, Any]:
    """``state`` (None: never started; ``starting``, ``running``, ``degraded``, ``stopped`` or ``not responding``),
    ``heartbeat`` and ``not_responding_since`` (ISO times, or None)."""
    recorded = kv.get("service.state")
    out: dict[str, Any] = {"state": recorded, "heartbeat": _iso(facts.heartbeat), "not_responding_since": None}
    if recorded not in ("starting", "running", "degraded"):  # a process that should be beating
        return out
    last_sign = facts.heartbeat or _parse(kv.get("service.started_at"))
    stale = last_sign is None or now - last_sign > timedelta(seconds=STALE_AFTER_SECONDS)
    if facts.pid_alive is False or stale:
        out["state"] = "not responding"
        out["not_responding_since"] = _iso(last_sign)
    return out


def _parse(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)
