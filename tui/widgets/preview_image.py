"""A preview slot that shows a decoded thumbnail through textual-image, or a text placeholder.

The renderer is chosen once per app (``app.image_renderer``): "auto" lets textual-image pick Kitty,
Sixel or half-blocks for the terminal; tests and screenshots force "halfcell" so output is stable;
"none" shows text only (NO_COLOR users, very slow links).
"""

from __future__ import annotations

from PIL import Image as PILImage
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
