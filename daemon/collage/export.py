"""Exporting an approved memory: pick its photos, render its outputs (a collage, a video, an album folder;
``[export] outputs``), write them and a JSON sidecar into the household's export folder, and record that
the memory is exported. Also the export job that does this for every newly approved memory.

This module only orchestrates; the parts with rules of their own live elsewhere: names.py makes the names
(safe, unique, never a person's file), store/fsutil.py writes atomically, render.py draws the collage,
film_export.py and video.py make the film, album.py builds the folder. What it adds is the safety of the
folder as a whole, because the folder is a share other people and programs use:
  * every output is prepared (fsynced, with no name yet) before any is renamed into place, sidecar first,
    so a crash or SIGKILL leaves no half JPEG or MP4 and the next run finds its own names again;
  * temp files and folders a killed export left behind (where O_TMPFILE is missing) are swept on the next
    export;
  * a re-export replaces only the files and the folder recorded for that memory;
  * the library is never written: the folder must not be inside a library root, and it is never created
    (an unmounted share must not silently become a local folder).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from homeroll.daemon import __version__
from homeroll.daemon.collage import album as albums
from homeroll.daemon.collage import caption as captions
from homeroll.daemon.collage import film_export
from homeroll.daemon.collage.layout import LAYOUTS
from homeroll.daemon.collage.names import ExportNames, safe_stem, target_paths
from homeroll.daemon.collage.render import PRESETS, STYLES, Caption, Collage, encode_collage, render_collage
from homeroll.daemon.collage.sources import Source
from homeroll.daemon.config import Config, export_outputs, library_containing
from homeroll.daemon.errors import UserError
from homeroll.daemon.store import exports as store_exports
from homeroll.daemon.store import fsutil
from homeroll.daemon.store import items as store_items
from homeroll.daemon.store import memories as store_memories

log = logging.getLogger(__name__)

__all__ = ["ExportFolderError", "export_memory", "export_outputs_of", "run_export_job"]

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


@dataclass
class _Made:
    """What one export rendered and prepared, none of it visible under its name yet."""

    names: ExportNames
    collage: Collage | None = None
    image: bytes | None = None
    video: fsutil.PreparedFile | None = None
    film: Any = None  # video.FilmInfo
    album: albums.PreparedAlbum | None = None

    def written(self) -> dict[str, Path]:
        """output -> path, in the order they are put in place (after the sidecar)."""
        made = {"collage": self.image is not None, "video": self.video is not None, "album": self.album is not None}
        paths = {"collage": self.names.image, "video": self.names.video, "album": self.names.album}
        return {output: paths[output] for output, present in made.items() if present}


def _skipped(made: _Made) -> list[dict[str, str]]:
    """Every source an output left out, once (the collage's reasons first)."""
    out: dict[str, str] = {}
    for part in (made.collage and made.collage.skipped, made.film and made.film.skipped,
                 made.album and made.album.skipped):
        for path, reason in part or []:
            out.setdefault(path, reason)
    return [{"path": path, "reason": reason} for path, reason in out.items()]


def _sidecar_bytes(memory: dict[str, Any], made: _Made, options: _Options) -> bytes:
    sidecar: dict[str, Any] = {
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
        "outputs": list(made.written()),
    }
    sources = [p["path"] for p in memory["picks"] if p["path"]]
    if made.collage is not None:
        collage = made.collage
        sources = [p.path for p in sorted(collage.placements, key=lambda p: p.index)]
        sidecar.update(layout=collage.layout, size=options.size, style=options.style, width=collage.image.width,
                       height=collage.image.height, image=made.names.image.name)
    elif made.film is not None:
        sources = list(made.film.sources)
    sidecar["sources"] = sources
    if made.film is not None:
        sidecar["video"] = film_export.video_sidecar(made.film, made.names.video.name)
    if made.album is not None:
        sidecar["album"] = {"folder": made.names.album.name, "files": made.album.files, "copies": made.album.copies}
    sidecar["skipped"] = _skipped(made)
    sidecar["exported_at"] = store_items.now_iso()
    return (json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ------------------------------------------------------------------------------------------- write

def _test_pause() -> None:
    pause = os.environ.get(PAUSE_ENV)
    if pause:
        sys.stderr.write(f"homeroll: test pause {pause}s before rename\n")
        sys.stderr.flush()
        time.sleep(float(pause))


def _remove_earlier(folder: Path, own: set[str], keep: set[str]) -> None:
    """Remove this memory's earlier files and album folder (a renamed memory gets new names) once the new
    ones are in place; only entries directly in the folder, and never through a symlink."""
    for old in own - keep:
        old_path = Path(old)
        if old_path.parent == folder and (old_path.is_file() or old_path.is_dir()) and not old_path.is_symlink():
            albums.remove_entry(old_path)


# ------------------------------------------------------------------------------------------ export

def _export_preview(cfg: Config, memory: dict[str, Any], options: _Options, preview_path: Path | str) -> Path:
    target = Path(preview_path).expanduser().absolute()
    _outside_libraries(cfg, target, "preview")
    if not target.parent.is_dir():
        raise UserError(f"preview folder {target.parent} does not exist")
    collage = _render(cfg, memory, options)
    fmt = "PNG" if target.suffix.lower() == ".png" else "JPEG"
    try:
        fsutil.write_atomic(target, encode_collage(collage, fmt, options.quality), options.mode,
                            unnamed=not os.environ.get(NO_TMPFILE_ENV))
    except OSError as exc:
        raise UserError(f"cannot write preview {target}: {exc.strerror or exc}") from None
    log.info("preview of memory %d (%s, %s, %s) written to %s", memory["id"], collage.layout, options.size,
             options.style, target)
    return target


def _prepare(cfg: Config, memory: dict[str, Any], options: _Options, outputs: tuple[str, ...], names: ExportNames,
             background: film_export.Background, stack: ExitStack) -> _Made:
    """Render every output into files with no name yet (discarded when ``stack`` closes uncommitted)."""
    made = _Made(names)
    folder = names.sidecar.parent
    if "collage" in outputs:
        made.collage = _render(cfg, memory, options)
        made.image = encode_collage(made.collage, "JPEG", options.quality)
    if "video" in outputs:
        made.video, made.film = film_export.render_video(cfg, memory, folder, options.mode, background=background,
                                                         unnamed=not os.environ.get(NO_TMPFILE_ENV))
        stack.callback(made.video.discard)
    if "album" in outputs:
        extras: list[albums.Extra] = []
        if made.image is not None:
            extras.append((names.image.name, albums.bytes_writer(made.image)))
        if made.video is not None:
            extras.append((names.video.name, made.video.copy_into))
        made.album = stack.enter_context(albums.prepare_album(folder, memory["picks"], extras, options.mode))
    return made


def _write_outputs(cfg: Config, memory: dict[str, Any], options: _Options, outputs: tuple[str, ...],
                   names: ExportNames, background: film_export.Background) -> _Made:
    """Prepare everything, then put it in place: the sidecar first (if we die between the renames, the next
    run finds its own names again through it), the collage, the video, the album folder last."""
    folder = names.sidecar.parent
    unnamed = not os.environ.get(NO_TMPFILE_ENV)
    with ExitStack() as stack:
        made = _prepare(cfg, memory, options, outputs, names, background, stack)
        files = [(names.sidecar, _sidecar_bytes(memory, made, options))]
        if made.image is not None:
            files.append((names.image, made.image))
        prepared = [stack.enter_context(fsutil.PreparedFile(folder, data, options.mode, unnamed=unnamed))
                    for _, data in files]
        _test_pause()
        for (target, _), item in zip(files, prepared, strict=True):
            item.commit(target)
        if made.video is not None:
            made.video.commit(names.video)
        fsutil.fsync_dir(folder)
        if made.album is not None:
            made.album.commit(names.album)
    return made


def export_outputs_of(cfg: Config, db: Database, memory_id: int, *, layout: str | None = None,
                      size: str | None = None, style: str | None = None, title: bool = True, force: bool = False,
                      outputs: Sequence[str] | str | None = None, nice: int = 0,
                      check: Callable[[], None] | None = None) -> dict[str, Path]:
    """Render memory ``memory_id``'s outputs into the export folder; returns output -> path (the sidecar
    as "sidecar"). ``outputs`` (a list or a comma list) defaults to ``[export] outputs``; ``nice`` lowers
    the video render's priority and ``check`` is called once a second of film (the background job's stop
    check, which raises to leave the render). The memory must be approved (or exported already) unless
    ``force``."""
    options = _options(cfg, layout, size, style, title)
    chosen = export_outputs(outputs, "--outputs") if outputs is not None else \
        export_outputs(cfg["export"]["outputs"], "[export] outputs")
    memory = store_exports.memory_for_export(db, memory_id)
    if memory is None:
        raise UserError(f"no memory with id {memory_id}")
    if memory["status"] not in ("approved", "exported") and not force:
        raise UserError(f"memory {memory_id} is {memory['status']}, not approved: approve it first "
                        f"(homeroll memories approve {memory_id}) or pass --force")
    folder = cfg.export_dir
    _check_folder(cfg, folder)
    own = {p for e in store_exports.exports_for(db, memory_id) for p in (e["path"], e["sidecar"]) if p}
    others = store_exports.paths_owned_by_others(db, memory_id)
    stem = safe_stem((memory["start"] or "")[:10], memory["title"], memory_id)
    fsutil.sweep_stale_temps(folder, dirs=True)
    names = target_paths(folder, stem, memory_id, own, others, chosen)
    try:
        made = _write_outputs(cfg, memory, options, chosen, names, film_export.Background(nice, check))
    except OSError as exc:
        raise ExportFolderError(f"cannot write to export folder {folder}: {exc.strerror or exc}") from None
    written = made.written()

    def record() -> None:
        collage = made.collage
        store_exports.record_outputs(db, memory_id, {k: str(v) for k, v in written.items()}, str(names.sidecar),
                                     collage.layout if collage else None, options.size if collage else None,
                                     options.style if collage else None)

    if not store_memories.finish_export(db, memory_id, record, force=force):  # rejected while rendering
        for path in (*written.values(), names.sidecar):
            if str(path) not in own:
                albums.remove_entry(path)
        what = "collage" if list(written) == ["collage"] else "export"
        raise UserError(f"memory {memory_id} was rejected while its {what} was being made: nothing exported")
    _remove_earlier(folder, own, {str(p) for p in (*written.values(), names.sidecar)})
    skipped = len(_skipped(made))
    log.info("memory %d exported to %s (%s%s)", memory_id, folder, ", ".join(p.name for p in written.values()),
             f"; {skipped} sources skipped" if skipped else "")
    return {**written, "sidecar": names.sidecar}


def export_memory(cfg: Config, db: Database, memory_id: int, *, layout: str | None = None, size: str | None = None,
                  style: str | None = None, title: bool = True, force: bool = False,
                  preview_path: Path | str | None = None, outputs: Sequence[str] | str | None = None,
                  nice: int = 0) -> Path:
    """Render memory ``memory_id`` and write it; returns the collage's path (the video's, or the album
    folder's, when no collage is among the outputs). See :func:`export_outputs_of`.

    With ``preview_path`` only the collage is rendered, to that file, and nothing is recorded or marked
    (any status).
    """
    if preview_path is not None:
        memory = store_exports.memory_for_export(db, memory_id)
        if memory is None:
            raise UserError(f"no memory with id {memory_id}")
        return _export_preview(cfg, memory, _options(cfg, layout, size, style, title), preview_path)
    written = export_outputs_of(cfg, db, memory_id, layout=layout, size=size, style=style, title=title, force=force,
                                outputs=outputs, nice=nice)
    return next(p for key, p in written.items() if key != "sidecar")


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
            # the service's stop check, about once a second of film: a stop does not wait for a long render
            still = functools.partial(progress, done, len(pending)) if progress else None
            written = export_outputs_of(cfg, db, memory_id, nice=film_export.JOB_NICE, check=still)
        except ExportFolderError as exc:
            summary["error"] = str(exc)
            log.warning("export job stopped, will retry: %s", exc)
            break
        except UserError as exc:
            summary["failed"].append({"id": memory_id, "reason": str(exc)})
            log.warning("memory %d not exported: %s", memory_id, exc)
            continue
        main = next(p for key, p in written.items() if key != "sidecar")
        summary["exported"].append({"id": memory_id, "path": str(main),
                                    "files": {key: str(p) for key, p in written.items()}})
    if progress and not summary["error"]:
        progress(len(pending), len(pending))
    return summary
