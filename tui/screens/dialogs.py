"""Modal dialogs: a yes/no confirmation, a small form, a person chooser, the export's outputs and an image
preview."""

from __future__ import annotations

from typing import Any

from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from homeroll.tui.widgets.preview_image import PreviewImage

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 70; max-width: 100%; height: auto; max-height: 100%;
    border: thick $primary; background: $surface; padding: 0 1; }}
{name} .buttons {{ height: 3; align-horizontal: right; }}
{name} Button {{ margin-left: 1; min-width: 10; }}
{name} Label {{ width: 1fr; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    """Says exactly what will happen; `y` confirms, `n`/`escape` cancels."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, title: str, body: str, yes: str = "Yes") -> None:
        super().__init__()
        self._title, self._body, self._yes = title, body, yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            yield Static(self._body, markup=False)
            with Horizontal(classes="buttons"):
                yield Button(f"{self._yes} (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class FormScreen(ModalScreen[dict[str, str] | None]):
    """A few labelled text fields; `enter` saves, `escape` cancels. Returns {field: value}."""

    DEFAULT_CSS = DIALOG_CSS.format(name="FormScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, fields: list[tuple[str, str, str]]) -> None:
        """``fields``: (key, label, initial value)."""
        super().__init__()
        self._title, self._fields = title, fields

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            for key, label, value in self._fields:
                yield Label(label)
                yield Input(value=value, id=f"field-{key}")
            with Horizontal(classes="buttons"):
                yield Button("Save (enter)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")

    def _values(self) -> dict[str, str]:
        return {key: self.query_one(f"#field-{key}", Input).value.strip() for key, _, _ in self._fields}

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self._values())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._values() if event.button.id == "save" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


NEW_PERSON = -1


class ChoosePersonScreen(ModalScreen[int | None]):
    """Pick a person from a list (optionally 'a new person'); returns the id, NEW_PERSON, or None."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ChoosePersonScreen") + """
    ChoosePersonScreen OptionList { height: auto; max-height: 14; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, people: list[dict[str, Any]], allow_new: bool = False) -> None:
        super().__init__()
        self._title, self._people, self._allow_new = title, people, allow_new

    def compose(self) -> ComposeResult:
        from homeroll.tui.widgets.people_table import person_label

        options = [Option(f"{person_label(p)}  ({p.get('face_count') or 0} faces)", id=str(p["id"]))
                   for p in self._people]
        if self._allow_new:
            options.append(Option("+ a new person", id=str(NEW_PERSON)))
        with Vertical():
            yield Label(self._title, classes="title")
            yield OptionList(*options)
            yield Label("enter chooses, escape cancels")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))

    def action_cancel(self) -> None:
        self.dismiss(None)


#: The export's outputs, each with the key that toggles it in ExportOutputsScreen and what it makes.
OUTPUT_CHOICES = (("collage", "c", "Collage (one picture)"), ("video", "v", "Video (a short film)"),
                  ("album", "a", "Album folder (copies of the photos)"))


class ExportOutputsScreen(ModalScreen[list[str] | None]):
    """What this export makes: `c`/`v`/`a` (or space on a box) toggle, `enter` or `e` exports, `escape` cancels.

    Starts from ``[export] outputs``; the choice is for this export only (the config is not changed).
    Returns the chosen outputs, or None.
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="ExportOutputsScreen")
    BINDINGS = [*(Binding(key, f"toggle('{name}')", label.split(" (")[0]) for name, key, label in OUTPUT_CHOICES),
                Binding("enter,e", "export", "Export", priority=True), Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, chosen: list[str] | tuple[str, ...]) -> None:
        super().__init__()
        self._title, self._chosen = title, set(chosen)  # a list of names (config.load checks it is one)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title")
            for name, key, label in OUTPUT_CHOICES:
                yield Checkbox(f"{label}  ({key})", name in self._chosen, id=f"output-{name}")
            yield Label("", id="outputs-note")
            with Horizontal(classes="buttons"):
                yield Button("Export (enter)", variant="primary", id="export")
                yield Button("Cancel (esc)", id="cancel")

    def _values(self) -> list[str]:
        return [name for name, _, _ in OUTPUT_CHOICES if self.query_one(f"#output-{name}", Checkbox).value]

    def action_toggle(self, name: str) -> None:
        self.query_one(f"#output-{name}", Checkbox).toggle()

    def action_export(self) -> None:
        focused = self.focused
        if focused is not None and focused.id == "cancel":  # enter on the Cancel button cancels
            self.dismiss(None)
            return
        chosen = self._values()
        if not chosen:
            self.query_one("#outputs-note", Label).update("Choose at least one.")
            return
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export":
            self.action_export()
        else:
            self.dismiss(None)


class ImagePreviewScreen(ModalScreen[None]):
    """A rendered collage preview (decoded in a worker before this screen opens)."""

    DEFAULT_CSS = """
    ImagePreviewScreen { align: center middle; }
    ImagePreviewScreen > Vertical { width: 90%; height: 90%; border: thick $primary; background: $surface; }
    ImagePreviewScreen Label { width: 1fr; }
    """
    BINDINGS = [Binding("escape,q,v", "close", "Close")]

    def __init__(self, title: str, image: PILImage.Image | None) -> None:
        super().__init__()
        self._title, self._image = title, image

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title)
            yield PreviewImage()

    def on_mount(self) -> None:
        self.query_one(PreviewImage).show(self._image, missing="the preview could not be rendered")

    def action_close(self) -> None:
        self.dismiss(None)
