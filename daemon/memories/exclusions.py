"""STUB (issue 14, part 2): excluded periods and places, kept out of every new memory."""

from __future__ import annotations

from typing import Any

import numpy as np

from homeroll.daemon.memories.library import Library


def rows_to_drop(lib: Library, exclusions: list[dict[str, Any]]) -> np.ndarray:
    return np.zeros(len(lib), dtype=bool)
