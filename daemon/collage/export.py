"""Exporting an approved memory: pick its photos, render the collage, write it and a JSON sidecar into
the household's export folder, and record that the memory is exported. Also the export job that does
this for every newly approved memory.

This module only orchestrates; the parts with rules of their own live elsewhere: names.py makes the file
names (safe, unique, never a person's file), store/fsutil.py writes atomically, render.py draws. What it
adds is the safety of the folder as a whole, because the folder is a share other people and programs use:
  * both files are prepared (fsynced) before either is renamed into place, sidecar first, so a crash or
    SIGKILL leaves no half JPEG and the next run finds its own name again;
  * temp files a killed export left behind (where O_TMPFILE is missing) are swept on the next export;
  * a re-export replaces only the files recorded for that memory;
  * the library is never written: the folder must not be inside a library root, and it is never created
    (an unmounted share must not silently become a local folder).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from homeroll.daemon import __version__
from homeroll.daemon.collage import caption as captions
from homeroll.daemon.collage.layout import LAYOUTS
from homeroll.daemon.collage.names import safe_stem, target_names
from homeroll.daemon.collage.render import PRESETS, STYLES, Caption, Collage, encode_collage, render_collage
from homeroll.daemon.collage.sources import Source
from homeroll.daemon.config import Config, library_containing
from homeroll.daemon.errors import UserError
from homeroll.daemon.store import exports as store_exports
from homeroll.daemon.store import fsutil
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories

log = logging.getLogger(__name__)

__all__ = ["ExportFolderError", "export_memory", "run_export_job"]

#: Test hook: seconds to sleep after the data is written and before it is linked into place.
PAUSE_ENV = "HOMEROLL_TEST_EXPORT_PAUSE"
#: Test hook: use the named-temp-file fallback even where O_TMPFILE works.
NO_TMPFILE_ENV = "HOMEROLL_TEST_EXPORT_NO_TMPFILE"


class ExportFolderError(UserError):
    """The export folder is missing or not writable: nothing was written, the job retries later."""


@dataclass(frozen=True)
class _Options:
    """How one export looks and is written: the caller's choices, else ``[export]``."""

    layout: str
    size: str
    style: str
    title: bool
    quality: int
    mode: int


# ---------------------------------------------------------------------------------------- settings

def _choice(value: str | None, default: str, choices: Any, what: str) -> str:
    value = value or default
    if value == "auto" and what == "layout":
        return value
    if value not in choices:
        raise UserError(f"unknown {what} {value!r} (choose from {', '.join(choices)})")
    return value


def _file_mode(cfg: Config) -> int:
    raw = cfg["export"]["file_mode"]
    try:
        mode = int(raw, 8) if isinstance(raw, str) else int(raw)
    except ValueError:
        raise UserError(f"[export] file_mode {raw!r} is not an octal mode like \"0644\"") from None
    if not 0 <= mode <= 0o777:
        raise UserError(f"[export] file_mode {raw!r} is not between 0000 and 0777")
    return mode


def _options(cfg: Config, layout: str | None, size: str | None, style: str | None, title: bool) -> _Options:
    settings = cfg["export"]
    return _Options(
        layout=_choice(layout, settings["layout"], LAYOUTS, "layout"),
        size=_choice(size, settings["size"], PRESETS, "size"),
        style=_choice(style, settings["style"], STYLES, "style"),
        title=title,
        quality=int(settings["jpeg_quality"]),
        mode=_file_mode(cfg),
    )


# ------------------------------------------------------------------------------------------ checks

def _outside_libraries(cfg: Config, path: Path, what: str) -> None:
    lib = library_containing(path, cfg.libraries)
    if lib is not None:
        raise UserError(f"{what} {path} is inside library {lib}; homeroll never writes to a library")


def _check_folder(cfg: Config, folder: Path) -> None:
    _outside_libraries(cfg, folder, "export folder")
    if not folder.exists():
        raise ExportFolderError(f"export folder {folder} does not exist (create it or mount the share; "
                                "approved memories are exported when it is back)")
    if not folder.is_dir():
        raise ExportFolderError(f"export folder {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportFolderError(f"export folder {folder} is not writable by this user")


# ------------------------------------------------------------------------------------------ render

def _render(cfg: Config, memory: dict[str, Any], options: _Options) -> Collage:
    sources = [Source(p["path"] or "", p["kind"] or "photo", list(p["faces"]), p["item_id"])
               for p in memory["picks"]]
    if not sources:
        raise UserError(f"memory {memory['id']} has no photos to put in a collage")
    caption = None
    if options.title:
        subtitle = captions.join_subtitle([memory["place"], captions.date_range_text(memory["start"],
                                                                                     memory["end"])])
        caption = Caption(memory["title"] or "", subtitle)
    settings = cfg["export"]
    try:
        return render_collage(
            sources, layout=None if options.layout == "auto" else options.layout, size=options.size,
            style=options.style, caption=caption, gutter=float(settings["gutter"]),
            margin=float(settings["margin"]), background=settings["background"] or None,
            font=settings["font"] or None,
        )
    except ValueError as exc:
        raise UserError(f"memory {memory['id']}: {exc}") from None


def _sidecar_bytes(memory: dict[str, Any], collage: Collage, options: _Options, image_name: str) -> bytes:
    sidecar = {
        "generator": "homeroll",
        "homeroll_version": __version__,
        "memory_id": memory["id"],
        "title": memory["title"],
        "kind": memory["kind"],
        "start": memory["start"],
        "end": memory["end"],
        "dates": captions.date_range_text(memory["start"], memory["end"]),
        "place": memory["place"],
        "people": memory["people"],
        "layout": collage.layout,
        "size": options.size,
        "style": options.style,
        "width": collage.image.width,
        "height": collage.image.height,
        "image": image_name,
        "sources": [p.path for p in sorted(collage.placements, key=lambda p: p.index)],
        "skipped": [{"path": path, "reason": reason} for path, reason in collage.skipped],
        "exported_at": store_items.now_iso(),
    }
    return (json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ------------------------------------------------------------------------------------------- write

def _test_pause() -> None:
    pause = os.environ.get(PAUSE_ENV)
    if pause:
        sys.stderr.write(f"homeroll: test pause {pause}s before rename\n")
        sys.stderr.flush()
        time.sleep(float(pause))


def _write_in_order(folder: Path, files: list[tuple[Path, bytes]], mode: int) -> None:
    """Prepare every file in ``folder``, then rename them into place in the order given."""
    unnamed = not os.environ.get(NO_TMPFILE_ENV)
    with ExitStack() as stack:
        prepared = [stack.enter_context(fsutil.PreparedFile(folder, data, mode, unnamed=unnamed))
                    for _, data in files]
        _test_pause()
        for (target, _), item in zip(files, prepared, strict=True):
            item.commit(target)
    fsutil.fsync_dir(folder)


def _remove_earlier(folder: Path, own: set[str], keep: set[str]) -> None:
    """Remove this memory's earlier files (a renamed memory gets a new name) once the new ones are in place."""
    for old in own - keep:
        old_path = Path(old)
        if old_path.parent == folder and old_path.is_file() and not old_path.is_symlink():
            try:
                old_path.unlink()
            except OSError as exc:
                log.warning("could not remove the earlier export %s: %s", old_path, exc.strerror)


# ------------------------------------------------------------------------------------------ export

def _export_preview(cfg: Config, memory: dict[str, Any], options: _Options, preview_path: Path | str) -> Path:
    target = Path(preview_path).expanduser().absolute()
    _outside_libraries(cfg, target, "preview")
    if not target.parent.is_dir():
        raise UserError(f"preview folder {target.parent} does not exist")
    collage = _render(cfg, memory, options)
    fmt = "PNG" if target.suffix.lower() == ".png" else "JPEG"
    try:
        _write_in_order(target.parent, [(target, encode_collage(collage, fmt, options.quality))], options.mode)
    except OSError as exc:
        raise UserError(f"cannot write preview {target}: {exc.strerror or exc}") from None
    log.info("preview of memory %d (%s, %s, %s) written to %s", memory["id"], collage.layout, options.size,
             options.style, target)
    return target


def export_memory(cfg: Config, db: Database, memory_id: int, *, layout: str | None = None, size: str | None = None,
                  style: str | None = None, title: bool = True, force: bool = False,
                  preview_path: Path | str | None = None) -> Path:
    """Render memory ``memory_id`` and write it; returns the collage's path.

    With ``preview_path`` the collage goes there and nothing is recorded or marked (any status).
    Otherwise the memory must be approved (or exported already) unless ``force``.
    """
    options = _options(cfg, layout, size, style, title)
    memory = store_exports.memory_for_export(db, memory_id)
    if memory is None:
        raise UserError(f"no memory with id {memory_id}")
    if preview_path is not None:
        return _export_preview(cfg, memory, options, preview_path)

    if memory["status"] not in ("approved", "exported") and not force:
        raise UserError(f"memory {memory_id} is {memory['status']}, not approved: approve it first "
                        f"(homeroll memories approve {memory_id}) or pass --force")
    folder = cfg.export_dir
    _check_folder(cfg, folder)
    collage = _render(cfg, memory, options)
    image_bytes = encode_collage(collage, "JPEG", options.quality)

    own = {p for e in store_exports.exports_for(db, memory_id) for p in (e["path"], e["sidecar"]) if p}
    others = store_exports.paths_owned_by_others(db, memory_id)
    stem = safe_stem((memory["start"] or "")[:10], memory["title"], memory_id)
    fsutil.sweep_stale_temps(folder)
    image_path, sidecar_path = target_names(folder, stem, memory_id, own, others)
    sidecar_bytes = _sidecar_bytes(memory, collage, options, image_path.name)
    try:
        # sidecar first: if we die between the two renames, the next run finds its own name again
        _write_in_order(folder, [(sidecar_path, sidecar_bytes), (image_path, image_bytes)], options.mode)
    except OSError as exc:
        raise ExportFolderError(f"cannot write to export folder {folder}: {exc.strerror or exc}") from None

    def record() -> None:
        store_exports.record_export(db, memory_id, str(image_path), str(sidecar_path), collage.layout,
                                    options.size, options.style)

    if not store_memories.finish_export(db, memory_id, record, force=force):  # rejected while rendering
        for path in (image_path, sidecar_path):
            if str(path) not in own:
                path.unlink(missing_ok=True)
        raise UserError(f"memory {memory_id} was rejected while its collage was being made: nothing exported")
    _remove_earlier(folder, own, {str(image_path), str(sidecar_path)})
    log.info("memory %d exported to %s (%s, %s, %s, %d photos%s)", memory_id, image_path, collage.layout,
             options.size, options.style, len(collage.placements),
             f", {len(collage.skipped)} skipped" if collage.skipped else "")
    return image_path


def run_export_job(cfg: Config, db: Database, *,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Export every approved, not yet exported memory (when ``[export] auto`` is on).

    A missing or read-only folder stops the job with ``error`` set; the memories stay approved, so the
    next run (cron) tries again. A memory that cannot be rendered is listed in ``failed``.
    ``progress(done, total)`` is called before each memory and at the end.
    """
    summary: dict[str, Any] = {"enabled": bool(cfg["export"]["auto"]), "exported": [], "failed": [],
                               "error": None}
    if not summary["enabled"]:
        return summary
    pending = store_memories.approved_not_exported(db)
    summary["pending"] = len(pending)
    for done, memory_id in enumerate(pending):
        if progress:
            progress(done, len(pending))
        try:
            path = export_memory(cfg, db, memory_id)
        except ExportFolderError as exc:
            summary["error"] = str(exc)
            log.warning("export job stopped, will retry: %s", exc)
            break
        except UserError as exc:
            summary["failed"].append({"id": memory_id, "reason": str(exc)})
            log.warning("memory %d not exported: %s", memory_id, exc)
            continue
        summary["exported"].append({"id": memory_id, "path": str(path)})
    if progress and not summary["error"]:
        progress(len(pending), len(pending))
    return summary
