"""STUB (issue 14, part 3): the family's own occasions as memories."""

from __future__ import annotations

from typing import Any

import numpy as np

from homeroll.daemon.memories.library import Library
from homeroll.daemon.memories.model import Candidate


def find_occasions(lib: Library, session_of: np.ndarray, occasions: list[dict[str, Any]],
                   settings: dict[str, Any]) -> list[Candidate]:
    return []
