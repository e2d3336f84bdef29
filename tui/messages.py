"""Messages that carry worker results back to the UI thread (workers never touch widgets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PIL import Image as PILImage
from textual.message import Message


@dataclass
class MemoriesLoaded(Message):
    rows: list[dict[str, Any]]
    error: str | None = None


@dataclass
class MemoryLoaded(Message):
    memory_id: int
    memory: dict[str, Any] | None


@dataclass
class ThumbLoaded(Message):
    """One preview ready for the tile keyed ``key`` (an item id or a face id): a picture already drawn
    as character cells, a decoded image (for graphics renderers), or None (no preview)."""

    key: int
    image: Any


@dataclass
class PeopleLoaded(Message):
    people: list[dict[str, Any]]


@dataclass
class FacesLoaded(Message):
    person_id: int
    faces: list[dict[str, Any]]


@dataclass
class StatusLoaded(Message):
    status: dict[str, Any]


@dataclass
class ChecksLoaded(Message):
    """`homeroll doctor`'s checks as dicts, or (``error``) why they could not be run at all."""

    checks: list[dict[str, str]]
    error: str | None = None


@dataclass
class ActionDone(Message):
    """A write finished; ``text`` is shown as a notification, then the screen reloads."""

    text: str
    reload: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ActionFailed(Message):
    text: str


class DataChanged(Message, bubble=False):
    """Another process committed to the DB: the visible screen reloads.

    It must not bubble: the app forwards it to the screen, and a bubbling copy would come back to
    the app and be forwarded again, reloading the screen over and over after a single change.
    """


@dataclass
class CollagePreviewReady(Message):
    memory_id: int
    path: str
    image: PILImage.Image | None
