"""Exporting an approved memory: render its collage, write it and a JSON sidecar into the household's
export folder atomically, and mark the memory exported.

Safety rules, because the folder is a share other people and programs use:
  * a file name made from a title is always one plain file in the folder (no separators, no leading
    dot, no control or bidi characters, at most NAME_MAX_BYTES bytes, unique);
  * data is written to an unnamed temporary file (O_TMPFILE) in the folder, fsynced, then linked and
    renamed into place, so a crash or SIGKILL never leaves half a JPEG. Where O_TMPFILE is missing
    (some network file systems) a dot-named temp file is used and swept on the next export;
  * a re-export replaces only the files recorded for that memory;
  * the library is never written: the folder must not be inside a library root.
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from homeroll.daemon import __version__
from homeroll.daemon.collage import caption as captions
from homeroll.daemon.collage.layout import LAYOUTS
from homeroll.daemon.collage.render import PRESETS, STYLES, Caption, Collage, render_collage
from homeroll.daemon.collage.sources import Source
from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.store import exports as store_exports
from homeroll.daemon.store.items import now_iso

log = logging.getLogger(__name__)

__all__ = ["ExportFolderError", "export_memory", "run_export_job", "safe_stem"]

#: Bytes allowed for a file name's stem (names are capped at 255 bytes on ext4 and most shares; the
#: rest is left for " (NN)" and the extension).
NAME_MAX_BYTES = 200
TEMP_PREFIX = ".homeroll-"
TEMP_SUFFIX = ".tmp"
#: Test hook: seconds to sleep after the data is written and before it is linked into place.
PAUSE_ENV = "HOMEROLL_TEST_EXPORT_PAUSE"
#: Test hook: use the named-temp-file fallback even where O_TMPFILE works.
NO_TMPFILE_ENV = "HOMEROLL_TEST_EXPORT_NO_TMPFILE"

_FORBIDDEN = set('/\\:*?"<>|')  # separators, plus what SMB/Windows shares refuse
_KEEP_FORMAT = {"\u200d"}       # zero-width joiner holds emoji sequences together


class ExportFolderError(UserError):
    """The export folder is missing or not writable: nothing was written, the job retries later."""


# ---------------------------------------------------------------------------------------------- names

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


# ------------------------------------------------------------------------------------- atomic writes

def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some network file systems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)


def _test_pause() -> None:
    pause = os.environ.get(PAUSE_ENV)
    if pause:
        sys.stderr.write(f"homeroll: test pause {pause}s before rename\n")
        sys.stderr.flush()
        time.sleep(float(pause))


def _temp_name(folder: Path) -> Path:
    return folder / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{TEMP_SUFFIX}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _link_unnamed(fd: int, path: Path) -> bool:
    """Give an O_TMPFILE inode a name: via /proc/self/fd (any user), else linkat(AT_EMPTY_PATH) (needs
    CAP_DAC_READ_SEARCH on older kernels). False if neither works here."""
    try:
        os.link(f"/proc/self/fd/{fd}", path, follow_symlinks=True)
        return True
    except OSError:
        pass
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        at_fdcwd, at_empty_path = -100, 0x1000
        return libc.linkat(fd, b"", at_fdcwd, os.fsencode(path), at_empty_path) == 0
    except (OSError, AttributeError):
        return False


def _write_named_temp(folder: Path, data: bytes, mode: int) -> Path:
    temp = _temp_name(folder)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        _write_all(fd, data)
        os.fchmod(fd, mode)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return temp


class _Prepared:
    """Data written and fsynced but not yet visible under its final name."""

    def __init__(self, folder: Path, data: bytes, mode: int) -> None:
        self.folder = folder
        self.data = data
        self.mode = mode
        self.fd: int | None = None
        self.temp: Path | None = None
        if hasattr(os, "O_TMPFILE") and not os.environ.get(NO_TMPFILE_ENV):
            try:
                self.fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY, mode)
            except OSError:
                self.fd = None  # not supported here: fall back to a named temp file
        if self.fd is None:
            self.temp = _write_named_temp(folder, data, mode)
            return
        try:
            _write_all(self.fd, data)
            os.fchmod(self.fd, mode)
            os.fsync(self.fd)
        except BaseException:
            self.discard()
            raise

    def commit(self, target: Path) -> None:
        if self.fd is not None:
            # give the unnamed inode a (dot) name, then rename it over the target in one step
            name = _temp_name(self.folder)
            if _link_unnamed(self.fd, name):
                self.temp = name
            os.close(self.fd)
            self.fd = None
            if self.temp is None:  # this file system cannot name an O_TMPFILE: write it the classic way
                self.temp = _write_named_temp(self.folder, self.data, self.mode)
        assert self.temp is not None
        os.replace(self.temp, target)
        self.temp = None

    def discard(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.temp is not None:
            try:
                self.temp.unlink()
            except OSError:
                pass
            self.temp = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_stale_temps(folder: Path) -> int:
    """Remove temp files a killed export left (named-temp fallback only): their process is gone."""
    removed = 0
    try:
        names = [n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX) and n.endswith(TEMP_SUFFIX)]
    except OSError:
        return 0
    for name in names:
        try:
            pid = int(name[len(TEMP_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid() or _alive(pid):
            continue  # that export is still running
        try:
            (folder / name).unlink()
            removed += 1
        except OSError:
            pass
    return removed


def write_atomic(target: Path, data: bytes, mode: int = 0o644) -> None:
    """Write one file atomically (used for previews; exports write two files in a fixed order)."""
    prepared = _Prepared(target.parent, data, mode)
    try:
        _test_pause()
        prepared.commit(target)
    finally:
        prepared.discard()
    _fsync_dir(target.parent)


# ----------------------------------------------------------------------------------------- checks

def _file_mode(cfg: Config) -> int:
    raw = cfg["export"].get("file_mode", "0644")
    try:
        mode = int(raw, 8) if isinstance(raw, str) else int(raw)
    except ValueError:
        raise UserError(f"[export] file_mode {raw!r} is not an octal mode like \"0644\"") from None
    if not 0 <= mode <= 0o777:
        raise UserError(f"[export] file_mode {raw!r} is not between 0000 and 0777")
    return mode


def _outside_libraries(cfg: Config, path: Path, what: str) -> None:
    resolved = path.resolve()
    for lib in cfg.libraries:
        lib_resolved = lib.resolve()
        if resolved == lib_resolved or lib_resolved in resolved.parents:
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


# ---------------------------------------------------------------------------------------- render

def _choice(value: str | None, default: str, choices: Any, what: str) -> str:
    value = value or default
    if value == "auto" and what == "layout":
        return value
    if value not in choices:
        raise UserError(f"unknown {what} {value!r} (choose from {', '.join(choices)})")
    return value


def _render(cfg: Config, memory: dict[str, Any], layout: str, size: str, style: str, title: bool) -> Collage:
    sources = [Source(p["path"] or "", p["kind"] or "photo", list(p["faces"]), p["item_id"])
               for p in memory["picks"]]
    if not sources:
        raise UserError(f"memory {memory['id']} has no photos to put in a collage")
    caption = None
    if title:
        subtitle = captions.join_subtitle([memory.get("place"), captions.date_range_text(memory["start"],
                                                                                          memory["end"])])
        caption = Caption(memory["title"] or "", subtitle)
    settings = cfg["export"]
    try:
        return render_collage(
            sources, layout=None if layout == "auto" else layout, size=size, style=style, caption=caption,
            gutter=float(settings.get("gutter", 0.012)), margin=float(settings.get("margin", 0.035)),
            background=settings.get("background") or None, font=settings.get("font") or None,
        )
    except ValueError as exc:
        raise UserError(f"memory {memory['id']}: {exc}") from None


def _encode(collage: Collage, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG":
        collage.image.save(buf, "PNG", dpi=(collage.dpi, collage.dpi))
    else:
        collage.image.save(buf, "JPEG", quality=quality, dpi=(collage.dpi, collage.dpi), optimize=False,
                           progressive=False, subsampling="4:2:0" if quality < 92 else "4:4:4")
    return buf.getvalue()


# ----------------------------------------------------------------------------------------- export

def _memory_status_api(db: Database):
    """store.memories (the memories area) when present, else this area's fallbacks."""
    try:
        from homeroll.daemon.store import memories as store_memories

        return (getattr(store_memories, "mark_exported", store_exports.mark_exported),
                getattr(store_memories, "approved_not_exported", store_exports.approved_not_exported))
    except ImportError:
        return store_exports.mark_exported, store_exports.approved_not_exported


def _is_ours(path: Path, memory_id: int, own: set[str], others: set[str]) -> bool:
    if str(path) in others:
        return False
    if str(path) in own:
        return True
    # recovery after a crash between the renames and the DB update: the sidecar names this memory
    sidecar = path.with_suffix(".json")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        return isinstance(data, dict) and data.get("generator") == "homeroll" and data.get("memory_id") == memory_id
    except (OSError, ValueError):
        return False


def _target_names(folder: Path, stem: str, memory_id: int, own: set[str], others: set[str]) -> tuple[Path, Path]:
    for n in range(1, 1000):
        name = stem if n == 1 else f"{stem} ({n})"
        image, sidecar = folder / f"{name}.jpg", folder / f"{name}.json"
        taken = [p for p in (image, sidecar) if os.path.lexists(p) and not _is_ours(p, memory_id, own, others)]
        if not taken:
            return image, sidecar
    raise UserError(f"too many files named {stem!r} in {folder}")


def export_memory(cfg: Config, db: Database, memory_id: int, *, layout: str | None = None, size: str | None = None,
                  style: str | None = None, title: bool = True, force: bool = False,
                  preview_path: Path | str | None = None) -> Path:
    """Render memory ``memory_id`` and write it; returns the collage's path.

    With ``preview_path`` the collage goes there and nothing is recorded or marked (any status).
    Otherwise the memory must be approved (or exported already) unless ``force``.
    """
    settings = cfg["export"]
    layout = _choice(layout, settings.get("layout", "auto"), LAYOUTS, "layout")
    size = _choice(size, settings.get("size", "landscape"), PRESETS, "size")
    style = _choice(style, settings.get("style", "clean"), STYLES, "style")
    quality = int(settings.get("jpeg_quality", 90))
    mode = _file_mode(cfg)
    memory = store_exports.memory_for_export(db, memory_id)
    if memory is None:
        raise UserError(f"no memory with id {memory_id}")

    if preview_path is not None:
        target = Path(preview_path).expanduser().absolute()
        _outside_libraries(cfg, target, "preview")
        if not target.parent.is_dir():
            raise UserError(f"preview folder {target.parent} does not exist")
        collage = _render(cfg, memory, layout, size, style, title)
        fmt = "PNG" if target.suffix.lower() == ".png" else "JPEG"
        try:
            write_atomic(target, _encode(collage, fmt, quality), mode)
        except OSError as exc:
            raise UserError(f"cannot write preview {target}: {exc.strerror or exc}") from None
        log.info("preview of memory %d (%s, %s, %s) written to %s", memory_id, collage.layout, size, style, target)
        return target

    if memory["status"] not in ("approved", "exported") and not force:
        raise UserError(f"memory {memory_id} is {memory['status']}, not approved: approve it first "
                        f"(homeroll memories approve {memory_id}) or pass --force")
    folder = cfg.export_dir
    _check_folder(cfg, folder)
    collage = _render(cfg, memory, layout, size, style, title)
    image_bytes = _encode(collage, "JPEG", quality)

    previous = store_exports.exports_for(db, memory_id)
    own = {p for e in previous for p in (e["path"], e["sidecar"]) if p}
    others = store_exports.paths_owned_by_others(db, memory_id)
    stem = safe_stem((memory["start"] or "")[:10], memory["title"], memory_id)
    _sweep_stale_temps(folder)
    image_path, sidecar_path = _target_names(folder, stem, memory_id, own, others)
    sidecar = {
        "generator": "homeroll",
        "homeroll_version": __version__,
        "memory_id": memory_id,
        "title": memory["title"],
        "kind": memory["kind"],
        "start": memory["start"],
        "end": memory["end"],
        "dates": captions.date_range_text(memory["start"], memory["end"]),
        "place": memory["place"],
        "people": memory["people"],
        "layout": collage.layout,
        "size": size,
        "style": style,
        "width": collage.image.width,
        "height": collage.image.height,
        "image": image_path.name,
        "sources": [p.path for p in sorted(collage.placements, key=lambda p: p.index)],
        "skipped": [{"path": path, "reason": reason} for path, reason in collage.skipped],
        "exported_at": now_iso(),
    }
    sidecar_bytes = (json.dumps(sidecar, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    prepared: list[_Prepared] = []
    try:
        try:
            prepared.append(_Prepared(folder, sidecar_bytes, mode))
            prepared.append(_Prepared(folder, image_bytes, mode))
            _test_pause()
            # sidecar first: if we die between the two renames, the next run finds its own name again
            prepared[0].commit(sidecar_path)
            prepared[1].commit(image_path)
        finally:
            for item in prepared:
                item.discard()
    except OSError as exc:
        raise ExportFolderError(f"cannot write to export folder {folder}: {exc.strerror or exc}") from None
    _fsync_dir(folder)

    for old in own - {str(image_path), str(sidecar_path)}:
        old_path = Path(old)
        if old_path.parent == folder and old_path.is_file() and not old_path.is_symlink():
            try:
                old_path.unlink()
            except OSError as exc:
                log.warning("could not remove the earlier export %s: %s", old_path, exc.strerror)
    store_exports.record_export(db, memory_id, str(image_path), str(sidecar_path), collage.layout, size, style)
    mark_exported, _ = _memory_status_api(db)
    mark_exported(db, memory_id)
    log.info("memory %d exported to %s (%s, %s, %s, %d photos%s)", memory_id, image_path, collage.layout, size,
             style, len(collage.placements), f", {len(collage.skipped)} skipped" if collage.skipped else "")
    return image_path


def run_export_job(cfg: Config, db: Database) -> dict[str, Any]:
    """Export every approved, not yet exported memory (when ``[export] auto`` is on).

    A missing or read-only folder stops the job with ``error`` set; the memories stay approved, so the
    next run (cron) tries again. A memory that cannot be rendered is listed in ``failed``.
    """
    summary: dict[str, Any] = {"enabled": bool(cfg["export"].get("auto", True)), "exported": [], "failed": [],
                               "error": None}
    if not summary["enabled"]:
        return summary
    _, approved_not_exported = _memory_status_api(db)
    pending = approved_not_exported(db)
    summary["pending"] = len(pending)
    for memory_id in pending:
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
    return summary
