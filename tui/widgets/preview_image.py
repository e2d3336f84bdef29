"""A preview slot that shows a decoded thumbnail through textual-image, or a text placeholder.

The renderer is chosen once per app (``app.image_renderer``): "auto" lets textual-image pick Kitty,
Sixel or half-blocks for the terminal; tests and screenshots force "halfcell" so output is stable;
"none" shows text only (NO_COLOR users, very slow links).
"""

from __future__ import annotations

import io

from PIL import Image as PILImage
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from textual.app import ComposeResult
from textual.containers import Center
from textual.widget import Widget
from textual.widgets import Static


def image_widget_class(renderer: str) -> type[Widget] | None:
    """The textual-image widget class for a renderer name, or None for text-only previews."""
    if renderer == "none":
        return None
    from textual_image import widget as image_widgets

    return {
        "halfcell": image_widgets.HalfcellImage,
        "unicode": image_widgets.UnicodeImage,
        "tgp": image_widgets.TGPImage,
        "sixel": image_widgets.SixelImage,
    }.get(renderer, image_widgets.Image)


#: Renderers whose output is plain coloured characters, so a worker can draw them ahead of time.
CELL_RENDERERS = ("halfcell", "unicode")


def cell_renderable_class(renderer: str) -> type | None:
    """The textual-image Rich renderable for a character-cell renderer, None for graphics or text only.

    "auto" resolves to what textual-image chose for this terminal when it was imported (half-blocks
    over most SSH sessions and in tmux; Kitty or Sixel graphics where the terminal answers for them).
    """
    if renderer == "none":
        return None
    from textual_image import renderable

    if renderer == "auto":
        chosen = renderable.Image
        return chosen if chosen in (renderable.HalfcellImage, renderable.UnicodeImage) else None
    return {"halfcell": renderable.HalfcellImage, "unicode": renderable.UnicodeImage}.get(renderer)


class CellImage:
    """A picture already drawn as ``width`` x ``height`` character cells (a Rich renderable).

    Built in a worker, so the UI thread only copies segments: no resampling when it repaints.
    """

    def __init__(self, lines: list[list[Segment]], width: int) -> None:
        self.lines = lines
        self.width = width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        newline = Segment.line()
        for line in self.lines:
            yield from line
            yield newline

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)


def render_cells(image: PILImage.Image, renderer: str, width: int, height: int) -> CellImage | None:
    """Draw ``image`` as textual-image would in a ``width`` x ``height`` cell box (aspect kept, centred
    as ``align: center middle`` centres it). None when the renderer is not character based.

    Runs in worker threads: a private Console, no widget state.
    """
    cls = cell_renderable_class(renderer)
    if cls is None:
        return None
    from textual_image._geometry import ImageSize
    from textual_image._terminal import get_cell_size

    cells_w, cells_h = ImageSize(image.width, image.height, "auto", "auto").get_cell_size(
        width, height, get_cell_size())
    cells_w, cells_h = max(1, min(width, cells_w)), max(1, min(height, cells_h))
    console = Console(width=cells_w, height=cells_h, color_system="truecolor", force_terminal=True,
                      legacy_windows=False, file=io.StringIO())
    drawn = console.render_lines(cls(image, "auto", "auto"), console.options.update(
        width=cells_w, height=cells_h), pad=False)
    left, top = (width - cells_w) // 2, (height - cells_h) // 2
    blank = [Segment(" " * width)]
    lines = [blank] * top
    for line in drawn[:cells_h]:
        right = width - left - Segment.get_line_length(line)
        lines.append([Segment(" " * left), *line, Segment(" " * right)] if left or right > 0 else line)
    lines.extend([blank] * (height - len(lines)))
    return CellImage(lines, width)


class PreviewImage(Center):
    """Placeholder text until ``show()`` receives a decoded image (from a worker)."""

    DEFAULT_CSS = """
    PreviewImage { height: 1fr; width: 1fr; align: center middle; }
    PreviewImage > .placeholder { color: $text-muted; width: auto; height: 1; }
    PreviewImage > .image { width: auto; height: auto; }
    """

    def __init__(self, placeholder: str = "...", **kwargs) -> None:
        super().__init__(**kwargs)
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        yield Static(self._placeholder, classes="placeholder")

    def show(self, image: PILImage.Image | None, missing: str = "no preview") -> None:
        renderer = getattr(self.app, "image_renderer", "auto")
        cls = image_widget_class(renderer)
        self.remove_children()
        if image is None or cls is None:
            self.mount(Static(missing if image is None else "[photo]", classes="placeholder"))
        else:
            self.mount(cls(image, classes="image"))
