"""What every data screen shares: the backend, reloads in a worker, and writes with a notification."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import work
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import get_current_worker

from homeroll.daemon.errors import UserError
from homeroll.tui.backend import Backend
from homeroll.tui.messages import ActionDone, ActionFailed, DataChanged


def decision_bindings(yes: str, yes_label: str, no: str, no_label: str) -> list[Binding]:
    """a and r: the household's yes and no, the same keys on every screen that asks for one."""
    return [Binding("a", yes, yes_label), Binding("r", no, no_label)]


class DataScreen(Screen):
    """Subclasses implement ``reload()`` (start their load workers) and handle the loaded messages."""

    @property
    def backend(self) -> Backend:
        return self.app.backend  # type: ignore[attr-defined]

    def reload(self) -> None:  # pragma: no cover - every screen overrides it
        raise NotImplementedError

    def on_screen_resume(self) -> None:
        self.reload()

    def on_data_changed(self, _: DataChanged) -> None:
        self.reload()

    @work(thread=True, exit_on_error=False, group="write")
    def act(self, fn: Callable[..., Any], *args: Any, done: str | Callable[[Any], str] = "Done",
            reload: bool = True) -> None:
        """Run one store write in a worker; report it in a notification, then reload."""
        try:
            result = fn(*args)
        except UserError as exc:
            self.post_message(ActionFailed(str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - the TUI reports, it never crashes on a failed write
            self.post_message(ActionFailed(f"{type(exc).__name__}: {exc}"))
            return
        text = done(result) if callable(done) else done
        self.post_message(ActionDone(text, reload=reload, extra={"result": result}))

    def on_action_done(self, message: ActionDone) -> None:
        self.notify(message.text, timeout=3)
        if message.reload:
            self.reload()

    def on_action_failed(self, message: ActionFailed) -> None:
        self.notify(message.text, severity="error", timeout=6)

    @staticmethod
    def cancelled() -> bool:
        return get_current_worker().is_cancelled
