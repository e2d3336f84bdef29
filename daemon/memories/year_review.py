"""STUB (issue 14, part 4): "2024 in review"."""

from __future__ import annotations

from datetime import date
from typing import Any

from homeroll.daemon.memories.library import Library
from homeroll.daemon.memories.model import Candidate


def find_year_in_review(lib: Library, candidates: list[Candidate], today: date,
                        settings: dict[str, Any]) -> list[Candidate]:
    return []
