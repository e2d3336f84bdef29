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


def generate_camera_roll(dest: Path, seed: int = 7, today: date | None = None, face_photos: list[Path] | None = None,
                         size: tuple[int, int] = (1024, 768)) -> dict:
    """Write the demo roll under ``dest`` (two phones' folders). Returns a small manifest of what is in it."""
    rng = random.Random(seed)
    today = today or date.today()
    pixel = dest / "anna-pixel" / "DCIM" / "Camera"
    iphone = dest / "ben-iphone" / "DCIM" / "100APPLE"
    counter = {"n": 0}
    manifest = {"photos": 0, "heic": 0, "videos": 0, "screenshots": 0, "messenger": 0, "trips": [], "events": []}

    def gps_for(place: str, km: float) -> tuple[float, float]:
        lat, lon, _ = PLACES[place]
        return (lat + rng.uniform(-km, km) / 111.0, lon + rng.uniform(-km, km) / (111.0 * math.cos(math.radians(lat))))

    def photo(shot: Shot, phone: str = "pixel", palette: str | None = None, image: Image.Image | None = None) -> Path:
        counter["n"] += 1
        lat_lon = gps_for(shot.place, shot.jitter_km) if shot.gps else None
        tz = PLACES[shot.place][2]
        img = image or scene(seed * 10_000 + counter["n"], size, palette or shot.place if shot.place in (
            "lisbon", "sintra", "tokyo", "kyoto") else palette or "home")
        if phone == "pixel":  # Android: writes OffsetTimeOriginal, names files by time
            name = f"PXL_{shot.when:%Y%m%d_%H%M%S}{rng.randint(100, 999)}.jpg"
            manifest["photos"] += 1
            return write_jpeg(pixel / name, img, taken=shot.when, offset=_offset_str(shot.when, tz), gps=lat_lon,
                              make="Google", model="Pixel 8")
        # iPhone: HEIC; some older exports have no offset, so the GPS zone decides
        name = f"IMG_{1000 + counter['n']:04d}.HEIC"
        manifest["heic"] += 1
        small = img.resize((768, 576) if img.width >= img.height else (576, 768))
        offset = _offset_str(shot.when, tz) if counter["n"] % 3 else None
        return write_heic(iphone / name, small, taken=shot.when, offset=offset, gps=lat_lon, make="Apple",
                          model="iPhone 13")

    def video(shot: Shot, folder: Path, mov: bool = False, stem: str | None = None) -> Path:
        tz = PLACES[shot.place][2]
        utc = shot.when.replace(tzinfo=ZoneInfo(tz)).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        name = f"{stem or f'VID_{shot.when:%Y%m%d_%H%M%S}'}{'.MOV' if mov else '.mp4'}"
        manifest["videos"] += 1
        return write_video(folder / name, creation_utc=utc, gps=gps_for(shot.place, 1) if shot.gps else None,
                           apple_local=shot.when if mov else None, apple_offset=_offset_str(shot.when, tz),
                           seed=rng.randint(0, 10_000))

    start = today - timedelta(days=900)
    # Everyday life at home: a few photos every few days, around Berlin and once in Potsdam (a day out).
    day = start
    while day < today:
        for _ in range(rng.randint(1, 3)):
            when = datetime.combine(day, datetime.min.time()) + timedelta(hours=rng.randint(9, 20), minutes=rng.randint(0, 59))
            photo(Shot(when, "berlin", 8), phone="iphone" if rng.random() < 0.08 else "pixel")
        day += timedelta(days=rng.randint(5, 11))
    day_out = today - timedelta(days=200)
    for i in range(6):
        photo(Shot(datetime.combine(day_out, datetime.min.time()) + timedelta(hours=11, minutes=25 * i), "potsdam", 1))

    # Summer trip: Lisbon & Sintra, five days, ~20% without GPS, one video.
    trip1 = date(today.year - 2, 8, 12)
    manifest["trips"].append({"title": "Lisbon & Sintra", "start": trip1.isoformat(),
                              "end": (trip1 + timedelta(days=4)).isoformat()})
    for d in range(5):
        place = "sintra" if d == 3 else "lisbon"
        for k in range(7):
            when = datetime.combine(trip1 + timedelta(days=d), datetime.min.time()) + timedelta(hours=10 + k, minutes=rng.randint(0, 50))
            photo(Shot(when, place, 1, gps=rng.random() > 0.2), phone="iphone" if k == 3 else "pixel")
    video(Shot(datetime.combine(trip1 + timedelta(days=1), datetime.min.time()) + timedelta(hours=18), "lisbon"), pixel)

    # Spring trip: Tokyo and Kyoto, six days, nine hours ahead of home.
    trip2 = date(today.year - 1, 4, 2)
    manifest["trips"].append({"title": "Tokyo & Kyoto", "start": trip2.isoformat(),
                              "end": (trip2 + timedelta(days=5)).isoformat()})
    for d in range(6):
        place = "kyoto" if d in (3, 4) else "tokyo"
        for k in range(6):
            when = datetime.combine(trip2 + timedelta(days=d), datetime.min.time()) + timedelta(hours=9 + k * 2, minutes=rng.randint(0, 50))
            photo(Shot(when, place, 3, gps=rng.random() > 0.2), phone="iphone" if k == 2 else "pixel")
    # A Live Photo from Kyoto: HEIC + MOV with the same name in one folder.
    live_when = datetime.combine(trip2 + timedelta(days=3), datetime.min.time()) + timedelta(hours=15)
    heic = photo(Shot(live_when, "kyoto", 1), phone="iphone")
    video(Shot(live_when, "kyoto", 1), iphone, mov=True, stem=heic.stem)

    # A birthday party at home: a dense burst in an afternoon (with real faces when we have them).
    party = date(today.year - 1, 9, 20)
    manifest["events"].append({"kind": "gathering", "date": party.isoformat()})
    faces = list(face_photos or [])
    for k in range(24):
        when = datetime.combine(party, datetime.min.time()) + timedelta(hours=15, minutes=k * 6)
        image = None
        if faces and k % 2 == 0:
            with Image.open(faces[(k // 2) % len(faces)]) as src:
                image = src.convert("RGB")
                image.thumbnail((1280, 1280))
        photo(Shot(when, "berlin", 0.2), palette="party", image=image)
    # Christmas Eve at home.
    xmas = date(today.year - 1, 12, 24)
    manifest["events"].append({"kind": "holiday", "date": xmas.isoformat()})
    for k in range(12):
        photo(Shot(datetime.combine(xmas, datetime.min.time()) + timedelta(hours=17, minutes=k * 9), "berlin", 0.2),
              palette="xmas")
    # On this day: photos on today's date one and two years ago.
    for years in (1, 2):
        try:
            then = today.replace(year=today.year - years)
        except ValueError:
            then = today.replace(year=today.year - years, day=28)
        for k in range(4):
            photo(Shot(datetime.combine(then, datetime.min.time()) + timedelta(hours=10 + k), "berlin", 3))
    # Screenshots and messenger images: indexed, never chosen for a memory.
    shots = dest / "anna-pixel" / "Pictures" / "Screenshots"
    for k in range(3):
        when = datetime.combine(today - timedelta(days=30 + k), datetime.min.time()) + timedelta(hours=21)
        path = shots / f"Screenshot_{when:%Y%m%d-%H%M%S}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        shot = Image.new("RGB", (1080, 2400), (250, 250, 250))
        ImageDraw.Draw(shot).rectangle((60, 300 + 400 * k, 1020, 600 + 400 * k), fill=(40, 120 + 40 * k, 200))
        shot.save(path)
        manifest["screenshots"] += 1
    wa = dest / "anna-pixel" / "WhatsApp" / "Media" / "WhatsApp Images"
    for k in range(3):
        day_k = today - timedelta(days=40 + k)
        path = wa / f"IMG-{day_k:%Y%m%d}-WA{k:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        scene(seed + 900 + k, (800, 600)).save(path, "JPEG", quality=70)
        manifest["messenger"] += 1
    # Files must look settled (old mtimes), as a synced roll does.
    for root, _, names in os.walk(dest):
        for name in names:
            path = os.path.join(root, name)
            os.utime(path, (os.stat(path).st_atime, os.stat(path).st_mtime - 3600))
    return manifest
