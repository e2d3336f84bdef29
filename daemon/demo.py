"""The demo camera roll: two phones' worth of dated, geotagged JPEG, HEIC and MP4 made by this code.

Home is Berlin; there are everyday photos over about two and a half years, a summer trip to Lisbon &
Sintra and a spring trip to Japan (other time zones, some photos without GPS, phones that write an
offset and phones that do not), a birthday party and a Christmas Eve at home, photos on today's date
in earlier years, a Live Photo, screenshots and messenger images. ``write_jpeg``/``write_heic``/
``write_video`` are also what the tests use to make media with exact metadata.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from PIL import ExifTags, Image, ImageDraw

HOME = (52.5200, 13.4050, "Europe/Berlin")
PLACES = {
    "berlin": HOME,
    "potsdam": (52.3906, 13.0645, "Europe/Berlin"),
    "lisbon": (38.7139, -9.1394, "Europe/Lisbon"),
    "sintra": (38.7979, -9.3906, "Europe/Lisbon"),
    "tokyo": (35.6764, 139.6500, "Asia/Tokyo"),
    "kyoto": (35.0116, 135.7681, "Asia/Tokyo"),
}


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def build_exif(taken: datetime | None, offset: str | None = None, gps: tuple[float, float] | None = None,
               make: str | None = None, model: str | None = None, orientation: int | None = None,
               subsec: str | None = None) -> Image.Exif:
    exif = Image.Exif()
    if make:
        exif[ExifTags.Base.Make] = make
    if model:
        exif[ExifTags.Base.Model] = model
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if taken is not None:
        sub[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
        sub[ExifTags.Base.DateTimeDigitized] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if subsec:
        sub[ExifTags.Base.SubsecTimeOriginal] = subsec
    if offset is not None:
        sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None:
        lat, lon = gps
        g = exif.get_ifd(ExifTags.IFD.GPSInfo)
        g[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        g[ExifTags.GPS.GPSLatitude] = _dms(lat)
        g[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        g[ExifTags.GPS.GPSLongitude] = _dms(lon)
    return exif


def write_jpeg(path: Path, image: Image.Image, **exif) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=85, exif=build_exif(**exif))
    return path


def write_heic(path: Path, image: Image.Image, **exif) -> Path:
    import pillow_heif

    pillow_heif.register_heif_opener()
    path.parent.mkdir(parents=True, exist_ok=True)
    # x265's ultrafast preset: a demo HEIC in well under a second instead of several on a small CPU
    image.save(path, "HEIF", quality=60, enc_params={"preset": "ultrafast"}, exif=build_exif(**exif))
    return path


def write_video(path: Path, frames: int = 20, size: tuple[int, int] = (320, 240), creation_utc: datetime | None = None,
                gps: tuple[float, float] | None = None, apple_local: datetime | None = None,
                apple_offset: str | None = None, seed: int = 0) -> Path:
    """An MP4/MOV with the metadata phones write: UTC creation_time, ISO 6709 location, Apple's local date."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    is_mov = path.suffix.lower() == ".mov"
    options = {"movflags": "use_metadata_tags"} if is_mov else {}
    container = av.open(str(path), "w", format="mov" if is_mov else "mp4", options=options)
    if creation_utc is not None:
        container.metadata["creation_time"] = creation_utc.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    if gps is not None:
        iso = f"{gps[0]:+08.4f}{gps[1]:+09.4f}/"
        container.metadata["com.apple.quicktime.location.ISO6709" if is_mov else "location"] = iso
    if apple_local is not None and is_mov:
        container.metadata["com.apple.quicktime.creationdate"] = apple_local.strftime("%Y-%m-%dT%H:%M:%S") + (
            (apple_offset or "+0000").replace(":", ""))
    stream = container.add_stream("mpeg4", rate=10)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=3)
    for i in range(frames):
        pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
        pixels[:] = (base + i * 6) % 255
        pixels[:, (i * 12) % size[0]: (i * 12) % size[0] + 20] = 255
        frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def scene(seed: int, size: tuple[int, int] = (1600, 1200), palette: str = "home", label: str | None = None) -> Image.Image:
    """A photo-like picture: sky gradient, hills, a sun, texture. Different per seed (distinct hashes)."""
    rng = random.Random(seed)
    w, h = size
    palettes = {
        "home": ((120, 160, 210), (70, 110, 60)),
        "lisbon": ((90, 170, 235), (215, 170, 110)),
        "sintra": ((150, 190, 220), (40, 100, 50)),
        "tokyo": ((245, 190, 200), (90, 90, 110)),
        "kyoto": ((250, 205, 170), (120, 60, 50)),
        "party": ((250, 220, 150), (160, 60, 120)),
        "xmas": ((30, 40, 80), (200, 30, 40)),
    }
    sky, ground = palettes.get(palette, palettes["home"])
    y = np.linspace(0, 1, h)[:, None]
    top = np.array(sky, dtype=np.float32)
    bottom = np.array([min(255, c + 60) for c in sky], dtype=np.float32)
    pixels = (top * (1 - y[..., None]) + bottom * y[..., None]).repeat(w, axis=1)
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    sun_x, sun_y, r = rng.randint(w // 8, w - w // 8), rng.randint(h // 10, h // 3), rng.randint(h // 14, h // 7)
    draw.ellipse((sun_x - r, sun_y - r, sun_x + r, sun_y + r), fill=(255, 236, 170))
    for layer in range(3):
        base_y = h * (0.55 + 0.12 * layer)
        amp, freq, phase = rng.uniform(20, 90), rng.uniform(1.5, 4), rng.uniform(0, 6.28)
        shade = tuple(max(0, min(255, int(c * (1 - 0.18 * layer) + rng.randint(-20, 20)))) for c in ground)
        points = [(x, base_y + amp * math.sin(freq * x / w * 6.28 + phase)) for x in range(0, w + 40, 40)]
        draw.polygon(points + [(w, h), (0, h)], fill=shade)
    for _ in range(rng.randint(3, 9)):
        x, yy, s = rng.randint(0, w), rng.randint(h // 2, h), rng.randint(20, 90)
        draw.rectangle((x, yy - s * 2, x + s, yy), fill=tuple(rng.randint(30, 230) for _ in range(3)))
    noise = np.asarray(image, dtype=np.int16) + np.random.default_rng(seed).integers(-9, 10, (h, w, 3))
    return Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8), "RGB")


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
