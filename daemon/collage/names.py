"""File names of exports: how a memory's date and title become the name of its collage, video, sidecar and
album folder.

The export folder is a share other people and programs use, and a title can come from anyone (a person,
a Takeout album, a hostile file), so the rules live apart from the writing and are tested on their own:
a name is always one plain entry in the folder (no separators, no leading dot, no control or bidi
characters, at most NAME_MAX_BYTES bytes), and never one that belongs to a person or another memory.
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from homeroll.daemon.errors import UserError

__all__ = ["NAME_MAX_BYTES", "ExportNames", "safe_stem", "target_names", "target_paths"]

#: Bytes allowed for a file name's stem (names are capped at 255 bytes on ext4 and most shares; the
#: rest is left for " (NN)" and the extension).
NAME_MAX_BYTES = 200

_FORBIDDEN = set('/\\:*?"<>|')  # separators, plus what SMB/Windows shares refuse
_KEEP_FORMAT = {"\u200d"}       # zero-width joiner holds emoji sequences together


def _truncate_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    cut = data[:limit].decode("utf-8", errors="ignore")
    # do not leave half a grapheme: trailing joiners, combining marks, variation selectors, skin tones
    while cut and (unicodedata.category(cut[-1]) in ("Mn", "Me", "Cf", "Sk")
                   or 0x1F3FB <= ord(cut[-1]) <= 0x1F3FF or 0xFE00 <= ord(cut[-1]) <= 0xFE0F):
        cut = cut[:-1]
    if cut and cut[-1] == "\u200d":
        cut = cut[:-1]
    return cut


def safe_stem(date: str | None, title: str | None, memory_id: int, max_bytes: int = NAME_MAX_BYTES) -> str:
    """'2024-06-01 Lisbon trip' from a date and any title a person (or a hostile file) could give."""
    chars = []
    for ch in unicodedata.normalize("NFC", title or ""):
        category = unicodedata.category(ch)
        if ch in _FORBIDDEN or (category.startswith("C") and ch not in _KEEP_FORMAT) or category in ("Zl", "Zp"):
            chars.append(" ")
        else:
            chars.append(ch)
    clean = " ".join("".join(chars).split()).strip(" .")
    if not clean:
        clean = f"Memory {memory_id}"
    valid_date = date if date and len(date) == 10 and date[4] == "-" and date[7] == "-" and \
        date.replace("-", "").isdigit() else None
    stem = f"{valid_date} {clean}" if valid_date else clean
    stem = _truncate_bytes(stem, max_bytes).rstrip(" .")
    return stem or f"Memory {memory_id}"


def _is_ours(path: Path, sidecar: Path, memory_id: int, own: set[str], others: set[str]) -> bool:
    if str(path) in others:
        return False
    if str(path) in own:
        return True
    # Recovery after a crash between the renames and the DB update: the sidecar names this memory, and
    # vouches only for the names it lists. A folder or file a person made under a name we would use (an
    # album folder beside an older collage-only export) is theirs, and is never replaced or removed.
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not (isinstance(data, dict) and data.get("generator") == "homeroll" and data.get("memory_id") == memory_id):
        return False
    return path == sidecar or path.name in _listed(data)


def _listed(data: dict) -> set[str]:
    """The names a sidecar says its export wrote."""
    names = {data.get("image")}
    for key, field in (("video", "file"), ("album", "folder")):
        if isinstance(data.get(key), dict):
            names.add(data[key].get(field))
    return {n for n in names if isinstance(n, str)}


@dataclass(frozen=True)
class ExportNames:
    """Where one export's outputs go: ``<name>.jpg``, ``<name>.mp4``, ``<name>.json`` and the folder ``<name>/``."""

    image: Path
    video: Path
    sidecar: Path
    album: Path


def target_paths(folder: Path, stem: str, memory_id: int, own: set[str], others: set[str],
                 outputs: tuple[str, ...] = ("collage",)) -> ExportNames:
    """The export's paths: ``stem``, else ``stem (2)``, ``(3)``… while a name this export writes (the
    sidecar and the ``outputs``) is taken by an entry that is not this memory's. ``own`` are the paths
    recorded for this memory, ``others`` those recorded for every other memory."""
    for n in range(1, 1000):
        name = stem if n == 1 else f"{stem} ({n})"
        names = ExportNames(folder / f"{name}.jpg", folder / f"{name}.mp4", folder / f"{name}.json", folder / name)
        wanted = [names.sidecar, *(getattr(names, _ATTR[o]) for o in outputs)]
        taken = [p for p in wanted if os.path.lexists(p) and not _is_ours(p, names.sidecar, memory_id, own, others)]
        if not taken:
            return names
    raise UserError(f"too many files named {stem!r} in {folder}")


_ATTR = {"collage": "image", "video": "video", "album": "album"}


def target_names(folder: Path, stem: str, memory_id: int, own: set[str], others: set[str]) -> tuple[Path, Path]:
    """The collage's and the sidecar's path (see :func:`target_paths`)."""
    names = target_paths(folder, stem, memory_id, own, others)
    return names.image, names.sidecar
