"""Which file beside a photo belongs to it: XMP sidecars and Google Takeout JSON, paired from one listing.

Exports carry their metadata next to the photo rather than in it: darktable and digiKam write
``NAME.ext.xmp``, Lightroom ``NAME.xmp``, and Google Takeout ``NAME.ext.json`` (older) or
``NAME.ext.supplemental-metadata.json`` (2024 on), with its own quirks. A sidecar is never a media item
and never an "unsupported file" row: it is accounted for as part of its photo, and a sidecar without
its photo is reported as such. Pairing works on names only (one folder listing, no file opened), so
the walk, the watcher and the reconcile all agree on it. Reading the sidecars is ``takeout`` and
``xmp``'s job, in the index worker.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from homeroll.daemon.ingest.metadata import IMAGE_EXTENSIONS
from homeroll.daemon.ingest.video import VIDEO_EXTENSIONS

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS

#: A bigger sidecar is refused with a reason: real ones are a few KB, and a worker must not read a huge one.
MAX_SIDECAR_BYTES = 2 * 1024 * 1024

#: Takeout cuts a sidecar's name to this many characters before ".json".
TAKEOUT_NAME_LIMIT = 46
_SUPPLEMENTAL = ".supplemental-metadata"

#: A Takeout album folder's own description (localised in some exports); never a photo's sidecar.
ALBUM_METADATA_NAMES = {"metadata.json", "metadaten.json", "métadonnées.json", "metadatos.json", "metadati.json",
                        "metadane.json", "metagegevens.json"}

#: Suffixes Google Photos gives an edited copy; it shares the original's sidecar.
_EDITED_SUFFIXES = ("-edited", "-bearbeitet", "-modifié", "-editado", "-modificato", "-bewerkt", "-redigerad")
_DUPLICATE = re.compile(r"^(?P<base>.*)\((?P<n>\d+)\)$")
_TAKEOUT_HINT = re.compile(
    r"\.(?:" + "|".join(sorted(e.lstrip(".") for e in MEDIA_EXTENSIONS)) + r")\b|\.supplemental-|\.suppl", re.I)


def sidecar_kind(name: str) -> str | None:
    """'xmp', 'takeout' (a JSON that may be a photo's), 'album', or None for a file that is not a sidecar."""
    lower = name.lower()
    if lower.endswith(".xmp"):
        return "xmp"
    if lower in ALBUM_METADATA_NAMES:
        return "album"
    if lower.endswith(".json"):
        return "takeout"
    return None


def _truncate(stem: str) -> str:
    return stem[:TAKEOUT_NAME_LIMIT]


def takeout_candidates(media_name: str) -> list[str]:
    """The Takeout sidecar names that can belong to a media file, best first.

    ``IMG_1(1).jpg`` pairs with ``IMG_1.jpg(1).json``; ``IMG_1-edited.jpg`` shares ``IMG_1.jpg.json``;
    long names are cut to 46 characters before ``.json`` (and the ``(n)`` goes after the cut).
    """
    base, ext = os.path.splitext(media_name)
    dup = ""
    match = _DUPLICATE.match(base)
    if match:
        base, dup = match["base"], f"({match['n']})"
    for suffix in _EDITED_SUFFIXES:
        if base.lower().endswith(suffix):
            base = base[: -len(suffix)]
            break
    full = base + ext
    stems = [_truncate(full + _SUPPLEMENTAL), _truncate(full), _truncate(base)]
    names = [f"{_truncate(media_name + _SUPPLEMENTAL)}.json", f"{_truncate(media_name)}.json"] if dup else []
    for stem in stems:  # a "(1)" copy never falls back to the original's sidecar: that is another photo
        candidate = f"{stem}{dup}.json"
        if candidate not in names:
            names.append(candidate)
    return names


def xmp_candidates(media_name: str) -> list[str]:
    """darktable/digiKam's ``NAME.ext.xmp`` before Lightroom's ``NAME.xmp`` (either case of the extension)."""
    base = os.path.splitext(media_name)[0]
    return [f"{media_name}.xmp", f"{media_name}.XMP", f"{base}.xmp", f"{base}.XMP"]


@dataclass
class FolderPairing:
    """The result of pairing one folder's names."""

    sidecars_of: dict[str, dict[str, str]] = field(default_factory=dict)  # media name -> {kind: sidecar name}
    media_of: dict[str, list[str]] = field(default_factory=dict)          # sidecar name -> media names
    orphans: dict[str, str] = field(default_factory=dict)                 # sidecar name -> kind (no photo)
    albums: list[str] = field(default_factory=list)                       # album metadata.json names
    not_sidecars: list[str] = field(default_factory=list)                 # .json that is no Takeout sidecar

    def kind_of(self, name: str) -> str | None:
        if name in self.albums:
            return "album"
        if name in self.media_of:
            return sidecar_kind(name)
        return self.orphans.get(name)


def pair_folder(names: Iterable[str]) -> FolderPairing:
    """Pair every media file of a folder with its sidecars, from the folder's names alone."""
    pairing = FolderPairing()
    candidates: dict[str, str] = {}
    media = []
    for name in names:
        kind = sidecar_kind(name)
        if kind == "album":
            pairing.albums.append(name)
        elif kind is not None:
            candidates[name] = kind
        elif os.path.splitext(name)[1].lower() in MEDIA_EXTENSIONS:
            media.append(name)
    if not candidates:  # a phone's camera folder: nothing to pair (the common case, kept cheap)
        return pairing
    for name in sorted(media):
        found = _sidecars_of(name, candidates)
        if found:
            pairing.sidecars_of[name] = found
            for sidecar in found.values():
                pairing.media_of.setdefault(sidecar, []).append(name)
    _sort_unpaired(pairing, candidates)
    return pairing


def _sidecars_of(media_name: str, candidates: dict[str, str]) -> dict[str, str]:
    """kind -> the best sidecar name of each kind present for one media file."""
    found: dict[str, str] = {}
    for kind, options in (("xmp", xmp_candidates(media_name)), ("takeout", takeout_candidates(media_name))):
        match = next((option for option in options if option in candidates), None)
        if match is not None:
            found[kind] = match
    return found


def _sort_unpaired(pairing: FolderPairing, candidates: dict[str, str]) -> None:
    """A sidecar no media file took is an orphan, or no sidecar at all when its name has no media hint."""
    for name, kind in candidates.items():
        if name in pairing.media_of:
            continue
        if kind == "takeout" and not _TAKEOUT_HINT.search(name):
            pairing.not_sidecars.append(name)  # print-subtitles.json, a tool's own config: not ours
        else:
            pairing.orphans[name] = kind


def list_folder(folder: str) -> list[str]:
    """The names of the regular files in a folder (empty when it cannot be listed)."""
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if e.is_file(follow_symlinks=False)]
    except OSError:
        return []
