"""A scrolling grid of photo tiles (curated picks, face crops) with arrow-key movement between them.

``TileGrid`` draws every tile itself (borders, picture, caption) as one line-API widget. Textual
spends several milliseconds per widget on a small machine (styles, a message queue, layout), so 15
tiles as 45 widgets made opening a memory cost a quarter of a second; drawn as lines, a tile costs
what its characters cost, and a picture arriving repaints only the lines it is on.

Kitty and Sixel graphics cannot be drawn as characters: for those terminals ``GraphicTileGrid``
keeps one ``ThumbTile`` widget per tile with textual-image's own widget inside. Both grids offer the
same methods; ``make_tile_grid`` picks one for the app's renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image as PILImage
from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer
from textual.events import Resize
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from homeroll.tui.widgets.preview_image import CellImage, cell_renderable_class
from homeroll.tui.widgets.thumb_tile import IMAGE_CELLS, Preview, ThumbTile

TILE_WIDTH = 18
TILE_HEIGHT = 9
GUTTER = 1

#: (top-left, horizontal, top-right, vertical, bottom-left, bottom-right), as Textual draws them.
BORDERS = {"round": "╭─╮│╰╯", "heavy": "┏━┓┃┗┛", "double": "╔═╗║╚╝"}

#: Tile specification from a screen: (key, caption, store row).
TileSpec = tuple[int, str, dict[str, Any]]

MOVE_BINDINGS: list[BindingType] = [
    Binding("left", "move(-1, 0)", "Left", show=False),
    Binding("right", "move(1, 0)", "Right", show=False),
    Binding("up", "move(0, -1)", "Up", show=False),
    Binding("down", "move(0, 1)", "Down", show=False),
]


@dataclass
class Tile:
    """One photo in the grid; ``key`` is the item id or face id (None while a placeholder)."""

    key: int | None
    caption: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    cover: bool = False
    preview: Preview = None
    has_image: bool = False  # the preview (or its 'no preview' text) has replaced the placeholder


def grid_columns(width: int) -> int:
    return max(1, (width + GUTTER) // (TILE_WIDTH + GUTTER))


def clip_caption(caption: str, width: int) -> str:
    """One line, an ellipsis when it does not fit (as ``text-overflow: ellipsis`` shows it)."""
    if cell_len(caption) <= width:
        return caption
    while caption and cell_len(caption) > width - 1:
        caption = caption[:-1]
    return caption + "…"


class TileGrid(ScrollView, can_focus=True):
    """Tiles drawn as lines; the cursor tile has a heavy border while the grid has focus."""

    DEFAULT_CSS = """
    TileGrid { height: 1fr; overflow-x: hidden; }
    TileGrid > .tile-grid--border { color: $panel-lighten-2; }
    TileGrid > .tile-grid--focus { color: $accent; }
    TileGrid > .tile-grid--cover { color: $success; }
    TileGrid > .tile-grid--placeholder { color: $text-muted; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "tile-grid--border", "tile-grid--focus", "tile-grid--cover", "tile-grid--placeholder"}

    BINDINGS = MOVE_BINDINGS

    def __init__(self, placeholders: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tiles: list[Tile] = [Tile(None) for _ in range(placeholders)]
        self._cursor = 0

    # -- the shared grid interface -------------------------------------------------------------------
    def tiles(self) -> list[Tile]:
        return list(self._tiles)

    def tile(self, key: int) -> Tile | None:
        return next((t for t in self._tiles if t.key == key), None)

    def focused_tile(self) -> Tile | None:
        if not self.has_focus or not self._tiles:
            return None
        return self._tiles[min(self._cursor, len(self._tiles) - 1)]

    def focus_first(self) -> None:
        """Focus the grid on its current tile (the first one when it was never moved)."""
        if self._tiles:
            self.focus()

    def set_tiles(self, specs: list[TileSpec], cover: int | None = None) -> list[int]:
        """Show these tiles in this order; pictures already loaded are kept (by key).

        Returns the keys that still need a picture.
        """
        known = {t.key: t for t in self._tiles if t.key is not None}
        if known and not known.keys() & {key for key, _, _ in specs}:  # someone else's photos: start over
            self._cursor = 0
            self.scroll_home(animate=False, immediate=True)
        tiles = []
        for key, caption, data in specs:
            old = known.get(key)
            tiles.append(Tile(key, caption, data, cover=key == cover, preview=old.preview if old else None,
                              has_image=old.has_image if old else False))
        self._tiles = tiles
        self._cursor = min(self._cursor, max(0, len(tiles) - 1))
        self._update_size()
        self.refresh()
        return [t.key for t in tiles if not t.has_image]

    def set_image(self, key: int, preview: Preview) -> None:
        for index, tile in enumerate(self._tiles):
            if tile.key == key:
                tile.preview, tile.has_image = preview, True
                self._refresh_tile(index)

    # -- geometry ------------------------------------------------------------------------------------
    @property
    def columns(self) -> int:
        return grid_columns(self.scrollable_content_region.width or self.size.width)

    def _update_size(self) -> None:
        rows = -(-len(self._tiles) // self.columns)
        self.virtual_size = Size(0, rows * TILE_HEIGHT)

    def on_resize(self, event: Resize) -> None:
        self._update_size()

    def _column_x(self, col: int) -> int:
        """Where a column starts: the spare width is shared out as a ``1fr`` grid column shares it."""
        width = self.scrollable_content_region.width or self.size.width
        return col * (width + GUTTER) // self.columns

    def _tile_region(self, index: int) -> Region:
        """The tile's region in virtual (scrolled) coordinates."""
        row, col = divmod(index, self.columns)
        return Region(self._column_x(col), row * TILE_HEIGHT, TILE_WIDTH, TILE_HEIGHT)

    def _refresh_tile(self, index: int) -> None:
        region = self._tile_region(index)
        self.refresh(region.translate(-self.scroll_offset))

    def _move_cursor(self, index: int) -> None:
        old, self._cursor = self._cursor, index
        self._refresh_tile(old)
        self._refresh_tile(index)
        self.scroll_to_region(self._tile_region(index), animate=False, immediate=True)

    def action_move(self, dx: int, dy: int) -> None:
        if not self._tiles:
            return
        index = self._cursor + dx + dy * self.columns
        if 0 <= index < len(self._tiles):
            self._move_cursor(index)

    def on_focus(self) -> None:
        self._refresh_tile(self._cursor)

    def on_blur(self) -> None:
        self._refresh_tile(self._cursor)

    def on_click(self, event: events.Click) -> None:
        x, y = event.x, event.y + int(self.scroll_offset.y)
        col = next((c for c in range(self.columns) if 0 <= x - self._column_x(c) < TILE_WIDTH), None)
        if col is None:
            return
        index = (y // TILE_HEIGHT) * self.columns + col
        if index < len(self._tiles):
            self.focus()
            self._move_cursor(index)

    # -- drawing -------------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        columns = grid_columns(width)
        row, line = divmod(y + int(self.scroll_offset.y), TILE_HEIGHT)
        segments: list[Segment] = []
        x = 0
        for col in range(columns):
            index = row * columns + col
            if index >= len(self._tiles):
                break
            start = col * (width + GUTTER) // columns  # as in _column_x
            if start > x:
                segments.append(Segment(" " * (start - x), base))
            segments.extend(self._tile_line(index, line, base))
            x = start + TILE_WIDTH
        return Strip(segments).extend_cell_length(width, base).crop(0, width)

    def _tile_line(self, index: int, line: int, base: Style) -> list[Segment]:
        tile = self._tiles[index]
        focused = self.has_focus and index == self._cursor
        chars = BORDERS["heavy" if focused else "double" if tile.cover else "round"]
        colour = "tile-grid--cover" if tile.cover else "tile-grid--focus" if focused else "tile-grid--border"
        border = self.get_component_rich_style(colour)
        inner = TILE_WIDTH - 2
        if line == 0:
            return [Segment(chars[0] + chars[1] * inner + chars[2], border)]
        if line == TILE_HEIGHT - 1:
            return [Segment(chars[4] + chars[1] * inner + chars[5], border)]
        edge = Segment(chars[3], border)
        content_row = line - 1
        image_rows = IMAGE_CELLS[1]
        if content_row >= image_rows:  # the caption line
            caption = clip_caption(tile.caption, inner)
            return [edge, Segment(caption + " " * (inner - cell_len(caption)), base), edge]
        return [edge, *self._picture_line(tile, content_row, inner, base), edge]

    def _picture_line(self, tile: Tile, row: int, width: int, base: Style) -> list[Segment]:
        preview = tile.preview
        if isinstance(preview, CellImage):
            if row < len(preview.lines):
                return [Segment(s.text, base + s.style if s.style else base) for s in preview.lines[row]]
            return [Segment(" " * width, base)]
        text = "..." if not tile.has_image else "no preview" if preview is None else "[photo]"
        if row != (IMAGE_CELLS[1] - 1) // 2:
            return [Segment(" " * width, base)]
        left = (width - len(text)) // 2
        muted = self.get_component_rich_style("tile-grid--placeholder")
        return [Segment(" " * left, base), Segment(text, muted), Segment(" " * (width - left - len(text)), base)]


class GraphicTileGrid(ScrollableContainer, can_focus=False):
    """One ``ThumbTile`` widget per tile, for Kitty / Sixel graphics (textual-image widgets inside)."""

    DEFAULT_CSS = """
    GraphicTileGrid { layout: grid; grid-size: 4; grid-gutter: 0 1; height: 1fr; grid-rows: 9; }
    """

    BINDINGS = MOVE_BINDINGS

    def __init__(self, placeholders: int = 0, **kwargs: Any) -> None:
        super().__init__(*(ThumbTile(None, "") for _ in range(placeholders)), **kwargs)

    @property
    def columns(self) -> int:
        return grid_columns(self.size.width)

    def on_resize(self, event: Resize) -> None:
        self.styles.grid_size_columns = grid_columns(event.size.width)

    def tiles(self) -> list[ThumbTile]:
        return list(self.query_children(ThumbTile))

    def tile(self, key: int) -> ThumbTile | None:
        return next((t for t in self.tiles() if t.key == key), None)

    def focused_tile(self) -> ThumbTile | None:
        focused = self.screen.focused
        return focused if isinstance(focused, ThumbTile) and focused.parent is self else None

    def focus_first(self) -> None:
        tiles = self.tiles()
        if tiles and self.focused_tile() is None:
            tiles[0].focus()

    def set_tiles(self, specs: list[TileSpec], cover: int | None = None) -> list[int]:
        tiles = self.tiles()
        focused = self.focused_tile()
        index = tiles.index(focused) if focused else None
        if [t.key for t in tiles] != [key for key, _, _ in specs]:
            self.remove_children()
            tiles = [ThumbTile(key, caption, data=data) for key, caption, data in specs]
            self.mount_all(tiles)
            if index is not None and tiles:
                tiles[min(index, len(tiles) - 1)].focus()
        for tile, (key, caption, _) in zip(tiles, specs, strict=False):
            tile.set_class(key == cover, "-cover")
            tile.set_caption(caption)
        return [t.key for t in tiles if not t.has_image]

    def set_image(self, key: int, preview: Preview) -> None:
        tile = self.tile(key)
        if tile is not None:
            tile.set_image(preview if isinstance(preview, PILImage.Image) else None)

    def action_move(self, dx: int, dy: int) -> None:
        tiles = self.tiles()
        current = self.focused_tile()
        if not tiles or current is None:
            return
        index = tiles.index(current) + dx + dy * self.columns
        if 0 <= index < len(tiles):
            tiles[index].focus()
            tiles[index].scroll_visible()


def make_tile_grid(renderer: str, placeholders: int = 0, **kwargs: Any) -> TileGrid | GraphicTileGrid:
    """The grid for this renderer: drawn as characters unless the terminal shows real graphics."""
    if renderer == "none" or cell_renderable_class(renderer) is not None:
        return TileGrid(placeholders, **kwargs)
    return GraphicTileGrid(placeholders, **kwargs)
