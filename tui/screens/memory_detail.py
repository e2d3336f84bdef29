"""One memory: its curated picks as image previews, why it was suggested, and every edit."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header

from homeroll.tui.messages import ActionFailed, CollagePreviewReady, MemoryLoaded, ThumbLoaded
from homeroll.tui.screens.base import DataScreen, decision_bindings
from homeroll.tui.screens.dialogs import ExportOutputsScreen, FormScreen, ImagePreviewScreen
from homeroll.tui.widgets.key_footer import KeyFooter
from homeroll.tui.widgets.memory_summary import MemorySummary
from homeroll.tui.widgets.thumb_tile import ThumbTile, prepare_preview
from homeroll.tui.widgets.tile_grid import GraphicTileGrid, Tile, TileGrid, make_tile_grid


def pick_caption(media: dict[str, Any], is_cover: bool) -> str:
    taken = (media.get("taken_at") or "")[:16].replace("T", " ")
    return ("* " if is_cover else "") + (taken[5:] if len(taken) >= 16 else taken or f"#{media['item_id']}")


class MemoryDetailScreen(DataScreen):
    SUB_TITLE = "Memory"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        *decision_bindings("approve", "Approve", "reject", "Reject"),
        # the edits, then the collage
        Binding("t", "rename", "Title"), Binding("d,delete", "remove", "Remove"), Binding("c", "cover", "Cover"),
        Binding("e", "export", "Export"), Binding("v", "preview", "Preview"),
    ]

    def __init__(self, memory_id: int, row: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.memory_id = memory_id
        self.memory: dict[str, Any] | None = row
        self._loading: list[tuple[int, str | None]] = []

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield MemorySummary()
        # Placeholders for the picks the list row already counted: the first frame shows the grid,
        # and the photos fill the same tiles when the memory has loaded.
        placeholders = int((self.memory or {}).get("picks") or 0)
        yield make_tile_grid(self.app.image_renderer, placeholders, id="picks")  # type: ignore[attr-defined]
        yield KeyFooter()

    @property
    def grid(self) -> TileGrid | GraphicTileGrid:
        return self.query_one("#picks")  # type: ignore[return-value]

    def on_mount(self) -> None:
        if self.memory is not None:
            self.query_one(MemorySummary).show({**self.memory, "media": []})
        self.grid.focus_first()

    def reload(self) -> None:
        self.load(self.memory_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="memory")
    def load(self, memory_id: int) -> None:
        memory = self.backend.memory(memory_id)
        if not self.cancelled():
            self.post_message(MemoryLoaded(memory_id, memory))

    def on_memory_loaded(self, message: MemoryLoaded) -> None:
        self.memory = message.memory
        self.query_one(MemorySummary).show(message.memory, zone=self.app.cfg.zone)  # type: ignore[attr-defined]
        media = (message.memory or {}).get("media") or []
        cover = (message.memory or {}).get("cover")
        grid = self.grid
        missing = grid.set_tiles([(m["item_id"], pick_caption(m, m["item_id"] == cover), m) for m in media],
                                 cover=cover)
        grid.focus_first()
        thumbs = {m["item_id"]: m.get("thumb") for m in media}
        wanted = [(key, thumbs[key]) for key in missing]
        if wanted and wanted != self._loading:
            self._loading = wanted
            self.load_thumbs(wanted)

    @work(thread=True, exclusive=True, exit_on_error=False, group="thumbs")
    def load_thumbs(self, thumbs: list[tuple[int, str | None]]) -> None:
        renderer = self.app.image_renderer  # type: ignore[attr-defined]
        for item_id, thumb in thumbs:
            if self.cancelled():
                return
            preview = prepare_preview(self.backend.load_thumb(thumb), renderer)
            self.post_message(ThumbLoaded(item_id, preview))

    def on_thumb_loaded(self, message: ThumbLoaded) -> None:
        self.grid.set_image(message.key, message.image)

    # -- actions --------------------------------------------------------------------------------
    def _title(self) -> str:
        return (self.memory or {}).get("title") or f"memory {self.memory_id}"

    def _pick(self) -> Tile | ThumbTile | None:
        tile = self.grid.focused_tile()
        if tile is None:
            self.notify("Highlight a photo first (arrow keys or click).", severity="warning", timeout=3)
        elif tile.key is None:
            self.notify("The photos are still loading.", severity="warning", timeout=3)
            return None
        return tile

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_approve(self) -> None:
        self.act(self.backend.approve, self.memory_id, done=f"Approved: {self._title()}")

    def action_reject(self) -> None:
        self.act(self.backend.reject, self.memory_id, done=f"Rejected: {self._title()}")

    def action_rename(self) -> None:
        def save(values: dict[str, str] | None) -> None:
            if values and values["title"]:
                self.act(self.backend.rename, self.memory_id, values["title"],
                         done=f"Renamed to: {values['title']}")

        self.app.push_screen(FormScreen("Rename this memory", [("title", "Title", self._title())]), save)

    def action_remove(self) -> None:
        tile = self._pick()
        if tile:
            self.act(self.backend.remove_item, self.memory_id, tile.key,
                     done="Removed the photo from this memory (the file itself is untouched)")

    def action_cover(self) -> None:
        tile = self._pick()
        if tile:
            self.act(self.backend.set_cover, self.memory_id, tile.key, done="Cover set")

    def action_export(self) -> None:
        def chosen(outputs: list[str] | None) -> None:
            if outputs:
                slow = " (a video takes a minute or more on a small server)" if "video" in outputs else ""
                self.notify(f"Exporting {', '.join(outputs)}...{slow}", timeout=3)
                self.act(self.backend.approve_and_export, self.memory_id, outputs,
                         done=lambda path: f"Exported to {path}")

        defaults = self.backend.cfg["export"]["outputs"]
        self.app.push_screen(ExportOutputsScreen(f"Export {self._title()}", defaults), chosen)

    def action_preview(self) -> None:
        self.notify("Rendering a preview...", timeout=2)
        self.render_preview(self.memory_id)

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview")
    def render_preview(self, memory_id: int) -> None:
        target = self.backend.cfg.data_dir / "previews" / f"memory-{memory_id}.jpg"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            path = self.backend.export(memory_id, preview_path=target)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            self.post_message(ActionFailed(f"preview failed: {type(exc).__name__}: {exc}"))
            return
        image = self.backend.load_thumb(str(path), max_px=640)
        self.post_message(CollagePreviewReady(memory_id, str(path), image))

    def on_collage_preview_ready(self, message: CollagePreviewReady) -> None:
        self.app.push_screen(ImagePreviewScreen(f"Collage preview: {self._title()}  ({message.path})",
                                                message.image))
