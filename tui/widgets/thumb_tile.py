"""A focusable tile: an image preview with a one-line caption (a curated pick or a face crop)."""

from __future__ import annotations

from homeroll.tui.widgets.preview_image import PreviewImage
from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static


class ThumbTile(Vertical, can_focus=True):
    """``key`` is the item id (memory picks) or the face id (people); ``data`` is the store row."""

    DEFAULT_CSS = """
    ThumbTile { width: 18; height: 9; border: round $panel-lighten-2; padding: 0; }
    ThumbTile:focus { border: heavy $accent; }
    ThumbTile.-cover { border: double $success; }
    ThumbTile:focus.-cover { border: heavy $success; }
    ThumbTile > .caption { height: 1; width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, key: int, caption: str, data: dict | None = None, **kwargs) -> None:
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
        return self._pending is not None and bool(self.query(".image") or self._pending[0] is None)

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
