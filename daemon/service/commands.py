"""What other threads ask the index worker to do, as typed commands.

The watchers, the scheduler and the main thread never touch the DB: they queue one of these and the
single writer runs it between files. Equal commands waiting at the same time are one command (three
overflow notices make one reconcile). A ``Reload`` compares by identity, so each one is kept: it
carries the new config and two reloads in a row must both be seen in order.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from homeroll.daemon.config import Config

__all__ = ["Command", "CommandQueue", "Job", "Reconcile", "Reload", "Subtree"]


@dataclass(frozen=True)
class Reconcile:
    """Walk one root (or every root, when ``root`` is None) and bring the DB in line with it."""

    root: str | None = None


@dataclass(frozen=True)
class Subtree:
    """A folder appeared, vanished or moved under ``root``: look at everything below ``rel_dir``."""

    root: str
    rel_dir: str


@dataclass(frozen=True)
class Job:
    """Run a scheduled step now: ``reconcile``, ``faces``, ``select`` or ``export``."""

    name: str


@dataclass(frozen=True, eq=False)
class Reload:
    """Use this config from now on (reopen the indexer, publish the watchers)."""

    cfg: Config


Command = Reconcile | Subtree | Job | Reload


class CommandQueue:
    """A FIFO of commands in which an equal command already waiting is not queued again."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Command] = queue.Queue()
        self._waiting: set[Command] = set()
        self._lock = threading.Lock()

    def put(self, command: Command) -> bool:
        """Queue ``command``; False when an equal one is already waiting."""
        with self._lock:
            if command in self._waiting:
                return False
            self._waiting.add(command)
        self._queue.put(command)
        return True

    def take(self) -> Command | None:
        """The oldest waiting command, or None."""
        try:
            command = self._queue.get_nowait()
        except queue.Empty:
            return None
        with self._lock:
            self._waiting.discard(command)
        return command
