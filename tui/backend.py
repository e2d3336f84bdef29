"""The TUI's only door to the data: one SQLite connection, used by worker threads one call at a time.

Every read and write goes through the core's functions (``homeroll.daemon.store``, the name offers of
``faces.hints``, the collage export), each a short transaction, so the service can keep writing in WAL
mode while someone browses. Nothing here runs on the UI thread:
screens call these methods from ``@work(thread=True)`` workers and post the results as messages.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image as PILImage

from homeroll.daemon import store
from homeroll.daemon.config import Config
from homeroll.daemon.faces import hints
from homeroll.daemon.service import liveness
from homeroll.daemon.store import faces as store_faces
from homeroll.daemon.store import memories as store_memories
from homeroll.daemon.store import service as store_service

T = TypeVar("T")


class Backend:
    """Serialises calls on one connection (``check_same_thread=False`` plus a lock)."""

    def __init__(self, cfg: Config, db_path: Path | str | None = None,
                 doctor: Callable[..., list[Any]] | None = None) -> None:
        """``doctor`` stands in for service.doctor.run where its answer must not depend on the machine
        (the snapshots: free space, the clock's sync and the installed unit differ from one host to the next)."""
        self.cfg = cfg
        self.run_doctor = doctor or _run_doctor
        self._db_path = Path(db_path or cfg.db_path)
        self._db = store.connect(self._db_path)
        self._lock = threading.Lock()
        self._last_version: int | None = None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return fn(self._db, *args, **kwargs)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Any core function that takes the DB first (a store function, a selection run), on this connection:
        the screens of the household's say (exclusions, occasions) need no wrapper of their own each."""
        return self._call(fn, *args, **kwargs)

    # -- change detection -------------------------------------------------------------------------
    def changed(self) -> bool:
        """True when another connection (the service, the CLI) committed since the last check.

        ``PRAGMA data_version`` (``store.data_version``) reads one page and ignores this connection's
        own commits, so the periodic check costs nothing when nobody else wrote: the screens reload
        (the status screen's counts take most of a second on 100k items) only after a real change.
        The first call only records the version.
        """
        version = self._call(store.data_version)
        changed = self._last_version is not None and version != self._last_version
        self._last_version = version
        return changed

    # -- memories -------------------------------------------------------------------------------
    def memories(self, status: str | None = None, kind: str | None = None,
                 search: str | None = None) -> list[dict[str, Any]]:
        return self._call(store_memories.list_memories, status=status, kind=kind, search=search or None)

    def memory(self, memory_id: int) -> dict[str, Any] | None:
        return self._call(store_memories.get_memory, memory_id)

    def approve(self, memory_id: int) -> None:
        self._call(store_memories.approve, memory_id)

    def reject(self, memory_id: int) -> None:
        self._call(store_memories.reject, memory_id)

    def rename(self, memory_id: int, title: str) -> None:
        self._call(store_memories.rename, memory_id, title)

    def remove_item(self, memory_id: int, item_id: int) -> None:
        self._call(store_memories.remove_item, memory_id, item_id)

    def set_cover(self, memory_id: int, item_id: int) -> None:
        self._call(store_memories.set_cover, memory_id, item_id)

    def export(self, memory_id: int, preview_path: Path | None = None, outputs: list[str] | None = None) -> Path:
        """Render the memory's ``outputs`` (default ``[export] outputs``) to the export folder, or only its
        collage to ``preview_path``. Slow: workers only."""
        # Imported on first use: the renderer is not needed to browse, and the first paint should not wait.
        from homeroll.daemon.collage import export, film_export

        # Its own connection: a render takes seconds and must not hold the lock the screens read through.
        db = store.connect(self._db_path)
        try:
            if preview_path is not None:
                return export.export_memory(self.cfg, db, memory_id, preview_path=preview_path)
            # the film at the job's low priority: the TUI's own thread (and the household's keys) stay first
            return export.export_memory(self.cfg, db, memory_id, outputs=outputs, nice=film_export.JOB_NICE)
        finally:
            db.close()

    def approve_and_export(self, memory_id: int, outputs: list[str] | None = None) -> Path:
        """'Export now' on a suggestion is the household's approval too: approve, then export."""
        memory = self.memory(memory_id)
        if memory is not None and memory.get("status") == "suggested":
            self.approve(memory_id)
        return self.export(memory_id, outputs=outputs)

    # -- people ---------------------------------------------------------------------------------
    def people(self) -> list[dict[str, Any]]:
        return self._call(store_faces.list_people)

    def person(self, person_id: int) -> dict[str, Any] | None:
        return self._call(store_faces.person, person_id)

    def person_faces(self, person_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        return self._call(store_faces.person_faces, person_id, limit=limit)

    def face_crop(self, face_id: int) -> bytes | None:
        return self._call(store_faces.face_crop, face_id)

    def name_person(self, person_id: int, name: str | None, birthday: str | None) -> None:
        self._call(store_faces.name_person, person_id, name, birthday)

    def merge_people(self, keep_id: int, other_id: int) -> None:
        self._call(store_faces.merge_people, keep_id, other_id)

    def move_face(self, face_id: int, person_id: int | None) -> int:
        return self._call(store_faces.move_face, face_id, person_id)

    def forget_person(self, person_id: int) -> dict[str, Any]:
        return self._call(store_faces.forget_person, person_id)

    def name_offers(self) -> dict[int, dict[str, Any]]:
        """person id -> the name Takeout suggests ({name, source, photos, of, text}); offers only, never applied."""
        offers = self._call(hints.offers)
        return {pid: {**offer.as_json(), "text": offer.text} for pid, offer in offers.items()}

    def accept_name(self, person_id: int, name: str) -> None:
        """Accept exactly the offer the screen showed (refused if it changed meanwhile)."""
        self._call(hints.accept, person_id, name)

    def decline_name(self, person_id: int, name: str) -> None:
        self._call(hints.decline, person_id, name)

    # -- status ---------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """store.service.status with what is waiting (skipped files, photos without a face scan)."""
        report = self._call(store_service.status, self.cfg["faces"]["disabled_roots"], queues=True)
        report["liveness"] = liveness.read(self.cfg.data_dir, report["kv"])  # the screen assesses it with its clock
        return report

    def doctor(self, now: datetime | None = None) -> list[dict[str, str]]:
        """`homeroll doctor`'s checks of this app's config file, as dicts (name, status, detail, fix).

        Slow next to the rest (it walks the libraries' folders, may run timedatectl and systemctl):
        workers only, and only when asked, never on each poll. No lock: doctor opens its own read-only
        connection and never writes, so it holds up neither the screens nor the service.
        """
        return [check._asdict() for check in self.run_doctor(self.cfg.path, now=now)]

    # -- images (no DB) --------------------------------------------------------------------------
    def load_thumb(self, relpath: str | None, max_px: int = 160) -> PILImage.Image | None:
        """A thumbnail from the data dir, shrunk and fully decoded here (never an original)."""
        if not relpath:
            return None
        path = Path(relpath)
        if not path.is_absolute():
            path = self.cfg.data_dir / path
        try:
            with PILImage.open(path) as img:
                img.draft("RGB", (max_px, max_px))
                small = img.convert("RGB")
            small.thumbnail((max_px, max_px))
            return small
        except (OSError, ValueError, PILImage.DecompressionBombError):
            return None


def _run_doctor(config_path: Path, now: datetime | None = None) -> list[Any]:
    # Imported on first use: the checks pull in the watcher and faces modules, which browsing never needs.
    from homeroll.daemon.service import doctor

    return doctor.run(config_path, now=now)


def image_from_bytes(data: bytes | None, max_px: int = 96) -> PILImage.Image | None:
    """A face crop (small JPEG bytes from the store) as a decoded RGB image."""
    if not data:
        return None
    try:
        with PILImage.open(io.BytesIO(data)) as img:
            small = img.convert("RGB")
        small.thumbnail((max_px, max_px))
        return small
    except (OSError, ValueError):
        return None
