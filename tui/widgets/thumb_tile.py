"""What a tile shows, prepared in a worker; and the tile widget for Kitty / Sixel terminals.

With character renderers (half-blocks, the usual case over SSH) the worker draws the picture at the
tile's exact cell size, so the UI thread only copies characters (see ``TileGrid``). Kitty / Sixel
graphics need textual-image's own widget: ``ThumbTile`` holds one (see ``GraphicTileGrid``).
"""

from __future__ import annotations

from typing import Any

from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from homeroll.tui.widgets.preview_image import CellImage, PreviewImage, render_cells

#: The picture area inside a tile, in cells: 18 x 9 minus the border and the caption line.
IMAGE_CELLS = (16, 6)

#: What a worker hands a tile: a pre-drawn picture, a decoded image (graphics renderers), or None.
Preview = CellImage | PILImage.Image | None


def prepare_preview(image: PILImage.Image | None, renderer: str) -> Preview:
    """Worker-side: turn a decoded thumbnail into what the tile shows, as far as possible off the UI thread."""
    if image is None or renderer == "none":
        return image
    return render_cells(image, renderer, *IMAGE_CELLS) or image


class ThumbTile(Vertical, can_focus=True):
    """A focusable tile widget (graphics terminals): ``key`` is the item id or the face id (None while
    a placeholder); ``data`` is the store row."""

    DEFAULT_CSS = """
    ThumbTile { width: 18; height: 9; border: round $panel-lighten-2; padding: 0; }
    ThumbTile:focus { border: heavy $accent; }
    ThumbTile.-cover { border: double $success; }
    ThumbTile:focus.-cover { border: heavy $success; }
    ThumbTile > .caption { height: 1; width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, key: int | None, caption: str, data: dict | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key
        self.caption = caption
        self.data = data or {}
        self._pending: tuple[PILImage.Image | None] | None = None

    def compose(self) -> ComposeResult:
        yield PreviewImage()
        yield Static(self.caption, classes="caption", markup=False)

    def on_mount(self) -> None:
        if self._pending is not None:
            self.query_one(PreviewImage).show(self._pending[0])

    @property
    def has_image(self) -> bool:
        """True once the preview (or its 'no preview' text) has replaced the placeholder."""
        return self._pending is not None

    def set_image(self, image: PILImage.Image | None) -> None:
        """Show the decoded image (kept until mounted if the tile is still being composed)."""
        self._pending = (image,)
        if self.is_mounted:
            self.query_one(PreviewImage).show(image)

    def set_caption(self, caption: str) -> None:
        if caption == self.caption:
            return
        self.caption = caption
        if self.is_mounted:
            self.query_one(".caption", Static).update(caption)
