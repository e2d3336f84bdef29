"""The online geocoder's answers, kept so each place is asked once: a provider is rate-limited and may be down.

A cache row maps a provider's rounded position (``nominatim:38.711:-9.137``) to a row of ``places``
(made by ``store.items.place_id``), so a new process or a rescan names the position without a request.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from homeroll.daemon.store import items as store_items

__all__ = ["cached_place", "cache_place"]


def cached_place(db: Database, key: str) -> dict[str, Any] | None:
    """{city, region, country, country_code} stored for this cache key, or None when it was never asked."""
    row = db.execute(
        "SELECT p.city, p.region, p.country, p.country_code FROM geocode_cache c JOIN places p ON p.id = c.place_id "
        "WHERE c.key = ?", [key]).fetchone()
    if row is None:
        return None
    return dict(zip(("city", "region", "country", "country_code"), row, strict=True))


def cache_place(db: Database, key: str, place_id: int) -> None:
    with db.atomic():
        db.execute("INSERT OR REPLACE INTO geocode_cache (key, place_id, fetched_at) VALUES (?, ?, ?)",
                   [key, place_id, store_items.now_iso()])
