"""What waits for the household, for the login line (`homeroll motd`): read-only, stdlib only, and quick.

A login runs this, so it must not slow one down (<= 100 ms with Python's start), nor break one, nor change
anything. Three consequences shape the module:

- **Stdlib only.** The fast path in daemon/__main__.py loads this file by itself, without the store
  package's ``__init__`` (which imports sqlite-utils, ~300 ms), so it may import nothing from homeroll and
  nothing heavy. The line is made here too, not in the CLI, so both ways to ask print the same text.
- **Nothing is written or created.** The DB is opened ``mode=ro``. In WAL mode a reader that finds no
  ``-wal``/``-shm`` creates them (and cannot remove them: it is read-only), so a login would leave files
  in the service's data dir, and in a data dir this login may only read, the open would fail. When they
  are absent nobody has the DB open and the file holds every commit, so it is opened ``immutable=1``:
  no locks, no side files. The service opening it in that instant writes to its own new WAL, not to the
  file; only a checkpoint of that WAL writes the file, and a read torn by one is an error line, never a
  write.
- **No waiting.** A WAL reader never waits on the writer's lock; the busy timeout is kept short for
  the rare moment a reader does wait (another process recovering the WAL), so a login is never held up.
"""

from __future__ import annotations

import os
import sqlite3
import textwrap
from urllib.parse import quote

__all__ = ["BUSY_TIMEOUT_S", "login_lines", "reason", "waiting"]

BUSY_TIMEOUT_S = 0.05
WIDTH, LINES = 100, 2
#: A title longer than this is cut, so that one long rename still leaves room for the count and the others.
MAX_TITLE = 60
#: Fixed English abbreviations: a login's locale must not change the line (and strftime would need a date).
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: Glues "Aug 2024" and "`homeroll tui`" while wrapping (textwrap breaks at ASCII whitespace only), so the
#: command a login is told to type is never cut in two; it is a plain space again in the printed line.
_GLUE = "\u00a0"

_WAITING_SQL = """
SELECT id, COALESCE(user_title, title), start FROM memories
WHERE status = 'suggested'
ORDER BY start DESC, id DESC
"""


def _uri(db_path: str) -> str:
    live = os.path.exists(db_path + "-wal") and os.path.exists(db_path + "-shm")
    return f"file:{quote(db_path)}?mode=ro" + ("" if live else "&immutable=1")


def waiting(db_path: str) -> list[dict]:
    """The suggested memories, newest first, as ``{id, title, start}``; the title is the household's own
    when it renamed one. Raises FileNotFoundError when there is no DB (it is never created here)."""
    if not os.path.isfile(db_path):
        raise FileNotFoundError(db_path)
    conn = sqlite3.connect(_uri(db_path), uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        rows = conn.execute(_WAITING_SQL).fetchall()
    finally:
        conn.close()
    return [{"id": memory_id, "title": title, "start": start} for memory_id, title, start in rows]


def reason(exc: BaseException, db_path: str) -> str:
    """The one line for stderr when the DB cannot say what waits."""
    if isinstance(exc, FileNotFoundError):
        return f"no database at {db_path} yet (the service creates it)"
    if not os.access(db_path, os.R_OK):
        return f"cannot read {db_path} (permission denied: is this login in the service's group?)"
    return f"cannot read the memories in {db_path} ({exc})"


def _printable(text: str) -> str:
    """A title is the household's text, shown on every login's terminal: no control or escape sequences."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _clip(title: str) -> str:
    title = " ".join(_printable(title).split())
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def month_year(start: str) -> str:
    """``2024-08-10`` -> ``Aug 2024`` (a start that is not a date is shown as it is)."""
    year, month = start[:4], start[5:7]
    if len(start) >= 7 and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12:
        return f"{MONTHS[int(month) - 1]}{_GLUE}{year}"
    return _printable(start)


def _text(memories: list[dict], shown: int) -> str:
    count = len(memories)
    head = f"{count} new memory is waiting" if count == 1 else f"{count} new memories are waiting"
    parts = [f"{_clip(m['title'])}, {month_year(m['start'])}" for m in memories[:shown]]
    if parts and shown < count:
        parts.append(f"and {count - shown} more")
    listed = f" ({'; '.join(parts)})" if parts else ""
    return f"{head}{listed}: run `homeroll{_GLUE}tui`"


def login_lines(memories: list[dict], width: int = WIDTH, lines: int = LINES) -> list[str]:
    """The login line(s): the count and as many titles (newest first) as fit in ``lines`` of ``width``
    columns; nothing when nothing waits."""
    if not memories:
        return []
    best = textwrap.wrap(_text(memories, 0), width, break_on_hyphens=False)
    for shown in range(1, len(memories) + 1):  # upwards: a login rarely has room for more than a few
        wrapped = textwrap.wrap(_text(memories, shown), width, break_on_hyphens=False)
        if len(wrapped) > lines:
            break
        best = wrapped
    return [line.replace(_GLUE, " ") for line in best]
