"""The embedded DuckDB store: raw measurements, flat observations, verdicts.

Writes are batched: callers fill a ``RowBatch`` (column lists), and ``Store.write`` hands each table
to DuckDB as one Arrow table with ``INSERT ... SELECT`` and an anti-join on ``measurement_uid``, so
writing the same measurement twice adds nothing. The anti-join reads only the stored uids between
the batch's least and greatest (``_stored_uids``): uids begin with their measurement's time, so
DuckDB's per-row-group min/max skips the rest of the store and a batch costs the same at 10M stored
as at 10k (no primary-key index does this job: ``schema.UID_KEYED`` says why). Raw measurements are
kept as the exact bytes they were read from, in zstd-compressed Parquet parts beside the database (``store/rawstore.py``); the
``measurements`` row points at them.

DuckDB allows one read-write process per file; ``read_only=True`` opens a shared read-only handle.
DuckDB's memory limit, threads and spill directory are set on every open (``DuckDBSettings``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import zstandard

from censorwatch.store import schema
from censorwatch.store.paths import resolve_db_path
from censorwatch.store.rawstore import RawStore, raw_dir_for, stored_bytes
from censorwatch.store.rows import MEASUREMENT_SCHEMA, OBSERVATION_SCHEMA, VERDICT_SCHEMA, RowBatch

# Column lists named explicitly, so columns other areas add to these tables (additively) never
# shift an insert.
_M_COLS = ", ".join(MEASUREMENT_SCHEMA.names)
_O_COLS = ", ".join(OBSERVATION_SCHEMA.names)
_V_COLS = ", ".join(VERDICT_SCHEMA.names)


#: the names for people kept beside the measurements (schema.py: network_names, target_inputs)
_NAMES_SQL = (
    """INSERT INTO network_names
       SELECT probe_asn, arg_max(probe_network_name, measurement_start_time), max(measurement_start_time)
       FROM _batch_m WHERE probe_network_name IS NOT NULL AND trim(probe_network_name) <> ''
       GROUP BY probe_asn
       ON CONFLICT (asn) DO UPDATE SET name = excluded.name, seen = excluded.seen
       WHERE excluded.seen >= network_names.seen""",
    """INSERT INTO target_inputs SELECT domain, min(test_name), min(input) FROM _batch_m
       WHERE domain IS NOT NULL GROUP BY domain ON CONFLICT DO NOTHING""",
)


def _versions(v: str | Collection[str]) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(sorted(v))


class StoreError(RuntimeError):
    """The database cannot be opened or used; the message says why."""


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def open_error(path: Path | str, exc: Exception) -> StoreError:
    """One sentence for a failed open: who holds the file when another process does (DuckDB lets one
    process write a database and no other process even read it meanwhile), else DuckDB's reason."""
    m = _LOCK_HOLDER.search(str(exc))
    if m is not None:
        return StoreError(
            f"{path} is held by another process (pid {m['pid']}, {Path(m['program']).name}): stop it first, or "
            "let `censorwatch observatory` hold the store (it stores, analyses and serves at once, and the "
            "commands go through it)")
    return StoreError(f"{path}: cannot open database: {exc}")


ENV_MEMORY, ENV_THREADS, ENV_TEMP = "CENSORWATCH_DUCKDB_MEMORY", "CENSORWATCH_DUCKDB_THREADS", "CENSORWATCH_DUCKDB_TEMP"
#: DuckDB's own default is 80 % of the machine's memory, which its buffer pool then fills with cached
#: blocks as the store grows; a fixed budget keeps a process's size independent of the store's.
#: Work that needs more (large joins, sorts, aggregates) spills to the temp directory.
DEFAULT_MEMORY_LIMIT = "512MB"
#: the default of streaming writers (``ingest``, ``sync``): their queries are batch-sized, and what
#: DuckDB caches beyond this (the uid columns each batch's anti-join scans) is read again from disk
STREAMING_MEMORY_LIMIT = "256MB"
#: WAL size at which a commit also checkpoints. Each checkpoint rewrites the primary-key indexes of
#: the whole store, so its cost grows with the store: at DuckDB's 16 MB an ingest checkpointed every
#: third batch of 2,000 measurements, 39 us per measurement for commits at 100k stored (22 us at
#: 64 MB, for ~35 MB more peak memory: benchmarks/classify.py --stages, results/classify.md).
CHECKPOINT_THRESHOLD = "64MB"


@dataclass(frozen=True, slots=True)
class DuckDBSettings:
    """DuckDB's memory budget, threads and spill directory; ``None`` = environment, then default.

    Defaults: ``default_memory`` (``DEFAULT_MEMORY_LIMIT``, or ``STREAMING_MEMORY_LIMIT`` for
    ingest), one thread per core, ``<db>.tmp`` beside the database.
    """

    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | Path | None = None
    default_memory: str = DEFAULT_MEMORY_LIMIT

    def resolve(self, db: Path) -> dict[str, str]:
        """The ``SET`` values for a database at ``db`` (``:memory:`` keeps DuckDB's temp directory)."""
        memory = self.memory_limit or os.environ.get(ENV_MEMORY) or self.default_memory
        threads = self.threads or os.environ.get(ENV_THREADS) or os.cpu_count() or 1
        out = {"memory_limit": str(memory), "threads": str(threads)}
        temp = self.temp_directory or os.environ.get(ENV_TEMP)
        if temp:
            out["temp_directory"] = str(Path(temp).expanduser())
        elif str(db) != ":memory:":
            out["temp_directory"] = f"{db}.tmp"
        return out


def apply_settings(con: Any, values: dict[str, str]) -> None:
    """``SET`` each value; a bad one is a ``StoreError`` naming the setting and its variable."""
    for name, value in values.items():
        try:
            con.execute(f"SET {name} = ?", [value]).fetchall()
        except duckdb.Error as exc:
            env = {"memory_limit": ENV_MEMORY, "threads": ENV_THREADS, "temp_directory": ENV_TEMP}[name]
            raise StoreError(f"DuckDB {name} = {value!r} (option or ${env}): {exc}") from exc


@dataclass(slots=True, frozen=True)
class StoredMeasurement:
    """A stored measurement handed back for (re-)classification."""

    measurement_uid: str
    source: str | None
    raw: bytes  # decompressed: the exact bytes as read


@dataclass(frozen=True, slots=True)
class CurrentRules:
    """What a verdict must have been made with to be current (``analysis/registry.py`` says what).

    A verdict is stale when its ``rules_version`` is none of ``stamps`` (its family's version changed,
    or it was made by a family that no longer exists), or when it is one of ``fingerprint_stamps`` and
    its ``fingerprints`` differ from the active set ``fingerprints``.
    """

    stamps: tuple[str, ...]
    fingerprint_stamps: tuple[str, ...] = ()
    fingerprints: str | None = None


def _stale_where(current: CurrentRules | str | Collection[str]) -> tuple[str, list[Any]]:
    """The SQL condition (over ``v``, the joined verdicts) that selects missing or stale verdicts; a
    plain version (or set of versions) is a ``CurrentRules`` without fingerprint-reading families."""
    if not isinstance(current, CurrentRules):
        current = CurrentRules(_versions(current))
    where = "v.rules_version IS NULL OR NOT list_contains(?::VARCHAR[], v.rules_version)"
    params: list[Any] = [list(current.stamps)]
    if current.fingerprint_stamps:
        where += (" OR (list_contains(?::VARCHAR[], v.rules_version)"
                  " AND v.fingerprints IS DISTINCT FROM ?)")
        params += [list(current.fingerprint_stamps), current.fingerprints]
    return where, params


@dataclass(slots=True)
class WriteResult:
    measurements: int = 0
    observations: int = 0
    verdicts: int = 0


def _stored_uids(table: str) -> str:
    """A subquery of ``table``'s uids between two parameters (the batch's least and greatest uid)."""
    return f"(SELECT measurement_uid FROM {table} WHERE measurement_uid BETWEEN ? AND ?)"


def _uid_range(uids: pa.ChunkedArray | pa.Array) -> list[str]:
    """The least and greatest of ``uids``, refusing a repeated uid: the tables have no unique index
    (``schema.UID_KEYED``), so a batch holding one measurement twice would store it twice."""
    if pc.count_distinct(uids).as_py() != len(uids):
        counts = pc.value_counts(uids)
        twice = [c["values"] for c in counts.to_pylist() if c["counts"] > 1]
        raise ValueError(f"a batch holds measurement_uid {twice[0]!r} more than once")
    bounds = pc.min_max(uids)
    return [bounds["min"].as_py(), bounds["max"].as_py()]


def _count(rel: Any) -> int:
    """The single number a count query or an INSERT/DELETE returns (all rows fetched: DuckDB
    refuses new work on a connection with an unfinished result)."""
    rows = rel.fetchall()
    return int(rows[0][0]) if rows and rows[0] and rows[0][0] is not None else 0


class Store:
    """One DuckDB database file (``path``), or ``:memory:``."""

    def __init__(self, path: str | Path | None = None, read_only: bool = False,
                 settings: DuckDBSettings | None = None) -> None:
        self.path = Path(":memory:") if str(path) == ":memory:" else resolve_db_path(path)
        self.read_only = read_only
        try:
            if str(self.path) != ":memory:" and not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            if read_only and not self.path.exists():
                raise StoreError(f"{self.path}: no such database")
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise open_error(self.path, exc) from exc
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create database directory: {exc}") from exc
        self._zstd = zstandard.ZstdDecompressor()
        self.raws = RawStore(None if str(self.path) == ":memory:" else raw_dir_for(self.path),
                             read_only=read_only)
        # DuckDB's own progress bar would print over ours
        self.con.execute("SET enable_progress_bar = false").fetchall()
        self.settings = (settings or DuckDBSettings()).resolve(self.path)
        try:
            apply_settings(self.con, self.settings)
        except StoreError:
            self.con.close()
            raise
        if not read_only:
            self.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'").fetchall()
            self._init_schema()

    # -- lifecycle -------------------------------------------------------------------------------
    def _init_schema(self) -> None:
        for ddl in schema.ALL:
            self.con.execute(ddl)
        try:
            for ddl in schema.MIGRATIONS:
                self.con.execute(ddl)
            if not self.con.execute("SELECT 1 FROM target_inputs LIMIT 1").fetchall():
                _count(self.con.execute(schema.BACKFILL_TARGETS))
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: cannot upgrade the schema to version {schema.SCHEMA_VERSION}: "
                             f"{exc}; ingest into a new database instead") from exc
        _count(self.con.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(schema.SCHEMA_VERSION)]
        ))

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writes ----------------------------------------------------------------------------------
    def existing_uids(self, uids: Iterable[str]) -> set[str]:
        """The subset of ``uids`` already stored as measurements."""
        column = pa.array(set(uids), pa.string())
        if not len(column):
            return set()
        self.con.register("_probe_uids", pa.table({"measurement_uid": column}))
        try:
            rows = self.con.execute(
                f"SELECT p.measurement_uid FROM _probe_uids p SEMI JOIN {_stored_uids('measurements')} m "
                "ON m.measurement_uid = p.measurement_uid", _uid_range(column)
            ).fetchall()
        finally:
            self.con.unregister("_probe_uids")
        return {r[0] for r in rows}

    def write(self, batch: RowBatch, *, replace_verdicts: bool = False) -> WriteResult:
        """Insert a batch in one transaction; measurements already stored are skipped (anti-join).

        Observation rows are written only for measurements this call inserted. Verdicts are
        inserted when missing, or replaced when ``replace_verdicts`` (re-classification). A batch
        that repeats a measurement's uid (or a verdict's) is a ``ValueError``; DuckDB running out of
        its memory budget is a ``StoreError`` (``out_of_memory``) after the batch is rolled back.
        """
        res = WriteResult()
        con = self.con
        table = batch.measurements_table() if len(batch) else None
        verdicts = batch.verdicts_table() if batch.verdict_count else None
        m_range = _uid_range(table.column("measurement_uid")) if table is not None else []
        v_range = _uid_range(verdicts.column("measurement_uid")) if verdicts is not None else []
        con.execute("BEGIN TRANSACTION")
        try:
            if table is not None:
                con.register("_batch_m", table)
                new = {r[0] for r in con.execute(
                    f"SELECT b.measurement_uid FROM _batch_m b ANTI JOIN {_stored_uids('measurements')} m "
                    "ON m.measurement_uid = b.measurement_uid", m_range
                ).fetchall()}
                con.unregister("_batch_m")
                if new:
                    # the raw part first (durably), then the rows that point at it
                    uids, raws = table.column("measurement_uid").to_pylist(), batch.raws
                    if len(new) < len(uids):
                        keep = [i for i, u in enumerate(uids) if u in new]
                        table = table.take(keep)
                        uids, raws = [uids[i] for i in keep], [raws[i] for i in keep]
                    part = self.raws.append(uids, raws)
                    table = table.append_column("raw_part", pa.array([part] * len(table), pa.int32()))
                    table = table.append_column("raw_row", pa.array(range(len(table)), pa.int32()))
                    con.register("_batch_m", table)
                    res.measurements = _count(con.execute(
                        f"INSERT INTO measurements ({_M_COLS}, raw_part, raw_row, ingested_at) "
                        f"SELECT {_M_COLS}, raw_part, raw_row, ?::TIMESTAMP FROM _batch_m",
                        [datetime.now(UTC).replace(tzinfo=None)],
                    ))
                    for sql in _NAMES_SQL:
                        _count(con.execute(sql))
                    con.unregister("_batch_m")
                if new and batch.observation_count:
                    obs = batch.observations_table()
                    if len(new) < len(batch):
                        obs = obs.filter(pc.is_in(obs.column("measurement_uid"),
                                                          pa.array(list(new), pa.string())))
                    con.register("_batch_o", obs)
                    res.observations = _count(con.execute(
                        f"INSERT INTO observations ({_O_COLS}) SELECT {_O_COLS} FROM _batch_o"
                    ))
                    con.unregister("_batch_o")
            if verdicts is not None:
                con.register("_batch_v", verdicts)
                if replace_verdicts:
                    _count(con.execute(
                        "DELETE FROM verdicts WHERE measurement_uid BETWEEN ? AND ? "
                        "AND measurement_uid IN (SELECT measurement_uid FROM _batch_v)", v_range
                    ))
                res.verdicts = _count(con.execute(
                    f"INSERT INTO verdicts ({_V_COLS}) SELECT {_V_COLS} FROM _batch_v v "
                    f"ANTI JOIN {_stored_uids('verdicts')} old ON old.measurement_uid = v.measurement_uid",
                    v_range,
                ))
                con.unregister("_batch_v")
            con.execute("COMMIT")
        except duckdb.OutOfMemoryException as exc:
            con.execute("ROLLBACK")
            raise self.out_of_memory(exc) from exc
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return res

    def out_of_memory(self, exc: Exception) -> StoreError:
        """One sentence for DuckDB running out of its budget: what is kept and how to go on."""
        try:
            kept = f" ({_count(self.con.execute('SELECT count(*) FROM measurements')):,} measurements stored)"
        except duckdb.Error:  # the connection refuses work until its failed transaction ends
            kept = ""
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StoreError(
            f"{self.path}: DuckDB ran out of its {self.settings['memory_limit']} memory budget ({reason}); "
            f"nothing stored before this point is lost{kept}: run the same command again with a larger "
            f"--memory-limit (or ${ENV_MEMORY}) and it goes on from there")

    # -- reads -----------------------------------------------------------------------------------
    def _decompress(self, blob: bytes) -> bytes:
        return self._zstd.decompress(blob)

    def _raw_of(self, blob: bytes | None, part: int | None, row: int | None) -> bytes:
        return stored_bytes(blob, part, row, self.raws, self._decompress)

    def raw(self, uid: str) -> bytes | None:
        """The stored measurement's bytes exactly as they were read, or ``None``."""
        rows = self.con.execute(  # fetchall: DuckDB refuses new work while a result is unfinished
            "SELECT raw, raw_part, raw_row FROM measurements WHERE measurement_uid = ?", [uid]
        ).fetchall()
        return self._raw_of(*rows[0]) if rows else None

    def stored_raws(self, uids: Iterable[str]) -> dict[str, bytes]:
        """The stored bytes of each of ``uids`` that is stored (one query, raw parts read in order)."""
        probe = pa.table({"measurement_uid": pa.array(list(uids), pa.string())})
        self.con.register("_probe_raw", probe)
        try:
            rows = self.con.execute(
                "SELECT m.measurement_uid, m.raw, m.raw_part, m.raw_row FROM measurements m "
                "SEMI JOIN _probe_raw p ON p.measurement_uid = m.measurement_uid ORDER BY m.raw_part, m.raw_row"
            ).fetchall()
        finally:
            self.con.unregister("_probe_raw")
        return {uid: self._raw_of(blob, part, row) for uid, blob, part, row in rows}

    def iter_stale(self, current: CurrentRules | str | Collection[str], *, chunk: int = 500) -> Iterator[list[StoredMeasurement]]:
        """Every measurement whose verdict is missing or stale (``CurrentRules``), in chunks.

        The rows stream from a second cursor (a snapshot taken when the query starts), so verdicts
        can be written on this store's connection while iterating, and memory stays bounded.
        """
        where, params = _stale_where(current)
        cur = self.con.cursor()
        try:
            cur.execute(
                "SELECT m.measurement_uid, m.source, m.raw, m.raw_part, m.raw_row FROM measurements m "
                f"LEFT JOIN verdicts v ON v.measurement_uid = m.measurement_uid WHERE {where} "
                "ORDER BY m.raw_part, m.raw_row",  # each raw row group is then decoded once
                params,
            )
            while rows := cur.fetchmany(chunk):
                yield [StoredMeasurement(uid, src, self._raw_of(blob, part, row))
                       for uid, src, blob, part, row in rows]
        finally:
            cur.close()

    def count_stale(self, current: CurrentRules | str | Collection[str]) -> int:
        where, params = _stale_where(current)
        return _count(self.con.execute(
            f"SELECT count(*) FROM measurements m LEFT JOIN verdicts v USING (measurement_uid) WHERE {where}",
            params,
        ))

    def counts(self) -> dict[str, int]:
        """Row counts of the core tables."""
        return {
            t: _count(self.con.execute(f"SELECT count(*) FROM {t}"))
            for t in ("measurements", "observations", "verdicts")
        }
