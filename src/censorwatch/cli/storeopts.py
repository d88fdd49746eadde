"""DuckDB's budget on the command line: ``--memory-limit``, ``--threads``, ``--temp-dir``.

Each option wins over its environment variable (``CENSORWATCH_DUCKDB_MEMORY``, ``..._THREADS``,
``..._TEMP``), which wins over the store's default (store/db.py ``DuckDBSettings``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import typer
from rich.console import Console

from censorwatch.store.db import (
    DEFAULT_MEMORY_LIMIT,
    STREAMING_MEMORY_LIMIT,
    DuckDBSettings,
    Store,
    StoreError,
)

EXIT_STORE = 3

MEMORY_HELP = (f"DuckDB memory limit, e.g. 512MB, 4GB (default: $CENSORWATCH_DUCKDB_MEMORY, else "
               f"{STREAMING_MEMORY_LIMIT} for ingest and sync, {DEFAULT_MEMORY_LIMIT} otherwise); work "
               "beyond it spills to --temp-dir; out of it, the command stops (exit 3) keeping what it stored.")
THREADS_HELP = "DuckDB threads (default: $CENSORWATCH_DUCKDB_THREADS, else one per core)."
TEMP_HELP = "Where DuckDB spills (default: $CENSORWATCH_DUCKDB_TEMP, else <db>.tmp)."


def memory_option() -> str | None:
    return typer.Option(None, "--memory-limit", help=MEMORY_HELP)  # type: ignore[no-any-return]


def threads_option() -> int | None:
    return typer.Option(None, "--threads", min=1, help=THREADS_HELP)  # type: ignore[no-any-return]


def temp_option() -> Path | None:
    return typer.Option(None, "--temp-dir", help=TEMP_HELP)  # type: ignore[no-any-return]


def open_store(console: Console, db: Path | None, memory_limit: str | None = None,
               threads: int | None = None, temp_dir: Path | None = None, *, streaming: bool = False) -> Store:
    """The store with these DuckDB settings, or exit 3 saying why it cannot be opened.

    ``streaming``: for ``ingest`` and ``sync``, whose default memory limit is smaller."""
    default = STREAMING_MEMORY_LIMIT if streaming else DEFAULT_MEMORY_LIMIT
    try:
        return Store(db, settings=DuckDBSettings(memory_limit, threads, temp_dir, default))
    except StoreError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_STORE) from exc


@contextmanager
def store_failures(console: Console, store: Store) -> Iterator[None]:
    """Exit 3 with one sentence when the store fails midway (DuckDB out of its memory budget, a full
    disk): what was committed before stays, and the sentence says so and how to go on."""
    try:
        yield
    except duckdb.OutOfMemoryException as exc:
        console.print(f"error: {store.out_of_memory(exc)}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_STORE) from None
    except StoreError as exc:
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_STORE) from None
