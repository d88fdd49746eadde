"""Shared by the commands that read measurement files: byte-based progress and located errors."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from censorwatch.model.measurement import Measurement
from censorwatch.store.reader import DEFAULT_LIMITS, Limits, ReadError, iter_files, read_file

MAX_FILE_HELP = ("Stop reading one file after this many bytes once inflated, e.g. 4GiB (the default), "
                 "64GiB, 500MB; 0 = no limit. A bound on time against decompression bombs.")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?)b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"k": 1, "m": 2, "g": 3, "t": 4}


def max_file_option() -> str | None:
    return typer.Option(None, "--max-file-size", metavar="SIZE", help=MAX_FILE_HELP)  # type: ignore[no-any-return]


def parse_size(text: str) -> int:
    """``4GiB``, ``500MB``, ``1.5g``, ``1024`` as bytes (``KiB`` and friends are powers of 1024, ``KB`` of
    1000); ``ValueError`` saying what is expected."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (expected e.g. 4GiB, 500MB, 0)")
    unit, binary = (m.group(2) or "").lower(), bool(m.group(3))
    return int(float(m.group(1)) * ((1024 if binary else 1000) ** _UNITS[unit] if unit else 1))


def limits_or_exit(console: Console, max_file_size: str | None) -> Limits:
    """The reader's limits with ``--max-file-size`` applied, or exit 2 saying what is wrong with it."""
    if max_file_size is None:
        return DEFAULT_LIMITS
    try:
        size = parse_size(max_file_size)
    except ValueError as exc:
        console.print(f"error: --max-file-size: {exc}", markup=False)
        raise typer.Exit(2) from None
    return Limits(max_record_bytes=DEFAULT_LIMITS.max_record_bytes, max_decompressed_bytes=size or 2**63)


def byte_progress(console: Console, label: str) -> Progress:
    """A bar over the input's bytes on disk; hidden when stderr is not a terminal."""
    return Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[records]:,} records"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def _uncompressed_size(path: Path, size: int) -> int:
    """For ``.gz`` the ISIZE trailer (uncompressed size mod 2**32), else the size on disk."""
    if not path.name.lower().endswith(".gz") or size < 18:
        return size
    try:
        with path.open("rb") as fh:
            fh.seek(-4, 2)
            isize = int(struct.unpack("<I", fh.read(4))[0])
    except OSError:
        return size
    return isize if isize >= size else size


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # vanished or unreadable: the reader reports it against the path
        return 0


def tracked(
    paths: Iterable[str | Path], progress: Progress, task: TaskID, limits: Limits | None = None
) -> Iterator[Measurement | ReadError]:
    """``read_paths`` with the progress bar advanced by the bytes each record came from."""
    files = list(iter_files(paths))
    sizes = {id(f): _size(f) for f in files if isinstance(f, Path) and str(f) != "-"}
    progress.update(task, total=sum(sizes.values()) or None)
    done = 0
    records = 0
    for f in files:
        if isinstance(f, ReadError):
            yield f
            continue
        size = sizes.get(id(f), 0)
        ratio = size / max(_uncompressed_size(f, size), 1)
        consumed = 0.0
        for item in read_file(f, limits=limits):
            records += 1
            if isinstance(item, Measurement) and item.raw_bytes is not None:
                consumed += (len(item.raw_bytes) + 1) * ratio
            if records % 256 == 0:
                progress.update(task, completed=done + min(consumed, size), records=records)
            yield item
        done += size
        progress.update(task, completed=done, records=records)


def print_error(console: Console, err: ReadError) -> None:
    """``path:line: reason`` on one line (never wrapped, no markup), so it can be grepped."""
    console.print(f"{err.source}: {err.reason}", markup=False, highlight=False, soft_wrap=True, style="red")


def load_fingerprints_or_exit(console: Console, directory: Path | None) -> Any:
    """The analysis fingerprints (``--fingerprints`` / ``$CENSORWATCH_FINGERPRINTS`` / synced / built-in)."""
    from censorwatch.analysis.fingerprints import load_fingerprints

    try:
        fps = load_fingerprints(directory)
    except (OSError, ValueError) as exc:
        console.print(f"error: cannot load fingerprints: {exc}", markup=False)
        raise typer.Exit(2) from exc
    if fps.errors:
        console.print(
            f"warning: {len(fps.errors)} fingerprint rows skipped, first: {fps.errors[0]}",
            markup=False, style="yellow",
        )
    return fps


FINGERPRINTS_HELP = (
    "Directory of OONI fingerprint CSVs and Censored Planet signature files "
    "(default: $CENSORWATCH_FINGERPRINTS, else the sets `fingerprints sync` fetched; censorwatch's own always)."
)
DB_HELP = "DuckDB database file (default: $CENSORWATCH_DB, else <user data dir>/censorwatch/censorwatch.duckdb)."
