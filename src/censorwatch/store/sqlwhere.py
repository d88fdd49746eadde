"""Pieces of ``WHERE`` clauses the store's queries share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: an event or incident still running at or after the parameter's time
RUNNING_SINCE = "(end_time IS NULL OR end_time >= ?)"


def where_equal(pairs: Sequence[tuple[str, Any]]) -> tuple[list[str], list[Any]]:
    """``WHERE`` terms and parameters for the ``column = value`` filters that are set (None = no filter)."""
    where: list[str] = ["true"]
    params: list[Any] = []
    for col, val in pairs:
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    return where, params
