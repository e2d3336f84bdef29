"""Loaded into every Python process of a test run (via PYTHONPATH), workers included: any attempt to open an
internet socket or resolve a name is written to $HOMEROLL_NET_LOG and refused."""

import os
import socket
import sys

_LOG = os.environ.get("HOMEROLL_NET_LOG")


def _hook(event, args):
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.connect") or (
        event == "socket.__new__" and len(args) > 1 and args[1] in (socket.AF_INET, socket.AF_INET6)
    ):
        if _LOG:
            with open(_LOG, "a", encoding="utf-8") as handle:
                handle.write(f"{os.getpid()} {event} {args!r}\n")
        raise OSError(f"network use blocked in test: {event}")


sys.addaudithook(_hook)
