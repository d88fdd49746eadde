"""Ingest: read measurements, keep them, classify them and write everything in batches, one pass.

Per batch: drop uids already in the batch or in the store (re-ingesting adds nothing and classifies
nothing), build the column rows (compressed raw bytes, flat observations, the verdict) and write
them with one ``Store.write``. Bad records are counted and handed to ``on_error``; they never stop
the rest: whatever one record raises (no uid, no rows) is that record's error.

A uid already seen with the same content (byte for byte, or the same JSON value in another layout)
is a duplicate; the same uid with different content is a *conflict*: reported, never stored, and
the stored measurement is kept as it is (the collector answers 409 for the same thing).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from censorwatch import analysis
from censorwatch.model.measurement import Measurement
from censorwatch.store.db import Store
from censorwatch.store.reader import ReadError
from censorwatch.store.rows import RowBatch
from censorwatch.store.uid import NoUid, stable_uid

#: Measurements per write. A batch is held decoded until it is written (so measurements already
#: stored are found before any work is spent on them): ~5x its raw size in Python objects, plus its
#: column rows while it is written. 2,000 keeps that near 100 MiB at OONI's usual 5 KiB a
#: measurement, as fast as 5,000 (which peaked 120 MiB higher) in benchmarks/ingest_memory.py.
BATCH_SIZE = 2000
#: also flush once the batch holds this many raw bytes: decoded JSON takes several times its size
#: in memory, and real measurements range from 1 KiB to several MiB (bodies up to 512 KiB each)
BATCH_BYTES = 12 * 2**20


@dataclass(slots=True)
class IngestStats:
    """``read`` = good + bad records seen; every good one is ``new``, a ``duplicate`` or a ``conflict``
    (its uid is taken by different content); ``bad`` counts records that could not be stored."""

    read: int = 0
    new: int = 0
    duplicates: int = 0
    conflicts: int = 0
    bad: int = 0
    unclassified: int = 0
    observations: int = 0
    seconds: float = 0.0
    by_test: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.read / self.seconds if self.seconds > 0 else 0.0


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch of decoded measurements is alive.

    Decoded JSON holds no reference cycles, so reference counting frees it all; but tens of
    thousands of live dicts make every collection walk them again (measured: JSON decoding alone
    ran ~3x slower with the collector on).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def raw_bytes_of(m: Measurement) -> bytes:
    """The bytes the reader read the measurement from (or its compact JSON when unknown)."""
    return m.raw_bytes if m.raw_bytes is not None else orjson.dumps(m.raw)


def ingest(
    store: Store,
    items: Iterable[Measurement | ReadError],
    *,
    fingerprints: Any = None,
    classify: bool = True,
    batch_size: int = BATCH_SIZE,
    on_error: Callable[[ReadError], None] | None = None,
    on_flush: Callable[[IngestStats], None] | None = None,
) -> IngestStats:
    """Store every measurement in ``items`` not stored yet, with its observations and verdict.

    ``on_flush(stats)`` runs after each batch is committed: every item taken from ``items`` before
    it is then in the store (or was bad, or a duplicate).
    """
    stats = IngestStats()
    t0 = time.perf_counter()
    with no_cyclic_gc():
        _ingest(store, items, stats, fingerprints, classify, batch_size, on_error, on_flush)
    stats.seconds = time.perf_counter() - t0
    return stats


#: the most raw bytes one batch handed to a running observatory carries
SERVICE_BATCH_BYTES = 16 * 2**20
_STAT_COUNTS = ("read", "new", "duplicates", "conflicts", "bad", "unclassified", "observations")


def ingest_through(
    send: Callable[[list[tuple[str, bytes]]], dict[str, Any]],
    items: Iterable[Measurement | ReadError],
    *,
    batch_size: int = BATCH_SIZE,
    on_error: Callable[[ReadError], None] | None = None,
    on_remote_error: Callable[[str], None] | None = None,
) -> IngestStats:
    """Hand the good measurements of ``items`` to a running observatory in batches of (source, raw
    bytes); ``send`` delivers one batch and returns its statistics. Bad records are reported here
    (``on_error``, with file:line), the service's own errors through ``on_remote_error``; the
    statistics of every batch are added up."""
    total = IngestStats()
    batch: list[tuple[str, bytes]] = []
    size = 0

    def flush() -> None:
        nonlocal batch, size
        if batch:
            res = send(batch)
            for k in _STAT_COUNTS:
                setattr(total, k, getattr(total, k) + int(res.get(k, 0)))
            total.seconds += float(res.get("seconds", 0.0))
            if on_remote_error is not None:
                for e in res.get("errors", []):
                    on_remote_error(str(e))
        batch, size = [], 0

    for item in items:
        if isinstance(item, ReadError):
            total.read += 1
            _report(total, on_error, item)
            continue
        raw = raw_bytes_of(item)
        batch.append((item.source or "-", raw))
        size += len(raw)
        if len(batch) >= batch_size or size >= SERVICE_BATCH_BYTES:
            flush()
    flush()
    return total


def _report(stats: IngestStats, on_error: Callable[[ReadError], None] | None, err: ReadError) -> None:
    stats.bad += 1
    if on_error is not None:
        on_error(err)


def same_content(stored: bytes, new: bytes) -> bool:
    """The same measurement: equal bytes, or the same JSON value written another way."""
    if stored == new:
        return True
    try:
        return bool(orjson.loads(stored) == orjson.loads(new))
    except orjson.JSONDecodeError:
        return False


def _order(m: Measurement) -> tuple[str, int]:
    """Input order for reports: ``path:line`` sorted by path, then by line number."""
    src = m.source or ""
    path, _, line = src.rpartition(":")
    return (path, int(line)) if line.isdigit() else (src, 0)


def _conflict(stats: IngestStats, on_error: Callable[[ReadError], None] | None, uid: str, m: Measurement,
              where: str) -> None:
    stats.conflicts += 1
    if on_error is not None:
        on_error(ReadError(m.source or uid, f"conflict: measurement_uid {uid!r} is {where} with different "
                                            "content; not stored (the first one is kept)"))


def _ingest(
    store: Store,
    items: Iterable[Measurement | ReadError],
    stats: IngestStats,
    fingerprints: Any,
    classify: bool,
    batch_size: int,
    on_error: Callable[[ReadError], None] | None,
    on_flush: Callable[[IngestStats], None] | None,
) -> None:
    pending: dict[str, Measurement] = {}
    repeats: list[tuple[str, Measurement]] = []  # a uid already pending: judged at the flush
    pending_bytes = 0
    for item in items:
        stats.read += 1
        if isinstance(item, ReadError):
            _report(stats, on_error, item)
            continue
        try:
            uid = stable_uid(item)
        except NoUid as exc:
            _report(stats, on_error, ReadError(item.source or "-", f"no uid for this record: {exc}"))
            continue
        except Exception as exc:  # whatever one record raises is that record's error
            _report(stats, on_error, ReadError(item.source or "-", f"no uid for this record: {exc!r}"))
            continue
        if uid in pending:
            repeats.append((uid, item))
            continue
        pending[uid] = item
        pending_bytes += len(item.raw_bytes) if item.raw_bytes is not None else 0
        if len(pending) >= batch_size or pending_bytes >= BATCH_BYTES:
            _flush(store, pending, repeats, stats, fingerprints, classify, on_error)
            pending, repeats = {}, []
            pending_bytes = 0
            if on_flush is not None:
                on_flush(stats)
    if pending:
        _flush(store, pending, repeats, stats, fingerprints, classify, on_error)
    if on_flush is not None:
        on_flush(stats)


def _flush(
    store: Store,
    pending: dict[str, Measurement],
    repeats: list[tuple[str, Measurement]],
    stats: IngestStats,
    fingerprints: Any,
    classify: bool,
    on_error: Callable[[ReadError], None] | None,
) -> None:
    existing = store.existing_uids(pending)
    # A uid derived from the content (no measurement_uid) is the same only for the same content; a
    # uid the measurement carries must be checked: against the stored bytes, else the batch's first.
    claimed = [(uid, m) for uid, m in [*((u, pending[u]) for u in existing), *repeats] if m.measurement_uid]
    stats.duplicates += len(existing) + len(repeats) - len(claimed)
    stored = store.stored_raws({uid for uid, _ in claimed if uid in existing}) if claimed else {}
    for uid, m in sorted(claimed, key=lambda um: _order(um[1])):
        reference = stored.get(uid)
        if reference is None:
            reference = raw_bytes_of(pending[uid])
        if same_content(reference, raw_bytes_of(m)):
            stats.duplicates += 1
        else:
            _conflict(stats, on_error, uid, m, "already stored" if uid in stored else "earlier in this input")
    batch = RowBatch()
    for uid, m in pending.items():
        if uid in existing:
            continue
        try:
            batch.add_measurement(uid, m, raw_bytes_of(m))
        except Exception as exc:  # the batch is left as it was before this record
            _report(stats, on_error, ReadError(m.source or uid, f"cannot store this record: {exc!r}"))
            continue
        stats.by_test[m.test_name] = stats.by_test.get(m.test_name, 0) + 1
        if not classify:
            continue
        try:
            v = analysis.classify(m, fingerprints)
            if v.measurement_uid is None:
                v.measurement_uid = uid
            batch.add_verdict(uid, v, m.measurement_start_time)
        except Exception as exc:  # a rule bug must not lose the measurement; analyze retries it
            stats.unclassified += 1
            if on_error is not None:
                on_error(ReadError(m.source or uid, f"stored, but classification failed: {exc!r}"))
    res = store.write(batch)
    stats.new += res.measurements
    stats.observations += res.observations
    stats.duplicates += len(batch) - res.measurements  # stored by someone else since the lookup
