"""The opt-in daily digest: "3 new memories are waiting", pushed through apprise to the household's phones.

Suggestions that wait in a TUI nobody opens are never approved, so with ``[notify] urls`` the service tells
the household once a day what is new. Off by default: with ``urls = []`` the job is not even scheduled and
apprise is never imported, so the default service still opens no socket (tests/ingest/test_no_network.py).

What leaves the machine is the digest's text only: titles, dates, photo counts and each memory's reason,
never a path, a face or a person's photo. With ``attach_cover = true`` each listed memory's cover goes too,
as a JPEG re-encoded from its thumbnail (at most 1280 px, no EXIF: no GPS, no camera) in a temp dir.

The network never holds up the single writer: the scheduled job reads the digest between files and hands it
to a daemon thread, which sends it with apprise's own timeouts and, on success, marks the memories notified
on its own short connection (the store's normal write path, like any CLI write). A failure is one WARNING
naming the URL's scheme and host (never a password) and is tried again ``retry_minutes`` later, up to
RETRIES times; what was not sent stays un-notified, so the next digest names it.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from homeroll.daemon import store
from homeroll.daemon.config import Config
from homeroll.daemon.store import notify as store_notify

log = logging.getLogger(__name__)

__all__ = ["RETRIES", "Digest", "build_digest", "deliver", "redact", "run_notify_job", "send"]

#: A digest that could not be sent is tried again this many times, ``[notify] retry_minutes`` apart.
RETRIES = 3
#: Memories named one by one; the rest are "and N more".
LISTED = 10
#: The attached covers' longest side (docs/config.md, attach_cover).
COVER_SIDE = 1280


@dataclass
class Digest:
    """What one send says, and which memories it tells about (all of them, listed or not)."""

    title: str
    body: str
    memories: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [m["id"] for m in self.memories]

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "body": self.body, "count": len(self.memories),
                "memories": [{k: m[k] for k in ("id", "title", "start", "end", "picks", "reason")}
                             for m in self.memories]}


def _dates(start: str, end: str) -> str:
    return start if start == end else f"{start} to {end}"


def build_digest(memories: Sequence[dict[str, Any]]) -> Digest | None:
    """The digest for these waiting suggestions, or None when nothing is new (then nothing is sent)."""
    if not memories:
        return None
    count = len(memories)
    title = "1 new memory is waiting" if count == 1 else f"{count} new memories are waiting"
    lines = [f"{title}:"]
    for memory in memories[:LISTED]:
        photos = "1 photo" if memory["picks"] == 1 else f"{memory['picks']} photos"
        reason = f": {memory['reason']}" if memory.get("reason") else ""
        lines.append(f"- {memory['title']}, {_dates(memory['start'], memory['end'])}, {photos}{reason}")
    if count > LISTED:
        lines.append(f"and {count - LISTED} more")
    lines.append("Open them with `homeroll tui`.")
    return Digest(title=title, body="\n".join(lines), memories=list(memories))


def redact(url: str) -> str:
    """An apprise URL for logs: apprise's own privacy form where it can parse it (several services keep a
    token where a host would be: Pushover, Slack, Telegram), else the scheme alone; never a query."""
    try:
        import apprise

        plugin = apprise.Apprise.instantiate(url)
        if plugin:
            private = str(plugin.url(privacy=True)).split("?")[0]
            scheme, _, rest = private.partition("://")
            # no user, and no path: a path can be the secret (a public ntfy topic)
            return f"{scheme}://{rest.split('/')[0].rpartition('@')[2]}"
    except Exception:  # noqa: BLE001 - a log line must never fail; fall back to less
        pass
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "an unreadable URL"
    return f"{parts.scheme or '?'}://" + ("…" if host else "")


def _covers(cfg: Config, memories: Sequence[dict[str, Any]], folder: Path) -> list[str]:
    """Scaled JPEG copies of the listed memories' thumbnails; a missing or unreadable one is left out."""
    from PIL import Image

    paths = []
    for memory in memories[:LISTED]:
        if not memory.get("cover_thumb"):
            continue
        target = folder / f"memory-{memory['id']}.jpg"  # no library path or file name leaves the machine
        try:
            with Image.open(cfg.data_dir / memory["cover_thumb"]) as img:
                img = img.convert("RGB")
                img.thumbnail((COVER_SIDE, COVER_SIDE))
                img.save(target, "JPEG", quality=85)  # a fresh file: no EXIF, no GPS
        except OSError as exc:
            log.debug("notify: no cover for memory %s: %s", memory["id"], exc)
            continue
        paths.append(str(target))
    return paths


def send(cfg: Config, digest: Digest) -> bool:
    """Send ``digest`` to every URL; True when at least one took it. Each failure is one WARNING line."""
    import apprise  # only here: the default config never loads it (nor its plugins' network code)

    urls = list(cfg["notify"]["urls"])
    sent = False
    with tempfile.TemporaryDirectory(prefix="homeroll-notify-") as folder:
        attach = _covers(cfg, digest.memories, Path(folder)) if cfg["notify"]["attach_cover"] else []
        for url in urls:
            sent = _send_one(apprise, url, digest, attach) or sent
    return sent


#: Seconds one URL may take in all (apprise's own connect and read timeouts are per request): a hung
#: endpoint must not keep the sender alive, which would skip every later digest as "still being sent".
SEND_TIMEOUT = 60


def _send_one(apprise, url: str, digest: Digest, attach: list[str]) -> bool:
    where = redact(url)
    target = apprise.Apprise()
    if not target.add(url):
        log.warning("notify: apprise cannot use the URL %s (a typo, or an unknown service); nothing sent there",
                    where)
        return False
    try:
        ok = bool(target.notify(title=digest.title, body=digest.body, attach=attach or None, timeout=SEND_TIMEOUT))
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the digest (or the service) down
        log.warning("notify: sending to %s failed: %s", where, type(exc).__name__)
        return False
    if not ok:
        log.warning("notify: %s did not take the digest (unreachable, or it answered with an error)", where)
    return ok


def deliver(cfg: Config, digest: Digest | None, *, wait: Callable[[float], bool],
            reread: Callable[[], Digest | None], mark: Callable[[list[int]], None],
            sender: Callable[[Config, Digest], bool] = send) -> bool:
    """Send, and on failure try again ``retry_minutes`` later, up to RETRIES times. True once sent (or once
    nothing is left to send). ``wait(seconds)`` returns True when the service is stopping; ``reread`` gives
    the digest anew before a retry (a memory decided meanwhile is no longer new); ``mark`` records the sent."""
    minutes = float(cfg["notify"]["retry_minutes"])
    for attempt in range(RETRIES + 1):
        if attempt:
            digest = reread()
        if digest is None:
            return True
        if sender(cfg, digest):
            mark(digest.ids)
            log.info("notify: the digest of %d new memories was sent", len(digest.ids))
            return True
        if attempt == RETRIES:
            log.warning("notify: the digest was not sent after %d tries; its %d memories wait for the next one",
                        RETRIES + 1, len(digest.ids))
            return False
        log.warning("notify: the digest was not sent; trying again in %g minutes (retry %d of %d)",
                    minutes, attempt + 1, RETRIES)
        if wait(minutes * 60):
            return False
    return False


# --- the service's job ------------------------------------------------------------------------------

#: The sender thread of the last digest: a daemon, so a service that stops never waits for it (what it had
#: not sent stays un-notified for the next digest).
_sender: threading.Thread | None = None


def _read(cfg: Config) -> Digest | None:
    db = store.connect(cfg.db_path)
    try:
        return build_digest(store_notify.waiting(db))
    finally:
        db.close()


def _mark(cfg: Config, ids: list[int]) -> None:
    db = store.connect(cfg.db_path)  # its own short connection: the writer thread is not waited for
    try:
        store_notify.mark_notified(db, ids)
    finally:
        db.close()


def _background(cfg: Config, digest: Digest) -> None:
    try:
        deliver(cfg, digest, wait=threading.Event().wait, reread=lambda: _read(cfg), mark=lambda ids: _mark(cfg, ids))
    except Exception:  # noqa: BLE001 - a bug here must be seen, but never stops the service
        log.exception("notify: the digest sender failed")


def run_notify_job(cfg: Config, db, progress=None) -> dict[str, Any]:
    """The scheduled step, in the writer thread: read what is new and hand it to a sender thread."""
    global _sender
    if not cfg["notify"]["urls"]:
        return {"summary": "off ([notify] urls is empty)"}
    if _sender is not None and _sender.is_alive():
        return {"summary": "the last digest is still being sent or retried; skipped"}
    digest = build_digest(store_notify.waiting(db))
    if digest is None:
        return {"summary": "nothing new since the last digest; nothing sent"}
    _sender = threading.Thread(target=_background, args=(cfg, digest), name="homeroll-notify", daemon=True)
    _sender.start()
    return {"summary": f"{len(digest.ids)} new memories: sending the digest in the background"}
