"""The status screen's Checks section is `homeroll doctor`: the same checks, each fault with its fix, re-run on d.

The checks are the real service.doctor ones on real folders and a real DB; the faults are made on purpose
in a way root cannot write through (a missing export folder). Only the test of a doctor that raises, and of
"checking..." before the first answer, stands a gated runner in for it: no real setup makes doctor raise.
"""

from __future__ import annotations

import io
import json
import os
import pwd
import re
import threading
from datetime import UTC, datetime

from rich.console import Console

from homeroll.tui.app import HomerollApp
from tests.conftest import run_cli
from tests.tui.conftest import screen_text, settle

SUMMARY = re.compile(r"Checks: (\d+) ok, (\d+) warnings?, (\d+) failures? \(`homeroll doctor` for the same list\)")
LABEL = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def app_for(cfg) -> HomerollApp:
    # The wall clock, as the CLI's doctor uses: on a fresh DB no check depends on it, so both see the same.
    return HomerollApp(cfg, clock=lambda: datetime.now(UTC), image_renderer="halfcell", refresh_interval=None)


async def open_status(pilot) -> str:
    await settle(pilot)
    await pilot.press("3")
    await settle(pilot)
    return screen_text(pilot.app)


def flat(text: str) -> str:
    """The screen with its wrapping undone: a check's detail and fix may run over several rows."""
    return " ".join(text.split())


def line_of(check: dict) -> str:
    fix = f"; fix: {check['fix']}" if check["fix"] and check["status"] != "ok" else ""
    return flat(f"{LABEL[check['status']]} {check['name']} {check['detail']}{fix}")


def styles_of(app, word: str) -> list:
    """The rich styles the screen draws ``word`` in (colour is the point of a FAIL)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return [seg.style for seg in console._record_buffer if word in seg.text and seg.style]


def is_red(style) -> bool:
    """Textual draws rich's "red" in its theme's red (#f4005f here), not ANSI red: judge the colour itself."""
    if style.color is None:
        return False
    red, green, blue = style.color.get_truecolor()
    return red > 180 and green < 90 and blue < 130


async def test_the_screen_lists_the_checks_homeroll_doctor_prints(make_config):
    cfg = make_config()
    cfg.export_dir.mkdir()
    app = app_for(cfg)
    async with app.run_test(size=(200, 80)) as pilot:
        text = await open_status(pilot)
    cli = json.loads(run_cli(cfg.path, "doctor", "--json", check=False).stdout)["checks"]
    summary = SUMMARY.search(text)
    assert summary, text
    counts = [sum(c["status"] == s for c in cli) for s in ("ok", "warn", "fail")]
    assert [int(n) for n in summary.groups()] == counts, (summary.group(0), cli)
    assert "FAIL  export" not in text and "ok    export" in text, text
    for check in cli:
        if check["name"].endswith("-space"):  # free bytes move between the two runs; the rest must not
            assert f"{LABEL[check['status']]:6}{check['name']}" in text, (check, text)
        else:
            assert line_of(check) in flat(text), (check, text)


async def test_a_missing_export_folder_is_a_red_fail_with_its_fix(make_config):
    cfg = make_config()  # make_config leaves the export folder to be made: missing, even for root
    user = pwd.getpwuid(os.getuid()).pw_name
    app = app_for(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        text = await open_status(pilot)
        fail = flat(f"FAIL export {cfg.export_dir} does not exist; fix: mount it, or: install -d -o {user} "
                    f"{cfg.export_dir}")
        assert fail in flat(text), text
        assert int(SUMMARY.search(text).group(3)) >= 1, text
        assert any(style.bold and is_red(style) for style in styles_of(app, "FAIL")), styles_of(app, "FAIL")


async def test_d_reruns_the_checks_and_a_fixed_fault_goes(make_config):
    cfg = make_config()
    app = app_for(cfg)
    real = app.backend.run_doctor
    runs = []

    def counted(config_path, now=None):
        runs.append(now)
        return real(config_path, now=now)

    app.backend.run_doctor = counted
    async with app.run_test(size=(200, 80)) as pilot:  # tall enough for every check, the ok ones last
        text = await open_status(pilot)
        assert "FAIL  export" in text and "d Re-run checks" in text, text
        failures = int(SUMMARY.search(text).group(3))
        cfg.export_dir.mkdir()
        await pilot.press("ctrl+r")  # a reload of the status (what each poll does) leaves the checks alone
        await settle(pilot)
        assert len(runs) == 1 and "FAIL  export" in screen_text(app)
        await pilot.press("d")
        await settle(pilot)
        text = screen_text(app)
        assert len(runs) == 2
        assert "FAIL  export" not in text and "ok    export" in text, text
        assert int(SUMMARY.search(text).group(3)) == failures - 1, text


async def test_a_doctor_that_raises_is_one_red_line_and_the_screen_lives_on(make_config):
    cfg = make_config()
    app = app_for(cfg)
    release = threading.Event()

    def broken(config_path, now=None):
        release.wait(30)
        raise OSError(5, "Input/output error", str(config_path))

    app.backend.run_doctor = broken
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        for _ in range(5):
            await pilot.pause()
        text = screen_text(app)
        assert "Checks: checking..." in text and "Library roots" in text, text
        release.set()
        await settle(pilot)
        text = screen_text(app)
        line = f"Checks: could not run them: OSError: [Errno 5] Input/output error: '{cfg.path}'"
        assert flat(line) in flat(text), text
        assert any(is_red(style) for style in styles_of(app, "could not run")), styles_of(app, "could not run")
        assert "Service: no report yet" in text and "Skipped files (0)" in text, text
