"""Writing a memory's film into the export folder: the settings from ``[export]``, the render streamed into
a prepared (unnamed) file, and the film's part of the sidecar.

video.py draws and encodes; this module is the export's side of it, apart from export.py so that the
collage's orchestration stays readable. The render is long (a minute on a Pi), so:
  * it streams into fsutil.PreparedFile.open_stream: the MP4 has no name until every output is ready, so a
    failed or killed render leaves no partial file and the memory stays approved for the next run;
  * from the service's export job it runs in a thread of its own with a lower priority (Linux nice is per
    thread, and the encoder's threads inherit it), so indexing and the household's edits keep the CPU
    first, and the service's own threads keep their priority afterwards.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from homeroll.daemon.collage import caption as captions
from homeroll.daemon.collage.album import in_time_order
from homeroll.daemon.collage.sources import Source
from homeroll.daemon.config import Config
from homeroll.daemon.errors import UserError
from homeroll.daemon.store import fsutil

log = logging.getLogger(__name__)

__all__ = ["JOB_NICE", "Background", "film_settings", "render_video", "video_sidecar"]

#: Niceness the export job's render runs at (the indexer's workers run at 10 too).
JOB_NICE = 10


class Background(NamedTuple):
    """How a render runs behind other work: ``nice`` added to its thread's niceness, and ``check`` called
    once a second of film (the service's stop check: it raises, and the render is discarded)."""

    nice: int = 0
    check: Callable[[], None] | None = None


_FOREGROUND = Background()

T = TypeVar("T")


def film_settings(cfg: Config) -> Any:
    """video.FilmSettings from ``[export]`` (imported here: PyAV is only loaded by an export with a video)."""
    from homeroll.daemon.collage.video import FilmSettings

    settings = cfg["export"]
    seconds = float(settings["video_seconds"])
    music = str(settings["music_dir"] or "")
    return FilmSettings(
        height=int(settings["video_height"]), seconds=seconds or None, clip_seconds=float(settings["clip_seconds"]),
        music_dir=Path(music).expanduser() if music else None, font=settings["font"] or None,
        encoder=str(settings["video_encoder"] or "auto"),
        # Two encoder threads: x264's own choice on a 4-core Pi (6 frame threads) grows its memory past what
        # the unit's MemoryHigh leaves beside indexing, for little gain at low priority.
        threads=min(2, os.cpu_count() or 1),
    )


def _at_low_priority(fn: Callable[[], T], nice: int) -> T:
    """Run ``fn`` in a thread whose niceness is ``nice`` higher; ``nice`` 0 runs it here."""
    if not nice or sys.platform != "linux":
        return fn()
    outcome: dict[str, Any] = {}

    def run() -> None:
        tid = threading.get_native_id()
        try:  # PRIO_PROCESS with a thread id changes only that thread on Linux
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        except OSError as exc:
            log.debug("could not lower the render's priority: %s", exc)
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="homeroll-film", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def render_video(cfg: Config, memory: dict[str, Any], folder: Path, mode: int, *, unnamed: bool = True,
                 background: Background = _FOREGROUND) -> tuple[fsutil.PreparedFile, Any]:
    """Render ``memory``'s film into a prepared file in ``folder``; returns it (uncommitted: the caller
    commits or discards it) and the video.FilmInfo. UserError when it cannot be rendered; OSError when
    the folder cannot be written."""
    from homeroll.daemon.collage.video import render_film

    # the film tells the memory in the order it happened (video.py keeps the order it is given)
    sources = [Source(p["path"], p["kind"] or "photo", list(p["faces"]), p["item_id"])
               for p in in_time_order(memory["picks"]) if p["path"]]
    if not sources:
        raise UserError(f"memory {memory['id']} has no photos or videos to put in a film")
    subtitle = captions.join_subtitle([memory["place"], captions.date_range_text(memory["start"], memory["end"])])
    settings = dataclasses.replace(film_settings(cfg), on_second=background.check)
    prepared = fsutil.PreparedFile.open_stream(folder, mode, unnamed=unnamed)
    try:
        log.info("rendering the video of memory %d (%d sources, %dp)", memory["id"], len(sources), settings.height)
        info = _at_low_priority(lambda: render_film(sources, memory["title"] or "", subtitle, prepared.stream,
                                                    settings, key=memory.get("stable_key") or f"memory-{memory['id']}"),
                                        background.nice)
    except (ValueError, RuntimeError) as exc:  # the renderer's "cannot make a film of these"
        prepared.discard()
        raise UserError(f"memory {memory['id']}: the video could not be rendered ({exc})") from None
    except BaseException:
        prepared.discard()
        raise
    return prepared, info


def video_sidecar(info: Any, name: str) -> dict[str, Any]:
    """The sidecar's ``video`` object."""
    return {"file": name, "duration": round(float(info.duration), 3), "width": info.width, "height": info.height,
            "fps": info.fps, "encoder": info.encoder, "sources": list(info.sources), "clips": list(info.clips),
            "music": info.music, "audio": bool(info.audio)}
