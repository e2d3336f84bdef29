"""STUB (issue 14, part 1): a hidden person's photos and name, kept out of every new memory."""

from __future__ import annotations

import numpy as np

from homeroll.daemon.memories.library import Library


def rows_to_drop(lib: Library, hidden_ids: set[int], mode: str) -> np.ndarray:
    return np.zeros(len(lib), dtype=bool)


def without_people(lib: Library, hidden_ids: set[int]) -> Library:
    return lib
