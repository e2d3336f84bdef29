"""The homeroll terminal UI: review suggested memories, name people, check the service, over SSH.

Start it with ``homeroll tui``. It reads and writes only through ``homeroll.daemon.store`` (via
``Backend``), from worker threads, so the UI stays responsive on a Raspberry Pi while the service
writes to the same DB; changes the service makes appear within ``refresh_interval`` seconds.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from textual import work
from textual.app import App
from textual.binding import Binding

from homeroll.daemon.config import Config
from homeroll.tui.backend import Backend
from homeroll.tui.messages import DataChanged
from homeroll.tui.screens.base import DataScreen
from homeroll.tui.screens.exclusions import ExclusionsScreen
from homeroll.tui.screens.memories import MemoriesScreen
from homeroll.tui.screens.occasions import OccasionsScreen
from homeroll.tui.screens.people import PeopleScreen
from homeroll.tui.screens.status import StatusScreen

__all__ = ["HomerollApp", "run_tui"]


class HomerollApp(App):
    TITLE = "homeroll"
    CSS_PATH = "homeroll.tcss"
    MODES = {"memories": MemoriesScreen, "people": PeopleScreen, "status": StatusScreen,
             "occasions": OccasionsScreen, "left_out": ExclusionsScreen}
    DEFAULT_MODE = "memories"
    BINDINGS = [
        Binding("1", "switch_mode('memories')", "Memories"),
        Binding("2", "switch_mode('people')", "People"),
        Binding("3", "switch_mode('status')", "Status"),
        Binding("4", "switch_mode('occasions')", "Occasions"),
        Binding("5", "switch_mode('left_out')", "Left out"),
        Binding("ctrl+r", "refresh_data", "Refresh", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        cfg: Config,
        *,
        db_path: Path | str | None = None,
        clock: Callable[[], datetime] | None = None,
        image_renderer: str = "auto",
        refresh_interval: float | None = 5.0,
    ) -> None:
        """``clock`` and ``image_renderer="halfcell"`` let tests pin what the screens show;
        ``refresh_interval=None`` turns off the periodic check for changes made by the service."""
        super().__init__()
        self.cfg = cfg
        self.backend = Backend(cfg, db_path)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.image_renderer = image_renderer
        self.refresh_interval = refresh_interval

    def on_mount(self) -> None:
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.check_for_changes)
        # Everything loaded so far (Textual, the styles, the first screen) lives as long as the app:
        # keep it out of Python's full garbage collections, which otherwise walk ~100k objects and
        # pause the UI for 80-200 ms every so often (the worst keys in bench/tui.py).
        self.call_after_refresh(gc.freeze)


    def on_unmount(self) -> None:
        self.backend.close()
        gc.unfreeze()  # collectable again once the app is gone (tests run many apps in one process)

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll")
    def check_for_changes(self) -> None:
        """A cheap probe (PRAGMA data_version where the store offers it) in a worker, never on the UI thread."""
        if self.backend.changed():
            self.post_message(DataChanged())

    def _data_screen(self) -> DataScreen | None:
        """The visible screen if it shows data (not a dialog; nothing while shutting down)."""
        stack = self.screen_stack
        return stack[-1] if stack and isinstance(stack[-1], DataScreen) else None

    def on_data_changed(self, message: DataChanged) -> None:
        screen = self._data_screen()
        if screen is not None:
            screen.post_message(DataChanged())

    def action_refresh_data(self) -> None:
        screen = self._data_screen()
        if screen is not None:
            screen.reload()


def run_tui(cfg: Config) -> None:
    """Open the TUI in this terminal (blocks until the user quits)."""
    # textual-image asks the terminal about graphics support and cell size at import time, which
    # only works before Textual takes over stdin: import it first.
    import textual_image.widget  # noqa: F401

    HomerollApp(cfg).run()
