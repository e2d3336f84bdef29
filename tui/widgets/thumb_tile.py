"""A focusable tile: an image preview with a one-line caption (a curated pick or a face crop).

Tiles are drawn once as placeholders and keep their size; an image arriving later only repaints its
tile (no new widgets, no layout pass), which is what keeps opening a memory fast. With character
renderers (half-blocks, the usual case over SSH) the worker draws the picture at the tile's exact
cell size beforehand; Kitty / Sixel graphics go through textual-image's own widget.
"""

from __future__ import annotations

from typing import Any

from PIL import Image as PILImage
from rich.console import RenderableType
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from homeroll.tui.widgets.preview_image import CellImage, PreviewImage, cell_renderable_class, render_cells

#: The picture area inside a tile, in cells: 18 x 9 minus the border and the caption line.
IMAGE_CELLS = (16, 6)

#: What a worker hands a tile: a pre-drawn picture, a decoded image (graphics renderers), or None.
Preview = CellImage | PILImage.Image | None


def prepare_preview(image: PILImage.Image | None, renderer: str) -> Preview:
    """Worker-side: turn a decoded thumbnail into what the tile shows, as far as possible off the UI thread."""
    if image is None or renderer == "none":
        return image
    return render_cells(image, renderer, *IMAGE_CELLS) or image


class TileImage(Widget):
    """The picture area: placeholder text, then a pre-drawn picture (a repaint, never a re-layout)."""

    DEFAULT_CSS = "TileImage { width: 1fr; height: 1fr; content-align: center middle; color: $text-muted; }"

    def __init__(self, placeholder: str = "...") -> None:
        super().__init__()
        self._content: RenderableType = placeholder

    def render(self) -> RenderableType:
        return self._content

    def show(self, content: RenderableType) -> None:
        self._content = content
        self.refresh()


class ThumbTile(Vertical, can_focus=True):
    """``key`` is the item id (memory picks) or the face id (people), None while still a placeholder;
    ``data`` is the store row."""

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
        self._pending: tuple[Preview] | None = None

    def _character_cells(self) -> bool:
        renderer = getattr(self.app, "image_renderer", "auto")
        return renderer == "none" or cell_renderable_class(renderer) is not None

    def compose(self) -> ComposeResult:
        yield TileImage() if self._character_cells() else PreviewImage()
        yield Static(self.caption, classes="caption", markup=False)

    def on_mount(self) -> None:
        if self._pending is not None:
            self._show(self._pending[0])

    @property
    def has_image(self) -> bool:
        """True once the preview (or its 'no preview' text) has replaced the placeholder."""
        return self._pending is not None

    def set_image(self, preview: Preview) -> None:
        """Show a preview from ``prepare_preview`` (kept until mounted if the tile is still being composed)."""
        self._pending = (preview,)
        if self.is_mounted:
            self._show(preview)

    def _show(self, preview: Preview) -> None:
        area = self.query_one(TileImage) if self._character_cells() else self.query_one(PreviewImage)
        if isinstance(area, PreviewImage):
            area.show(preview if isinstance(preview, PILImage.Image) else None)
        elif preview is None:
            area.show("no preview")
        else:
            area.show(preview if isinstance(preview, CellImage) else "[photo]")

    def reset(self, key: int | None, caption: str, data: dict | None = None) -> None:
        """Reuse this tile for another photo: new key and caption, the placeholder again."""
        self.key, self.data, self._pending = key, data or {}, None
        self.set_caption(caption)
        if self.is_mounted:
            if self._character_cells():
                self.query_one(TileImage).show("...")
            else:
                self.query_one(PreviewImage).show(None, missing="...")

    def set_caption(self, caption: str) -> None:
        if caption == self.caption:
            return
        self.caption = caption
        if self.is_mounted:
            self.query_one(".caption", Static).update(caption)
