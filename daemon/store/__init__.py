"""The only place that speaks SQL. Connection setup, schema migrations, and query functions per table.

Usage: ``db = store.connect(cfg.db_path)`` then the functions in ``store.items``, ``store.faces``,
``store.memories``… Each write is a short transaction (``with db.atomic():``) so the service, the CLI
and the TUI can share the DB in WAL mode.
"""

from homeroll.daemon.store.db import checkpoint, connect, data_version, quick_check

__all__ = ["checkpoint", "connect", "data_version", "quick_check"]
