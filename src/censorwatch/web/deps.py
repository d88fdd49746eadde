"""Request-scoped dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
from fastapi import Request


def cursor(request: Request) -> Iterator[duckdb.DuckDBPyConnection]:
    """One DuckDB cursor per request (cursors are safe to use from the request's own thread)."""
    cur = request.app.state.con.cursor()
    try:
        yield cur
    finally:
        cur.close()


def db_path(request: Request) -> Path | None:
    p: Path | None = request.app.state.db_path
    return p


def cached(request: Request, key: tuple[Any, ...], compute: Callable[[duckdb.DuckDBPyConnection], Any],
           con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Page data from the app's cache; a shallow copy, so callers may add or drop top-level keys."""
    return dict(request.app.state.cache.get(key, compute, con, request.app.state.con))
