"""systemd's notify protocol by hand (no dependency): READY, STATUS, WATCHDOG, RELOADING, STOPPING.

A no-op unless systemd (or a test) set ``NOTIFY_SOCKET``. The variable is removed from our own
environment at once, so worker processes we start never talk to systemd in our name.
"""

from __future__ import annotations

import logging
import os
import socket
import time

log = logging.getLogger(__name__)


class Notifier:
    """One datagram socket to systemd, opened only when ``NOTIFY_SOCKET`` names one."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.pop("NOTIFY_SOCKET", None)
        watchdog_usec = env.pop("WATCHDOG_USEC", None)
        watchdog_pid = env.pop("WATCHDOG_PID", None)
        self._socket: socket.socket | None = None
        self.watchdog_interval: float | None = None
        self._last_watchdog = 0.0
        if address:
            if address.startswith("@"):  # abstract namespace socket
                address = "\0" + address[1:]
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.connect(address)
                self._socket = sock
            except OSError as exc:
                log.warning("NOTIFY_SOCKET %r unusable (%s); not talking to systemd", address, exc)
        if watchdog_usec and (not watchdog_pid or watchdog_pid == str(os.getpid())):
            try:
                # Ping at half the timeout, as sd_watchdog_enabled(3) recommends.
                self.watchdog_interval = int(watchdog_usec) / 1_000_000 / 2
            except ValueError:
                log.warning("ignoring malformed WATCHDOG_USEC=%r", watchdog_usec)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def notify(self, *fields: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram. Never raises: systemd going away must not kill us."""
        if self._socket is None:
            return False
        try:
            self._socket.sendall("\n".join(fields).encode("utf-8", "replace"))
            return True
        except OSError as exc:
            log.debug("sd_notify failed: %s", exc)
            return False

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def reloading(self) -> bool:
        # MONOTONIC_USEC lets Type=notify-reload (systemd >= 253) match the reload; older systemd ignores it.
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog_due(self, now: float | None = None) -> bool:
        if self.watchdog_interval is None:
            return False
        now = time.monotonic() if now is None else now
        return now - self._last_watchdog >= self.watchdog_interval

    def watchdog(self, now: float | None = None) -> bool:
        """Ping the watchdog. The caller sends it only after checking its threads are alive."""
        self._last_watchdog = time.monotonic() if now is None else now
        return self.notify("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
