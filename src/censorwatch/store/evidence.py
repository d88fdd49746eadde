"""Durable storage of the collector's evidence log: accepted measurements, log leaves, tree heads.

SQLite in WAL mode beside the DuckDB database (``<db>.evidence/evidence.sqlite``). One process writes
(the collector's single writer, one transaction per batch with ``synchronous=FULL``: when
``append_batch`` returns, the batch is on disk); any number of readers, in the writer's process or in
others, read committed snapshots without ever blocking it. A batch's leaves, their receipts and the
tree head that covers them commit in one transaction, so a crash leaves either all or none of a batch.

Bodies are the measurements' canonical bytes, zstd-compressed; ``body`` returns them exactly.

Reaching the DuckDB store is pull-based (``censorwatch collector ingest``): ``measurements`` reads
leaves from a watermark kept in the DuckDB ``meta`` table (``collector_next_leaf:<log_id>``), the
ingest pipeline stores and classifies them, then the watermark moves. Ingestion is idempotent
(stable uids), so a crash between the two only means some leaves are read twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import zstandard

from censorwatch.model.measurement import InvalidMeasurement, Measurement
from censorwatch.store.reader import ReadError

if TYPE_CHECKING:
    from censorwatch.store.db import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (
    idx INTEGER PRIMARY KEY,
    measurement_uid TEXT NOT NULL UNIQUE,
    leaf_hash BLOB NOT NULL UNIQUE,
    received_at INTEGER NOT NULL,
    body BLOB NOT NULL,
    receipt BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS sth (
    tree_size INTEGER PRIMARY KEY,
    timestamp INTEGER NOT NULL,
    document BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


def evidence_dir(db: Path) -> Path:
    """Where the evidence log of the DuckDB database ``db`` lives."""
    return db.with_name(db.name + ".evidence")


@dataclass(frozen=True, slots=True)
class Leaf:
    idx: int
    measurement_uid: str
    leaf_hash: bytes
    received_at: int
    body: bytes  # canonical bytes, uncompressed
    receipt: bytes  # the receipt's JSON
    stored: bytes | None = None  # ``body`` compressed by ``compressor()`` ahead of time (then ``body`` may be empty)


def compressor() -> Callable[[bytes], bytes]:
    """How a body is compressed for the ``leaves`` table (zstd level 1), for a process that prepares
    leaves for the writer (the collector's front-ends). One per thread."""
    return zstandard.ZstdCompressor(level=1).compress


@dataclass(frozen=True, slots=True)
class LeafRef:
    idx: int
    leaf_hash: bytes
    receipt: bytes


class EvidenceStore:
    """One SQLite connection. Use one instance per thread (the writer has its own)."""

    def __init__(self, path: Path, *, readonly: bool = False, autocheckpoint: bool = True) -> None:
        """``autocheckpoint=False``: commits never copy the WAL back into the database file (SQLite
        does that inside the commit every 1,000 pages); run ``checkpoint`` from elsewhere instead."""
        self.path = path
        if readonly:
            if not path.exists():
                raise FileNotFoundError(f"{path}: no evidence log here")
            self._con = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=FULL")
            if not autocheckpoint:
                self._con.execute("PRAGMA wal_autocheckpoint=0")
            self._con.executescript(_SCHEMA)
        self._con.execute("PRAGMA busy_timeout=5000")
        self._compress = compressor()
        self._zd = zstandard.ZstdDecompressor()

    def close(self) -> None:
        self._con.close()

    def checkpoint(self) -> None:
        """Copy committed WAL frames into the database file without blocking readers or the writer
        (``PASSIVE``); the WAL starts over once every frame is copied and no reader needs it."""
        self._con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    # --- reads -------------------------------------------------------------------------------------
    def count(self) -> int:
        (n,) = self._con.execute("SELECT count(*) FROM leaves").fetchone()
        return int(n)

    def by_uid(self, uid: str) -> LeafRef | None:
        row = self._con.execute(
            "SELECT idx, leaf_hash, receipt FROM leaves WHERE measurement_uid = ?", (uid,)
        ).fetchone()
        return LeafRef(row[0], row[1], row[2]) if row else None

    def by_uids(self, uids: list[str]) -> dict[str, LeafRef]:
        """The stored leaves among ``uids`` (one query for a whole batch)."""
        found: dict[str, LeafRef] = {}
        for i in range(0, len(uids), 900):
            chunk = uids[i : i + 900]
            marks = ",".join("?" * len(chunk))
            for uid, idx, h, receipt in self._con.execute(
                f"SELECT measurement_uid, idx, leaf_hash, receipt FROM leaves WHERE measurement_uid IN ({marks})",
                chunk,
            ):
                found[uid] = LeafRef(idx, h, receipt)
        return found

    def by_hash(self, leaf_hash: bytes) -> LeafRef | None:
        row = self._con.execute(
            "SELECT idx, leaf_hash, receipt FROM leaves WHERE leaf_hash = ?", (leaf_hash,)
        ).fetchone()
        return LeafRef(row[0], row[1], row[2]) if row else None

    def body(self, uid: str) -> bytes | None:
        row = self._con.execute("SELECT body FROM leaves WHERE measurement_uid = ?", (uid,)).fetchone()
        return self._zd.decompress(row[0]) if row else None

    def leaf_hashes(self) -> Iterator[tuple[int, bytes]]:
        yield from self._con.execute("SELECT idx, leaf_hash FROM leaves ORDER BY idx")

    def leaves(self, start: int = 0, limit: int | None = None) -> Iterator[Leaf]:
        sql = "SELECT idx, measurement_uid, leaf_hash, received_at, body, receipt FROM leaves WHERE idx >= ? ORDER BY idx"
        args: tuple[int, ...] = (start,)
        if limit is not None:
            sql += " LIMIT ?"
            args = (start, limit)
        for idx, uid, h, ts, body, receipt in self._con.execute(sql, args):
            yield Leaf(idx, uid, h, ts, self._zd.decompress(body), receipt)

    def latest_sth(self) -> bytes | None:
        row = self._con.execute("SELECT value FROM meta WHERE key = 'latest_sth'").fetchone()
        return row[0] if row else None

    def sth_history(self) -> list[bytes]:
        return [r[0] for r in self._con.execute("SELECT document FROM sth ORDER BY tree_size")]

    def integrity_problems(self) -> list[str]:
        """SQLite's own integrity check plus: leaf indexes are exactly 0..n-1."""
        problems = [r[0] for r in self._con.execute("PRAGMA integrity_check") if r[0] != "ok"]
        n, lo, hi = self._con.execute("SELECT count(*), min(idx), max(idx) FROM leaves").fetchone()
        if n and (lo != 0 or hi != n - 1):
            problems.append(f"leaf indexes are not contiguous: {n} rows span {lo}..{hi}")
        return problems

    # --- writes (the single writer only) -----------------------------------------------------------
    def append_batch(
        self,
        leaves: list[Leaf],
        sth: tuple[int, int, bytes],
        *,
        keep_sth_in_history: bool,
    ) -> None:
        """Commit ``leaves`` and the tree head covering them in one durable transaction."""
        self.stage_batch(leaves, sth, keep_sth_in_history=keep_sth_in_history)
        self.commit()

    def stage_batch(
        self,
        leaves: list[Leaf],
        sth: tuple[int, int, bytes],
        *,
        keep_sth_in_history: bool,
    ) -> None:
        """Open a transaction and write ``leaves`` + the tree head into it, uncommitted: ``commit``
        makes it durable (the collector's writer calls that one in a thread: it is the fsync),
        ``rollback`` drops it. Rolled back already if this raises."""
        tree_size, ts, doc = sth
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        try:
            con.executemany(
                "INSERT INTO leaves (idx, measurement_uid, leaf_hash, received_at, body, receipt)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (lf.idx, lf.measurement_uid, lf.leaf_hash, lf.received_at,
                     self._compress(lf.body) if lf.stored is None else lf.stored, lf.receipt)
                    for lf in leaves
                ],
            )
            con.execute(
                "INSERT INTO meta (key, value) VALUES ('latest_sth', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (doc,),
            )
            if keep_sth_in_history:
                con.execute(
                    "INSERT OR REPLACE INTO sth (tree_size, timestamp, document) VALUES (?, ?, ?)",
                    (tree_size, ts, doc),
                )
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def commit(self) -> None:
        """Commit the staged batch (``synchronous=FULL``: on disk when this returns); rolled back if
        the commit fails."""
        try:
            self._con.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise

    def rollback(self) -> None:
        if self._con.in_transaction:
            self._con.execute("ROLLBACK")

    def put_sth(self, sth: tuple[int, int, bytes]) -> None:
        """Record a tree head without new leaves (the first start's empty tree)."""
        self.append_batch([], sth, keep_sth_in_history=True)


class WalCheckpointer:
    """A thread with its own connection checkpointing the WAL every ``interval`` seconds, so the
    writer's commits (``autocheckpoint=False``) never pay for copying pages into the database file
    (measured: that copy made the slowest commits 15-40 ms under sustained load)."""

    def __init__(self, path: Path, interval: float = 0.5) -> None:
        self._store = EvidenceStore(path)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evidence-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(sqlite3.Error):  # busy or locked: the next round catches up
                self._store.checkpoint()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(sqlite3.Error):
            self._store.checkpoint()
        self._store.close()


def measurements(ev: EvidenceStore, start: int, end: int) -> Iterator[Measurement | ReadError]:
    """Leaves ``start`` to ``end - 1`` as measurements (``source`` = ``collector:<leaf index>``; the raw
    bytes kept are the canonical bytes the log hashed)."""
    for leaf in ev.leaves(start, max(0, end - start)):
        where = f"collector:{leaf.idx}"
        try:
            yield Measurement.from_raw(orjson.loads(leaf.body), source=where, raw_bytes=leaf.body)
        except (orjson.JSONDecodeError, InvalidMeasurement) as exc:
            yield ReadError(where, str(exc))


def _watermark_key(log_id: str) -> str:
    return f"collector_next_leaf:{log_id}"


def ingest_watermark(store: Store, log_id: str) -> int:
    """The first leaf of log ``log_id`` not yet ingested into ``store``."""
    row = store.con.execute("SELECT value FROM meta WHERE key = ?", [_watermark_key(log_id)]).fetchall()
    return int(row[0][0]) if row else 0


def set_ingest_watermark(store: Store, log_id: str, next_leaf: int) -> None:
    store.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_watermark_key(log_id), str(next_leaf)]).fetchall()
