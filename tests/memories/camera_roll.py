"""A realistic synthetic camera roll with ground truth, written straight into the DB (no image files).

A household lives in Berlin and moves to Hamburg half-way; it photographs ordinary days at home,
commutes (20-30 km, never a trip), takes trips abroad in other time zones (Lisbon & Sintra, Japan,
New York) and at home (Munich), days out (Leipzig / Lübeck), holds parties, celebrates Anna's and
Ben's birthdays, Christmas Eve and New Year's Eve. 20% of trip photos have no GPS, some are videos,
bursts of near-identical frames are taken at parties and on trips, and screenshots and WhatsApp
images with perfect quality scores are sprinkled everywhere (they must never be picked).

``generate(db, seed, root=...)`` plans the roll (``roll_plan``), writes it the way the indexer and the faces
job would, and returns the :class:`Truth` the tests compare against.
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, date
from zoneinfo import ZoneInfo

from homeroll.daemon.store import items as store_items
from tests.memories.roll_plan import CITIES, PEOPLE, Roll, Shot, Truth


def _jitter(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    return lat + rng.uniform(-km, km) / 111.0, lon + rng.uniform(-km, km) / 70.0


def generate(db, seed: int = 1, *, root: str = "/library", start: date = date(2021, 1, 1), years: int = 3,
             density: float = 1.0, named: bool = True, extras: bool = True) -> Truth:
    """Write a camera roll into ``db`` and return its ground truth.

    ``named=False`` leaves every person unnamed (as before anyone named faces in the TUI);
    ``extras`` adds screenshots, messenger images and a few undated files.
    """
    roll = Roll(seed, start, years, density)
    roll.plan()
    if extras:
        roll.extras()
    with db.atomic():
        person_ids = _people(db, roll.truth, named)
        store_items.set_root(db, root, state="online")
        _write_shots(db, roll, root, person_ids)
        if extras:
            for k in range(3):
                record = {"hash": f"undated-{seed}-{k}", "kind": "photo", "taken_at_local": None,
                          "utc_offset_min": None, "taken_at_utc": None, "width": 100, "height": 100}
                store_items.save_item(db, record, root, f"Download/undated_{k}.jpg", 1000, 1)
    return roll.truth


def _people(db, truth: Truth, named: bool) -> dict[str, int]:
    """The household's people rows (name -> id) and one nobody named ("?")."""
    person_ids: dict[str, int] = {}
    now = store_items.now_iso()
    for name, birthday in PEOPLE.items():
        cur = db.execute("INSERT INTO people (name, birthday, created_at) VALUES (?, ?, ?)",
                         [name if named else None, birthday if named else None, now])
        person_ids[name] = cur.lastrowid
    cur = db.execute("INSERT INTO people (name, birthday, created_at) VALUES (NULL, NULL, ?)", [now])
    person_ids["?"] = cur.lastrowid
    truth.unnamed_person = person_ids["?"]
    truth.people = {k: v for k, v in person_ids.items() if k != "?"}
    return person_ids


def _relpath(shot: Shot, n: int) -> str:
    if shot.kind == "screenshot":
        return f"Screenshots/Screenshot_{shot.local:%Y%m%d-%H%M%S}_{n}.png"
    if shot.messenger:
        return f"WhatsApp/Media/WhatsApp Images/IMG-{shot.local:%Y%m%d}-WA{n:04d}.jpg"
    ext = "mp4" if shot.kind == "video" else "jpg"
    return f"DCIM/Camera/{shot.local:%Y}/IMG_{shot.local:%Y%m%d_%H%M%S}_{n}.{ext}"


def _record(shot: Shot, seed: int, n: int, rel: str, lat: float | None, lon: float | None,
            place: int | None) -> dict:
    """The item row the indexer would store for a shot."""
    aware = shot.local.replace(tzinfo=ZoneInfo(shot.tz))
    return {
        "hash": hashlib.blake2b(f"{seed}:{n}:{rel}".encode(), digest_size=16).hexdigest(),
        "kind": shot.kind, "format": {"jpg": "JPEG", "png": "PNG", "mp4": "MP4"}[rel.rsplit(".", 1)[1]],
        "size": 2_000_000, "taken_at_local": shot.local.isoformat(timespec="seconds")
        if shot.local.microsecond == 0 else shot.local.isoformat(),
        "utc_offset_min": int(aware.utcoffset().total_seconds() // 60), "tz_name": shot.tz,
        "taken_at_source": "exif", "taken_at_utc": aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "lat": lat, "lon": lon, "place_id": place,
        "width": 4032, "height": 3024, "orientation": 1, "camera": "Pixel 7",
        "duration": 12.0 if shot.kind == "video" else None,
        "is_messenger": int(shot.messenger), "sharpness": shot.quality * 800,
        "exposure": 0.5, "quality": round(shot.quality, 3), "phash": f"{shot.phash:016x}",
    }


def _write_shots(db, roll: Roll, root: str, person_ids: dict[str, int]) -> None:
    rng, truth = roll.rng, roll.truth
    place_ids: dict[str, int] = {}
    bursts: dict[int, list[int]] = {}
    roll.shots.sort(key=lambda s: s.local.replace(tzinfo=ZoneInfo(s.tz)))
    for n, shot in enumerate(roll.shots):
        lat = lon = place = None
        if shot.city:
            c = CITIES[shot.city]
            lat, lon = _jitter(rng, c[0], c[1], shot.jitter_km)
            if shot.city not in place_ids:
                place_ids[shot.city] = store_items.place_id(db, c[2], c[3], c[4], c[5])
            place = place_ids[shot.city]
        rel = _relpath(shot, n)
        item_id, _ = store_items.save_item(db, _record(shot, truth.seed, n, rel, lat, lon, place), root, rel,
                                           2_000_000, 1)
        truth.items += 1
        if shot.kind == "screenshot":
            truth.screenshots.append(item_id)
        if shot.messenger:
            truth.messenger.append(item_id)
        if shot.burst is not None:
            bursts.setdefault(shot.burst, []).append(item_id)
        if shot.trip is not None:
            truth.trips[shot.trip].item_ids.append(item_id)
        if shot.people:
            _faces(db, rng, item_id, shot.people, person_ids)
            truth.faces += len(shot.people)
    truth.bursts = list(bursts.values())


def _faces(db, rng: random.Random, item_id: int, people: tuple[str, ...], person_ids: dict[str, int]) -> None:
    """The faces job's output, as the people area stores it (test fixture only)."""
    for k, name in enumerate(people):
        db.execute(
            "INSERT INTO faces (item_id, top, left, bottom, right, det_score, size_px, person_id, "
            "assigned_by) VALUES (?, ?, ?, ?, ?, 0.99, ?, ?, 'auto')",
            [item_id, 0.2, 0.1 + 0.3 * k, 0.5, 0.3 + 0.3 * k, rng.randint(120, 900), person_ids[name]],
        )
    db.execute("UPDATE items SET face_count = ?, faces_scanned = 1 WHERE id = ?", [len(people), item_id])


def name_people(db, truth: Truth) -> None:
    """What the user does in the TUI: give the clusters names and birthdays."""
    with db.atomic():
        for name, person_id in truth.people.items():
            db.execute("UPDATE people SET name = ?, birthday = ? WHERE id = ?", [name, PEOPLE[name], person_id])
