"""Raw measurement bytes, kept losslessly in append-only Parquet parts beside the database.

``<db>.raw/part-00000042.parquet`` holds the exact bytes of every measurement one write added, in
row order, zstd-compressed per column page (several measurements share a page, so the compressor
sees their common structure). The ``measurements`` table points at them with
``(raw_part, raw_row)``. Keeping multi-KiB blobs out of DuckDB makes a write several times cheaper:
DuckDB handles small columns well and large blobs badly.

A part is written to a temporary name, fsynced, then renamed, before the database transaction that
references it commits. A crash in between leaves an unreferenced part (wasted bytes, never wrong
data); the next ingest of the same measurements writes them again. Parts are never modified.

Reads go through a small cache of decoded row groups, so reading a part's rows in order decodes
each row group once.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from censorwatch.store.durable import replace_durably

#: rows per Parquet row group: a point read decodes one group (~256 x mean size)
ROW_GROUP = 256
#: zstd level for the raw column pages (1: fastest; within a few percent of 3 on OONI JSON)
ZSTD_LEVEL = 1
_PART = re.compile(r"^part-(\d{8})\.parquet$")
_SCHEMA = pa.schema([("measurement_uid", pa.string()), ("raw", pa.large_binary())])


class RawStoreError(RuntimeError):
    """A raw part is missing or unreadable; the message names it."""


def raw_dir_for(db_path: Path | str) -> Path:
    """Where the raw parts of the database ``db_path`` live: ``<db_path>.raw``."""
    return Path(f"{db_path}.raw")


class RawStore:
    """The raw parts of one database; ``directory=None`` keeps them in a private temporary directory
    (for ``:memory:`` databases) that is removed with this object."""

    def __init__(self, directory: Path | None, *, read_only: bool = False) -> None:
        if directory is None:
            tmp = tempfile.mkdtemp(prefix="censorwatch-raw-")
            weakref.finalize(self, shutil.rmtree, tmp, True)
            directory = Path(tmp)
        self.directory = directory
        self.read_only = read_only
        self._next: int | None = None
        self._files: OrderedDict[int, pq.ParquetFile] = OrderedDict()
        self._groups: OrderedDict[tuple[int, int], list[bytes | None]] = OrderedDict()

    # -- writing ---------------------------------------------------------------------------------
    def _next_part(self) -> int:
        if self._next is None:
            self._next = max(self.part_ids(), default=-1) + 1
        return self._next

    def path(self, part: int) -> Path:
        return self.directory / f"part-{part:08d}.parquet"

    def append(self, uids: list[str], raws: list[bytes]) -> int:
        """Write one new part holding ``raws`` in order (durably); returns its id."""
        if self.read_only:
            raise RawStoreError(f"{self.directory}: opened read-only")
        self.directory.mkdir(parents=True, exist_ok=True)
        part = self._next_part()
        final = self.path(part)
        tmp = final.with_name(final.name + ".tmp")
        table = pa.Table.from_arrays([pa.array(uids, pa.string()), pa.array(raws, pa.large_binary())],
                                     schema=_SCHEMA)
        pq.write_table(table, tmp, row_group_size=ROW_GROUP, compression="zstd",
                       compression_level=ZSTD_LEVEL, use_dictionary=False, write_statistics=False)
        replace_durably(tmp, final)
        self._next = part + 1
        return part

    # -- reading ---------------------------------------------------------------------------------
    def _file(self, part: int) -> pq.ParquetFile:
        f = self._files.get(part)
        if f is None:
            path = self.path(part)
            try:
                f = pq.ParquetFile(path)
            except (OSError, pa.ArrowException) as exc:
                raise RawStoreError(f"{path}: raw part unreadable: {exc}") from exc
            self._files[part] = f
            if len(self._files) > 32:
                self._files.popitem(last=False)
        else:
            self._files.move_to_end(part)
        return f

    def get(self, part: int, row: int) -> bytes:
        """The exact bytes stored at ``(part, row)``."""
        group, offset = divmod(row, ROW_GROUP)
        key = (part, group)
        rows = self._groups.get(key)
        if rows is None:
            f = self._file(part)
            if group >= f.num_row_groups:
                raise RawStoreError(f"{self.path(part)}: no row {row}")
            rows = f.read_row_group(group, columns=["raw"]).column(0).to_pylist()
            self._groups[key] = rows
            if len(self._groups) > 8:
                self._groups.popitem(last=False)
        if offset >= len(rows) or rows[offset] is None:
            raise RawStoreError(f"{self.path(part)}: no row {row}")
        return rows[offset]  # type: ignore[return-value]

    def part_ids(self) -> list[int]:
        """The ids of the finished parts on disk, ascending."""
        if not self.directory.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := _PART.match(p.name)))


def connection_raw_store(con: Any) -> RawStore:
    """The raw parts of the database file ``con`` (a DuckDB connection) is open on, read-only."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not row or not row[0]:
        raise RawStoreError("an in-memory database has no raw parts on disk")
    return RawStore(raw_dir_for(row[0]), read_only=True)


def stored_bytes(blob: bytes | None, part: int | None, row: int | None, raws: RawStore | None,
                 decompress: Any) -> bytes:
    """A measurement row's raw bytes: inline ``blob`` (zstd, schema version 1) when set, else the
    bytes at ``(part, row)`` in ``raws``."""
    if blob is not None:
        return decompress(blob)  # type: ignore[no-any-return]
    if part is None or row is None or raws is None:
        raise RawStoreError("measurement row points at no raw bytes")
    return raws.get(part, row)
