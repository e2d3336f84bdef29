"""A scrolling grid of ThumbTiles with arrow-key movement between them."""

from __future__ import annotations

from homeroll.tui.widgets.thumb_tile import ThumbTile
from textual.binding import Binding
from textual.containers import ScrollableContainer
from textual.events import Resize

TILE_WIDTH = 18


class TileGrid(ScrollableContainer, can_focus=False):
    DEFAULT_CSS = """
    TileGrid { layout: grid; grid-size: 4; grid-gutter: 0 1; height: 1fr; grid-rows: 9; }
    TileGrid > .empty { width: auto; color: $text-muted; }
    """

    BINDINGS = [
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
    ]

    @property
    def columns(self) -> int:
        return max(1, (self.size.width + 1) // (TILE_WIDTH + 1))

    def on_resize(self, event: Resize) -> None:
        self.styles.grid_size_columns = max(1, (event.size.width + 1) // (TILE_WIDTH + 1))

    def tiles(self) -> list[ThumbTile]:
        return list(self.query_children(ThumbTile))

    def tile(self, key: int) -> ThumbTile | None:
        for tile in self.tiles():
            if tile.key == key:
                return tile
        return None

    def focused_tile(self) -> ThumbTile | None:
        focused = self.screen.focused
        return focused if isinstance(focused, ThumbTile) and focused.parent is self else None

    def action_move(self, dx: int, dy: int) -> None:
        tiles = self.tiles()
        current = self.focused_tile()
        if not tiles or current is None:
            return
        index = tiles.index(current) + dx + dy * self.columns
        if 0 <= index < len(tiles):
            tiles[index].focus()
            tiles[index].scroll_visible()
