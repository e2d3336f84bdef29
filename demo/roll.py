"""The demo camera roll: two phones' worth of dated, geotagged JPEG, HEIC and MP4 made by this code.

Home is Berlin; there are everyday photos over about two and a half years, a summer trip to Lisbon &
Sintra and a spring trip to Japan (other time zones, some photos without GPS, phones that write an
offset and phones that do not), a birthday party and a Christmas Eve at home, photos on today's date
in earlier years, a Live Photo, screenshots and messenger images. The files are written by
``media``'s writers.
"""


from __future__ import annotations

import math
import os
import random
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw

from homeroll.demo.media import scene, write_heic, write_jpeg, write_video

HOME = (52.5200, 13.4050, "Europe/Berlin")
PLACES = {
    "berlin": HOME,
    "potsdam": (52.3906, 13.0645, "Europe/Berlin"),
    "lisbon": (38.7139, -9.1394, "Europe/Lisbon"),
    "sintra": (38.7979, -9.3906, "Europe/Lisbon"),
    "tokyo": (35.6764, 139.6500, "Asia/Tokyo"),
    "kyoto": (35.0116, 135.7681, "Asia/Tokyo"),
}


@dataclass
class Shot:
    when: datetime  # local wall time where taken
    place: str
    jitter_km: float = 2.0
    gps: bool = True


def _offset_str(local: datetime, tz: str) -> str:
    delta = local.replace(tzinfo=ZoneInfo(tz)).utcoffset()
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class _Roll:
    """The writers of one roll: they share the seed's random stream, the file counter and the manifest."""

    def __init__(self, dest: Path, seed: int, size: tuple[int, int]) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.size = size
        self.pixel = dest / "anna-pixel" / "DCIM" / "Camera"
        self.iphone = dest / "ben-iphone" / "DCIM" / "100APPLE"
        self.count = 0
        # numpy, Pillow's encoders and x265 release the GIL: two threads make the roll in about half the time
        self.pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
        self.pending: list[Future] = []
        self.manifest = {"photos": 0, "heic": 0, "videos": 0, "screenshots": 0, "messenger": 0, "trips": [],
                         "events": []}

    def gps_for(self, place: str, km: float) -> tuple[float, float]:
        lat, lon, _ = PLACES[place]
        rng = self.rng
        return (lat + rng.uniform(-km, km) / 111.0, lon + rng.uniform(-km, km) / (111.0 * math.cos(math.radians(lat))))

    def photo(self, shot: Shot, phone: str = "pixel", palette: str | None = None,
              image: Image.Image | None = None) -> Path:
        self.count += 1
        lat_lon = self.gps_for(shot.place, shot.jitter_km) if shot.gps else None
        tz = PLACES[shot.place][2]
        travel = shot.place in ("lisbon", "sintra", "tokyo", "kyoto")
        seed, look = self.seed * 10_000 + self.count, palette or shot.place if travel else palette or "home"
        if phone == "pixel":  # Android: writes OffsetTimeOriginal, names files by time
            name = f"PXL_{shot.when:%Y%m%d_%H%M%S}{self.rng.randint(100, 999)}.jpg"
            self.manifest["photos"] += 1
            return self._write(write_jpeg, self.pixel / name, image, seed, look, None, taken=shot.when,
                               offset=_offset_str(shot.when, tz), gps=lat_lon, make="Google", model="Pixel 8")
        # iPhone: HEIC; some older exports have no offset, so the GPS zone decides
        name = f"IMG_{1000 + self.count:04d}.HEIC"
        self.manifest["heic"] += 1
        offset = _offset_str(shot.when, tz) if self.count % 3 else None
        return self._write(write_heic, self.iphone / name, image, seed, look, (768, 576), taken=shot.when,
                           offset=offset, gps=lat_lon, make="Apple", model="iPhone 13")

    def _write(self, writer, path: Path, image: Image.Image | None, seed: int, look: str,
               shrink: tuple[int, int] | None, **exif) -> Path:
        """Paint and encode in the pool; everything drawn from the shared random stream is already decided,
        so the roll is the same file for file whatever order the threads finish in."""
        def paint_and_write() -> None:
            img = image or scene(seed, self.size, look)
            if shrink:
                img = img.resize(shrink if img.width >= img.height else shrink[::-1])
            writer(path, img, **exif)

        self.pending.append(self.pool.submit(paint_and_write))
        return path

    def finish(self) -> None:
        """Wait for every file (a writer's error is raised here, not lost in a thread)."""
        try:
            for future in self.pending:
                future.result()
        finally:
            self.pool.shutdown()

    def video(self, shot: Shot, folder: Path, mov: bool = False, stem: str | None = None) -> Path:
        tz = PLACES[shot.place][2]
        utc = shot.when.replace(tzinfo=ZoneInfo(tz)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        name = f"{stem or f'VID_{shot.when:%Y%m%d_%H%M%S}'}{'.MOV' if mov else '.mp4'}"
        self.manifest["videos"] += 1
        return write_video(folder / name, creation_utc=utc, gps=self.gps_for(shot.place, 1) if shot.gps else None,
                           apple_local=shot.when if mov else None, apple_offset=_offset_str(shot.when, tz),
                           seed=self.rng.randint(0, 10_000))

    def trip(self, title: str, first: date, days: int, places: list[str], per_day: int, step_hours: int,
             start_hour: int, gps_km: float, iphone_k: int) -> None:
        """A trip of ``days`` days, ~20% of its photos without GPS."""
        rng = self.rng
        self.manifest["trips"].append({"title": title, "start": first.isoformat(),
                                       "end": (first + timedelta(days=days - 1)).isoformat()})
        for d in range(days):
            for k in range(per_day):
                when = _at(first + timedelta(days=d), start_hour + k * step_hours, rng.randint(0, 50))
                self.photo(Shot(when, places[d], gps_km, gps=rng.random() > 0.2),
                           phone="iphone" if k == iphone_k else "pixel")


def _at(day: date, hours: float, minutes: float = 0) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hours, minutes=minutes)


def _everyday(roll: _Roll, today: date) -> None:
    """Everyday life at home: a few photos every few days, around Berlin and once in Potsdam (a day out)."""
    rng = roll.rng
    day = today - timedelta(days=900)
    while day < today:
        for _ in range(rng.randint(1, 3)):
            when = _at(day, rng.randint(9, 20), rng.randint(0, 59))
            roll.photo(Shot(when, "berlin", 8), phone="iphone" if rng.random() < 0.08 else "pixel")
        day += timedelta(days=rng.randint(5, 11))
    day_out = today - timedelta(days=200)
    for i in range(6):
        roll.photo(Shot(_at(day_out, 11, 25 * i), "potsdam", 1))


def _trips(roll: _Roll, today: date) -> None:
    """Summer in Lisbon & Sintra with a video; spring in Tokyo and Kyoto, nine hours ahead, with a Live Photo."""
    trip1 = date(today.year - 2, 8, 12)
    roll.trip("Lisbon & Sintra", trip1, 5, ["lisbon", "lisbon", "lisbon", "sintra", "lisbon"], 7, 1, 10, 1, 3)
    roll.video(Shot(_at(trip1 + timedelta(days=1), 18), "lisbon"), roll.pixel)
    trip2 = date(today.year - 1, 4, 2)
    roll.trip("Tokyo & Kyoto", trip2, 6, ["tokyo", "tokyo", "tokyo", "kyoto", "kyoto", "tokyo"], 6, 2, 9, 3, 2)
    # A Live Photo from Kyoto: HEIC + MOV with the same name in one folder.
    live_when = _at(trip2 + timedelta(days=3), 15)
    heic = roll.photo(Shot(live_when, "kyoto", 1), phone="iphone")
    roll.video(Shot(live_when, "kyoto", 1), roll.iphone, mov=True, stem=heic.stem)


def _occasions(roll: _Roll, today: date, face_photos: list[Path]) -> None:
    """A birthday party (with real faces when we have them), Christmas Eve, and photos on this day."""
    party = date(today.year - 1, 9, 20)
    roll.manifest["events"].append({"kind": "gathering", "date": party.isoformat()})
    for k in range(24):
        image = None
        if face_photos and k % 2 == 0:
            with Image.open(face_photos[(k // 2) % len(face_photos)]) as src:
                image = src.convert("RGB")
                image.thumbnail((1280, 1280))
        roll.photo(Shot(_at(party, 15, k * 6), "berlin", 0.2), palette="party", image=image)
    xmas = date(today.year - 1, 12, 24)
    roll.manifest["events"].append({"kind": "holiday", "date": xmas.isoformat()})
    for k in range(12):
        roll.photo(Shot(_at(xmas, 17, k * 9), "berlin", 0.2), palette="xmas")
    for years in (1, 2):
        try:
            then = today.replace(year=today.year - years)
        except ValueError:
            then = today.replace(year=today.year - years, day=28)
        for k in range(4):
            roll.photo(Shot(_at(then, 10 + k), "berlin", 3))


def _graduation(roll: _Roll, today: date, face_photos: list[Path]) -> date:
    """An afternoon the household names itself (the demo adds it as an occasion): no rule would call it a
    graduation, and with ten photos at home it is no gathering either."""
    day = date(today.year - 1, 6, 28)
    roll.manifest["events"].append({"kind": "graduation", "date": day.isoformat()})
    for k in range(10):
        image = None
        if face_photos and k % 2 == 0:
            with Image.open(face_photos[(k // 2 + 2) % len(face_photos)]) as src:
                image = src.convert("RGB")
                image.thumbnail((1280, 1280))
        roll.photo(Shot(_at(day, 14, k * 9), "berlin", 1), palette="party", image=image)
    return day


def _screens_and_messages(roll: _Roll, dest: Path, today: date) -> None:
    """Screenshots and messenger images: indexed, never chosen for a memory."""
    shots = dest / "anna-pixel" / "Pictures" / "Screenshots"
    for k in range(3):
        when = _at(today - timedelta(days=30 + k), 21)
        path = shots / f"Screenshot_{when:%Y%m%d-%H%M%S}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        shot = Image.new("RGB", (1080, 2400), (250, 250, 250))
        ImageDraw.Draw(shot).rectangle((60, 300 + 400 * k, 1020, 600 + 400 * k), fill=(40, 120 + 40 * k, 200))
        shot.save(path)
        roll.manifest["screenshots"] += 1
    wa = dest / "anna-pixel" / "WhatsApp" / "Media" / "WhatsApp Images"
    for k in range(3):
        day_k = today - timedelta(days=40 + k)
        path = wa / f"IMG-{day_k:%Y%m%d}-WA{k:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        scene(roll.seed + 900 + k, (800, 600)).save(path, "JPEG", quality=70)
        roll.manifest["messenger"] += 1


def generate_camera_roll(dest: Path, seed: int = 7, today: date | None = None, face_photos: list[Path] | None = None,
                         size: tuple[int, int] = (1024, 768), graduation: bool = False) -> dict:
    """Write the demo roll under ``dest`` (two phones' folders). Returns a small manifest of what is in it.

    ``graduation`` adds the afternoon `homeroll demo` names as the family's own occasion."""
    today = today or date.today()
    roll = _Roll(dest, seed, size)
    try:
        _everyday(roll, today)
        _trips(roll, today)
        _occasions(roll, today, list(face_photos or []))
        if graduation:
            _graduation(roll, today, list(face_photos or []))
        _screens_and_messages(roll, dest, today)
    finally:
        roll.finish()
    # Files must look settled (old mtimes), as a synced roll does.
    for root, _, names in os.walk(dest):
        for name in names:
            path = os.path.join(root, name)
            os.utime(path, (os.stat(path).st_atime, os.stat(path).st_mtime - 3600))
    return roll.manifest
