"""The key line at the bottom of every screen, drawn as one line of text.

It looks like Textual's compact ``Footer`` but is one widget: Textual's Footer rebuilds a widget
per key (a dozen) whenever the bindings change, which happens on every screen switch and focus
change, and each rebuild cost one to three layout passes of 50-100 ms on a small machine right after
a memory opened. This one recomputes its text and repaints only when the keys really changed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

#: One shown key: (key to simulate, key as displayed, description, enabled).
ShownKey = tuple[str, str, str, bool]


class KeyFooter(Widget, can_focus=False):
    """Every shown binding of the screen as 'key description', one cell apart; a click presses the key."""

    ALLOW_SELECT = False

    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        & > .key-footer--item { background: $footer-item-background; }
        & > .key-footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .key-footer--disabled { text-style: dim; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-footer--item", "key-footer--key", "key-footer--description", "key-footer--disabled"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._keys: list[ShownKey] = []
        self._spans: list[tuple[int, int, str]] = []  # (start, end, key) for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        keys: list[ShownKey] = []
        actions: set[str] = set()
        for _node, binding, enabled, _tooltip in screen.active_bindings.values():
            if not binding.show or binding.action in actions:
                continue
            actions.add(binding.action)
            keys.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        if keys != self._keys:
            self._keys = keys
            self.refresh()

    def render(self) -> Text:
        item = self.get_component_rich_style("key-footer--item")
        key_style = self.get_component_rich_style("key-footer--key")
        description_style = self.get_component_rich_style("key-footer--description")
        disabled = self.get_component_rich_style("key-footer--disabled", partial=True)
        text = Text(no_wrap=True, overflow="crop", end="")
        self._spans = []
        for key, display, description, enabled in self._keys:
            start = text.cell_len
            extra = None if enabled else disabled
            text.append(display, item + key_style + extra if extra else item + key_style)
            if description:
                text.append(" " + description, item + description_style + extra if extra else
                            item + description_style)
            self._spans.append((start, start + cell_len(display) + (1 + cell_len(description) if description
                                                                  else 0), key))
            text.append(" ")  # the gap between keys shows the footer's own background
        return text

    def on_mouse_down(self, event: events.MouseDown) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
