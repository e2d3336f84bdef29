"""Reading a photo's metadata with Pillow (+ pillow-heif): EXIF times, GPS, orientation, camera, size.

Only the formats phones produce are opened (JPEG, HEIF, PNG, WebP, AVIF, MPO); anything else is
"unsupported". Pillow's pixel limit is lowered (configurable) and its bomb warning is an error, so a
hostile file is refused at open, before any pixels are decoded.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image

from homeroll.daemon.ingest import timeinfo

IMAGE_FORMATS = ["JPEG", "HEIF", "PNG", "WEBP", "AVIF"]  # MPO opens through the JPEG plugin
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".hif", ".png", ".webp", ".avif", ".mpo"}

_TAG_DTO = ExifTags.Base.DateTimeOriginal
_TAG_DTD = ExifTags.Base.DateTimeDigitized
_TAG_SUBSEC_O = ExifTags.Base.SubsecTimeOriginal
_TAG_SUBSEC_D = ExifTags.Base.SubsecTimeDigitized
_TAG_OFFSET_O = ExifTags.Base.OffsetTimeOriginal
_TAG_OFFSET_D = ExifTags.Base.OffsetTimeDigitized
_TAG_ORIENTATION = ExifTags.Base.Orientation
_TAG_MAKE = ExifTags.Base.Make
_TAG_MODEL = ExifTags.Base.Model


class SkipFile(Exception):
    """The file cannot become an item; the message is the per-file reason shown to the user."""


def setup_pillow(max_image_pixels: int) -> None:
    """Register HEIF/AVIF openers and make decompression bombs an error at the configured size."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.MAX_IMAGE_PIXELS = max_image_pixels
    # Pillow's "Corrupt EXIF" and similar are per-file notes, not stderr noise; bombs are errors.
    warnings.simplefilter("ignore", UserWarning)
    warnings.simplefilter("error", Image.DecompressionBombWarning)


@dataclass
class PhotoInfo:
    format: str
    width: int
    height: int
    orientation: int
    dto: Any = None
    dto_subsec: Any = None
    dto_offset: Any = None
    dtd: Any = None
    dtd_subsec: Any = None
    dtd_offset: Any = None
    lat: float | None = None
    lon: float | None = None
    make: str | None = None
    model: str | None = None
    metadata_warning: str | None = None
    save_time: Any = None  # IFD0 DateTime of a PNG/WebP without DateTimeOriginal (dating.py ranks it)
    pixels_oriented: bool = False  # HEIF: libheif already applied the rotation to width/height

    @property
    def camera(self) -> str | None:
        make = (self.make or "").strip().strip("\x00")
        model = (self.model or "").strip().strip("\x00")
        if make and model.lower().startswith(make.split()[0].lower()):
            return model
        return f"{make} {model}".strip() or None

    @property
    def displayed_size(self) -> tuple[int, int]:
        if self.orientation in (5, 6, 7, 8) and not self.pixels_oriented:
            return self.height, self.width
        return self.width, self.height

    def taken_at(self, home_tz: str) -> timeinfo.TakenAt | None:
        for value, subsec, offset in ((self.dto, self.dto_subsec, self.dto_offset),
                                      (self.dtd, self.dtd_subsec, self.dtd_offset)):
            local = timeinfo.parse_exif_datetime(value, subsec)
            if local is not None:
                return timeinfo.from_local(local, timeinfo.parse_offset(offset), self.lat, self.lon, home_tz, "exif")
        return None


def _rational(value: Any) -> float | None:
    try:
        if isinstance(value, tuple) and len(value) == 2:
            num, den = value
            result = float(num) / float(den)
        else:
            result = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return None if math.isnan(result) or math.isinf(result) else result


def _dms(values: Any) -> float | None:
    if not isinstance(values, (tuple, list)) or len(values) != 3:
        return None
    parts = [_rational(v) for v in values]
    if any(p is None for p in parts):
        return None
    degrees, minutes, seconds = parts
    return degrees + minutes / 60 + seconds / 3600


def gps_position(gps: dict) -> tuple[float | None, float | None]:
    """Decimal (lat, lon) from a GPS IFD. 0,0, NaN, zero denominators and out-of-range are 'no position'."""
    lat = _dms(gps.get(ExifTags.GPS.GPSLatitude))
    lon = _dms(gps.get(ExifTags.GPS.GPSLongitude))
    if lat is None or lon is None:
        return None, None
    lat_ref = gps.get(ExifTags.GPS.GPSLatitudeRef)
    lon_ref = gps.get(ExifTags.GPS.GPSLongitudeRef)
    if isinstance(lat_ref, bytes):
        lat_ref = lat_ref.decode("ascii", "replace")
    if isinstance(lon_ref, bytes):
        lon_ref = lon_ref.decode("ascii", "replace")
    if isinstance(lat_ref, str) and lat_ref.strip().upper().startswith("S"):
        lat = -lat
    if isinstance(lon_ref, str) and lon_ref.strip().upper().startswith("W"):
        lon = -lon
    return valid_position(lat, lon)


def valid_position(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    if lat is None or lon is None or math.isnan(lat) or math.isnan(lon):
        return None, None
    if lat == 0 and lon == 0:  # also -0.0: "null island" is a missing fix, not a place
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return round(lat, 7), round(lon, 7)


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


def read_exif(image: Image.Image, info: PhotoInfo) -> None:
    """Fill the EXIF-derived fields; broken EXIF only costs those fields (noted), never the photo."""
    try:
        exif = image.getexif()
    except Exception as exc:  # noqa: BLE001 - every malformed EXIF variant raises something different
        info.metadata_warning = f"corrupt metadata: {type(exc).__name__}"
        return
    try:
        orientation = exif.get(_TAG_ORIENTATION)
        if isinstance(orientation, int) and 1 <= orientation <= 8:
            info.orientation = orientation
        info.make = _text(exif.get(_TAG_MAKE))
        info.model = _text(exif.get(_TAG_MODEL))
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        info.dto, info.dto_subsec, info.dto_offset = sub.get(_TAG_DTO), sub.get(_TAG_SUBSEC_O), sub.get(_TAG_OFFSET_O)
        info.dtd, info.dtd_subsec, info.dtd_offset = sub.get(_TAG_DTD), sub.get(_TAG_SUBSEC_D), sub.get(_TAG_OFFSET_D)
        if info.dto is None and image.format in ("PNG", "WEBP"):
            # some PNG/WebP writers only set IFD0 DateTime: the save time, so XMP and IPTC rank above it
            info.save_time = exif.get(ExifTags.Base.DateTime)
    except Exception as exc:  # noqa: BLE001
        info.metadata_warning = f"corrupt metadata: {type(exc).__name__}"
    try:
        info.lat, info.lon = gps_position(exif.get_ifd(ExifTags.IFD.GPSInfo))
    except Exception as exc:  # noqa: BLE001
        info.metadata_warning = f"corrupt GPS metadata: {type(exc).__name__}"
    if info.orientation == 1 and image.format == "PNG":
        xmp_orientation = _xmp_orientation(image)
        if xmp_orientation:
            info.orientation = xmp_orientation


def _xmp_orientation(image: Image.Image) -> int | None:
    try:
        xmp = image.getxmp()
        desc = xmp.get("xmpmeta", {}).get("RDF", {}).get("Description", {})
        if isinstance(desc, list):
            desc = desc[0] if desc else {}
        value = int(desc.get("Orientation"))
        return value if 1 <= value <= 8 else None
    except Exception:  # noqa: BLE001 - XMP is optional and often malformed
        return None


def open_photo(path: str) -> tuple[Image.Image, PhotoInfo]:
    """Open a photo (headers only) and read its metadata. Raises SkipFile with a reason."""
    try:
        image = Image.open(path, formats=IMAGE_FORMATS)
    except Image.DecompressionBombError as exc:
        raise SkipFile(f"decompression bomb ({exc})") from None
    except Image.DecompressionBombWarning as exc:
        raise SkipFile(f"decompression bomb ({exc})") from None
    except Image.UnidentifiedImageError:
        raise SkipFile("unsupported or unrecognised format") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise SkipFile(f"unreadable ({type(exc).__name__}: {exc})") from None
    if image.width <= 0 or image.height <= 0:
        image.close()
        raise SkipFile("unreadable (zero-sized image)")
    info = PhotoInfo(format=image.format or "?", width=image.width, height=image.height, orientation=1)
    read_exif(image, info)
    if info.format == "HEIF":
        info.pixels_oriented = True
        original = image.info.get("original_orientation")
        if isinstance(original, int) and 1 <= original <= 8:
            info.orientation = original
    return image, info
