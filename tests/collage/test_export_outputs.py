"""The export's outputs for real: the choice from the config and from --outputs, the video written atomically
beside the collage (decoded with PyAV), its sidecar fields, a SIGKILL mid-render, and the TUI's choice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import av
import pytest
import tomli_w

from homeroll.daemon import config as config_mod
from homeroll.daemon.collage import film_export
from homeroll.daemon.collage.export import NO_TMPFILE_ENV, export_outputs_of, run_export_job
from homeroll.daemon.errors import UserError
from homeroll.daemon.store import exports as store_exports
from tests.conftest import HOMEROLL, run_cli

if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("homeroll runs on Linux (Debian, Raspberry Pi OS): these tests check its O_TMPFILE "
                                  "film file and the per-thread nice of the render")

FACES = "face_recognition/examples"
NAME = "2024-06-01 Summer in Arezzo"
#: Tiny films: 256x144, a few seconds.
TINY = {"video_height": 144, "video_seconds": 10}


@pytest.fixture
def library(library, make_config):
    library.cfg = make_config(export={"outputs": ["collage", "video"], **TINY})
    return library


@pytest.fixture
def memory(library, corpus):
    ids = [
        library.add_file(corpus / f"{FACES}/obama.jpg", faces=[(0.29, 0.18, 0.51, 0.52)], taken="2024-06-01T10:00:00"),
        library.add_file(corpus / "exif-samples/jpg/gps/DSCN0010.jpg", taken="2024-06-01T11:00:00"),
        library.add_file(corpus / f"{FACES}/short_hamilton_clip.mp4", taken="2024-06-01T12:00:00"),
    ]
    return library.add_memory(ids)


def _visible(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


def _decode(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        return {"width": video.codec_context.width, "height": video.codec_context.height,
                "fps": float(video.average_rate), "frames": frames, "codec": video.codec_context.name,
                "audio": len(container.streams.audio), "duration": float(container.duration or 0) / av.time_base}


# ------------------------------------------------------------------------------------------ config

def test_outputs_default_and_a_bad_config_is_one_line(make_config, tmp_path):
    assert config_mod.DEFAULTS["export"]["outputs"] == ["collage", "video"]
    cfg = make_config()
    plain = tomllib.loads(cfg.path.read_text())
    plain.pop("export", None)  # make_config pins outputs for other tests; this one writes its own [export]
    text = tomli_w.dumps(plain)
    for bad, says in ((['outputs = ["collage", "gif"]'], "'gif'"), (["outputs = []"], "no output"),
                      (["video_height = 721"], "even"), (["video_encoder = \"nvenc\""], "nvenc"),
                      (["clip_seconds = 0"], "clip_seconds"), (["video_seconds = 3"], "at least 10"),
                      (['outputs = "collage,video"'], "must be a list")):
        cfg.path.write_text(text + "\n[export]\n" + "\n".join(bad) + "\n")
        with pytest.raises(UserError, match=says) as exc:
            config_mod.load(cfg.path)
        assert "\n" not in str(exc.value)
        proc = run_cli(cfg.path, "export", "1", check=False)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert config_mod.export_outputs("album, collage", "--outputs") == ("collage", "album")


# ------------------------------------------------------------------------------------------- video

def test_cli_writes_collage_and_video_from_the_config(library, memory):
    proc = run_cli(library.cfg.path, "export", str(memory), "--size", "square")
    lines = proc.stdout.strip().splitlines()
    folder = library.cfg.export_dir
    assert lines[-1] == str(folder / f"{NAME}.jpg") and str(folder / f"{NAME}.mp4") in lines
    assert _visible(folder) == [f"{NAME}.jpg", f"{NAME}.json", f"{NAME}.mp4"]
    assert sorted(os.listdir(folder)) == _visible(folder)  # no temp file left beside them
    decoded = _decode(folder / f"{NAME}.mp4")
    sidecar = json.loads((folder / f"{NAME}.json").read_text())
    video = sidecar["video"]
    assert set(video) == {"file", "duration", "width", "height", "fps", "encoder", "sources", "clips", "music", "audio"}
    assert video["file"] == f"{NAME}.mp4" and (video["width"], video["height"], video["fps"]) == (256, 144, 30)
    assert (decoded["width"], decoded["height"], round(decoded["fps"])) == (256, 144, 30)
    assert decoded["codec"] == "h264" and abs(decoded["frames"] / 30 - video["duration"]) < 0.05
    assert abs(video["duration"] - 10) < 0.1 and abs(decoded["duration"] - video["duration"]) < 0.2
    # in time order, the clip with its sound
    assert [Path(s).name for s in video["sources"]] == ["obama.jpg", "DSCN0010.jpg", "short_hamilton_clip.mp4"]
    assert [Path(c["path"]).name for c in video["clips"]] == ["short_hamilton_clip.mp4"]
    assert video["audio"] is True and decoded["audio"] == 1 and video["music"] is None
    assert video["encoder"] in ("libx264", "h264_v4l2m2m") and sidecar["outputs"] == ["collage", "video"]
    assert {r["output"] for r in store_exports.exports_for(library.db, memory)} == {"collage", "video"}
    assert library.status(memory) == "exported"


def test_outputs_flag_and_all_three(library, memory):
    proc = run_cli(library.cfg.path, "export", str(memory), "--outputs", "video")
    assert proc.stdout.strip().splitlines()[-1] == str(library.cfg.export_dir / f"{NAME}.mp4")
    assert _visible(library.cfg.export_dir) == [f"{NAME}.json", f"{NAME}.mp4"]
    assert "image" not in json.loads((library.cfg.export_dir / f"{NAME}.json").read_text())
    written = export_outputs_of(library.cfg, library.db, memory, size="square", outputs="collage,video,album")
    assert _visible(library.cfg.export_dir) == [NAME, f"{NAME}.jpg", f"{NAME}.json", f"{NAME}.mp4"]
    album = written["album"]
    assert sorted(os.listdir(album)) == ["01 2024-06-01 10.00.jpg", "02 2024-06-01 11.00.jpg",
                                         "03 2024-06-01 12.00.mp4", f"{NAME}.jpg", f"{NAME}.mp4"]
    for name in (f"{NAME}.jpg", f"{NAME}.mp4"):
        copy, original = album / name, library.cfg.export_dir / name
        assert copy.read_bytes() == original.read_bytes() and os.lstat(copy).st_nlink == 1 and not copy.is_symlink()
        assert os.stat(copy).st_ino != os.stat(original).st_ino
    # a re-export with fewer outputs removes the memory's video and album, and only those
    person = library.cfg.export_dir / "notes.txt"
    person.write_text("mine")
    export_outputs_of(library.cfg, library.db, memory, size="square", outputs=["collage"])
    assert _visible(library.cfg.export_dir) == [f"{NAME}.jpg", f"{NAME}.json", "notes.txt"]


def test_a_failed_render_leaves_nothing_and_the_memory_approved(library, corpus, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    memory_id = library.add_memory([library.add_file(broken)], title="Broken")
    for env in ({}, {NO_TMPFILE_ENV: "1"}):
        proc = run_cli(library.cfg.path, "export", str(memory_id), "--outputs", "video", check=False, env=env)
        assert proc.returncode == 2 and "video could not be rendered" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert os.listdir(library.cfg.export_dir) == []  # not even a dot temp file: it was discarded
        assert library.status(memory_id) == "approved"


def test_a_full_export_folder_during_the_film_is_one_line_and_leaves_nothing(library, memory):
    """A share that fills up while the film is encoded: the one line names the full disk, the stream's
    later failing writes stay quiet (PyAV would print a traceback for each), nothing is left, and the
    memory stays approved."""
    from tests.service.helpers import mounted_tmpfs

    with mounted_tmpfs(library.cfg.export_dir, "40k"):  # a 144p 10 s film is about 100 kB
        proc = run_cli(library.cfg.path, "export", str(memory), "--outputs", "video", check=False)
        left = os.listdir(library.cfg.export_dir)
    assert proc.returncode == 2, proc.stderr
    assert "No space left on device" in proc.stderr.strip().splitlines()[-1]
    assert proc.stderr.count("Traceback") <= 1, proc.stderr[-3000:]
    assert left == [] and library.status(memory) == "approved"


def test_picks_that_open_but_cannot_be_decoded_make_no_film(library, tmp_path):
    """Every pick fails at decode time: a film of two title cards is not a film."""
    from homeroll.demo.media import scene, write_jpeg

    ids = []
    for i in range(2):
        good = write_jpeg(tmp_path / f"p{i}.jpg", scene(i, (800, 600), "home"), taken=None)
        cut = tmp_path / f"cut{i}.jpg"
        cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # the header opens; half the pixels are gone
        ids.append(library.add_file(cut, taken=f"2024-06-01T1{i}:00:00"))
    memory_id = library.add_memory(ids, title="Cut short")
    proc = run_cli(library.cfg.path, "export", str(memory_id), "--outputs", "video", check=False)
    assert proc.returncode == 2 and "video could not be rendered" in proc.stderr, proc.stderr
    assert os.listdir(library.cfg.export_dir) == [] and library.status(memory_id) == "approved"


def _render_running(pid: int, folder: Path) -> bool:
    """The export process has a non-empty file open in ``folder`` (an O_TMPFILE or a dot temp): mid-render."""
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(fd_dir / fd)
                if target.startswith(str(folder)) and os.stat(fd_dir / fd).st_size > 0:
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False


@pytest.mark.parametrize("fallback", [False, True], ids=["o_tmpfile", "named_temp"])
def test_sigkill_mid_video_render_leaves_no_partial_file(library, memory, make_config, fallback):
    library.cfg = make_config(export={"outputs": ["collage", "video", "album"], "video_height": 144,
                                      "video_seconds": 60})
    env = {**os.environ, **({NO_TMPFILE_ENV: "1"} if fallback else {})}
    proc = subprocess.Popen([*HOMEROLL, "--config", str(library.cfg.path), "export", str(memory), "--size", "square"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        while not _render_running(proc.pid, library.cfg.export_dir):
            assert proc.poll() is None, "the export ended before it was caught mid-render"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = os.listdir(library.cfg.export_dir)
    assert _visible(library.cfg.export_dir) == [], left  # no .mp4, no collage, no album under a real name
    if fallback:
        assert left and all(n.startswith(".homeroll-") and n.endswith(".tmp") for n in left), left
    else:
        assert left == []
    assert library.status(memory) == "approved"
    library.cfg = make_config(export={"outputs": ["collage", "video", "album"], **TINY})
    run_cli(library.cfg.path, "export", str(memory), "--size", "square")  # the retry sweeps what was left
    assert sorted(os.listdir(library.cfg.export_dir)) == [NAME, f"{NAME}.jpg", f"{NAME}.json", f"{NAME}.mp4"]


def test_the_job_renders_at_low_priority_in_its_own_thread(library, memory):
    tid = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, tid)
    seen = film_export._at_low_priority(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), 10)
    assert seen == min(19, before + 10) and os.getpriority(os.PRIO_PROCESS, tid) == before
    summary = run_export_job(library.cfg, library.db)
    files = summary["exported"][0]["files"]
    assert set(files) == {"collage", "video", "sidecar"} and Path(files["video"]).is_file()
    assert os.getpriority(os.PRIO_PROCESS, tid) == before  # the caller (the service's worker) keeps its priority


def test_a_stop_during_the_job_s_film_leaves_the_render_within_a_second_of_film(library, memory):
    """The service's stop check is asked once a second of film: a stop does not wait for a long render."""
    from homeroll.daemon.collage.export import run_export_job
    from homeroll.daemon.service.progress import Stopped

    library.cfg = config_mod.build(library.cfg.path, library.cfg.libraries, library.cfg.data_dir,
                                   library.cfg.export_dir, "UTC",
                                   {"export": {"outputs": ["video"], "video_height": 144, "video_seconds": 60}})
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if len(calls) > 3:  # the job's own call before the memory, then two seconds of film
            raise Stopped()

    started = time.monotonic()
    with pytest.raises(Stopped):
        run_export_job(library.cfg, library.db, progress=progress)
    assert time.monotonic() - started < 20  # a 60 s film at 144p takes longer than this to the end
    assert calls[0] == (0, 1) and set(calls) == {(0, 1)}
    assert os.listdir(library.cfg.export_dir) == [] and library.status(memory) == "approved"


# --------------------------------------------------------------------------------------------- TUI

@contextlib.asynccontextmanager
async def _export_dialog(library, memory):
    """The TUI on the memory's detail screen with `e` pressed: the outputs dialog is open."""
    from homeroll.tui.app import HomerollApp
    from homeroll.tui.screens.memory_detail import MemoryDetailScreen
    from tests.tui.library import pinned_doctor

    app = HomerollApp(library.cfg, image_renderer="halfcell", refresh_interval=None)
    app.backend.run_doctor = pinned_doctor
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.push_screen(MemoryDetailScreen(memory))
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert type(app.screen).__name__ == "ExportOutputsScreen"
        yield app, pilot


def test_tui_export_key_chooses_the_outputs(library, memory):
    """`e` opens the choice (from the config: collage and video); `c` drops the collage, `a` adds the album,
    `enter` exports exactly those."""

    async def run() -> None:
        async with _export_dialog(library, memory) as (app, pilot):
            await pilot.press("c", "a", "enter")
            for _ in range(600):
                await pilot.pause(0.1)
                if library.status(memory) == "exported" and not app.workers:
                    break
            assert library.status(memory) == "exported", [n.message for n in app._notifications]

    asyncio.run(run())
    assert _visible(library.cfg.export_dir) == [NAME, f"{NAME}.json", f"{NAME}.mp4"]
    assert f"{NAME}.mp4" in os.listdir(library.cfg.export_dir / NAME)


def test_tui_enter_on_the_cancel_button_cancels(library, memory):
    """The dialog's enter binding must not override the focused Cancel button: nothing is approved or made."""
    library.db.execute("UPDATE memories SET status = 'suggested' WHERE id = ?", [memory])

    async def run() -> None:
        async with _export_dialog(library, memory) as (app, pilot):
            app.screen.query_one("#cancel").focus()
            await pilot.press("enter")
            await pilot.pause(0.5)
            assert type(app.screen).__name__ == "MemoryDetailScreen"

    asyncio.run(run())
    assert library.status(memory) == "suggested" and _visible(library.cfg.export_dir) == []
