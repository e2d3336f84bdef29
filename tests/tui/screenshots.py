"""Regenerate docs/screenshots/*.svg from the fixed test library (the snapshot tests' data).

Run from the repository root: PYTHONPATH=. .venv/bin/python -P -m tests.tui.screenshots
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from homeroll.daemon import config as config_mod
from homeroll.tui.app import HomerollApp
from tests.tui.conftest import settle  # importing it also pins the image cell size
from tests.tui.library import NOW, build, pinned_doctor

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

#: (file name, keys pressed before the shot)
SHOTS = [("memories.svg", []), ("memory-detail.svg", ["down", "enter", "right"]),
         ("people.svg", ["escape", "2"]), ("people-forget.svg", ["f"]), ("status.svg", ["n", "3"])]


async def take(cfg) -> None:
    app = HomerollApp(cfg, clock=lambda: NOW, image_renderer="halfcell", refresh_interval=None)
    app.backend.run_doctor = pinned_doctor
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for name, keys in SHOTS:
            for key in keys:
                await pilot.press(key)
                await settle(pilot)
            app.save_screenshot(name, str(OUT))


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="homeroll-shots-"))
    (tmp / "library").mkdir()
    cfg = config_mod.build(tmp / "c.toml", [tmp / "library"], tmp / "data", tmp / "export", "Europe/Berlin")
    build(cfg)
    asyncio.run(take(cfg))


if __name__ == "__main__":
    main()
