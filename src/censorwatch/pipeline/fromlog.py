"""The collector's evidence log -> the DuckDB store: one incremental pass, used by ``censorwatch
collector ingest`` and by the observatory's store loop.

The store remembers, per log, the first leaf it has not ingested yet (``store/evidence.py``'s
watermark in the ``meta`` table). A pass reads the leaves from there up to the latest signed tree
head in chunks; each chunk is stored and classified (``pipeline.ingest``) and then the watermark
moves past it. Ingestion is idempotent (stable uids), so a crash between a chunk's write and its
watermark only means those leaves are read again: each is stored once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from censorwatch.model.measurement import Measurement
from censorwatch.pipeline.ingest import IngestStats, ingest
from censorwatch.store.db import Store
from censorwatch.store.evidence import (
    EvidenceStore,
    evidence_dir,
    ingest_watermark,
    measurements,
    set_ingest_watermark,
)
from censorwatch.store.reader import ReadError

#: leaves per chunk: the watermark moves after each, so a long backlog is never redone from its start
CHUNK = 5000


class NoLog(FileNotFoundError):
    """There is no evidence log beside the database (the collector never ran)."""


@dataclass(slots=True)
class LogIngest:
    """One pass: leaves ``start`` .. ``end - 1`` of log ``log_id`` (signed size ``end``)."""

    log_id: str
    start: int
    end: int
    stats: IngestStats = field(default_factory=IngestStats)


def log_path(db: Path) -> Path:
    return evidence_dir(db) / "evidence.sqlite"


def signed_head(ev: EvidenceStore) -> tuple[str, int]:
    """(log id, tree size) of the latest signed tree head ('', 0 for an empty log)."""
    sth = orjson.loads(ev.latest_sth() or b"{}")
    return str(sth.get("log_id", "")), int(sth.get("tree_size", 0))


def log_size(db: Path) -> int | None:
    """The signed size of the log beside ``db``, None when there is no log."""
    path = log_path(db)
    if not path.exists():
        return None
    ev = EvidenceStore(path, readonly=True)
    try:
        return signed_head(ev)[1]
    finally:
        ev.close()


def ingest_from_log(
    store: Store,
    *,
    fingerprints: Any = None,
    chunk: int = CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
    on_error: Callable[[ReadError], None] | None = None,
    evidence: Path | None = None,
) -> LogIngest:
    """Store and classify every leaf the log signed since the last pass (``NoLog`` without a log).

    ``evidence``: the log's SQLite file (default: the one beside ``store``'s database);
    ``on_progress(done, total)`` reports leaves read; ``on_error`` gets each leaf that is not a
    measurement."""
    path = evidence or log_path(store.path)
    if not path.exists():
        raise NoLog(f"{path}: no evidence log here (has the collector run?)")
    ev = EvidenceStore(path, readonly=True)
    try:
        log_id, size = signed_head(ev)
        start = ingest_watermark(store, log_id)
        run = LogIngest(log_id, start, max(start, size))
        for lo in range(start, size, chunk):
            hi = min(size, lo + chunk)
            items: Iterator[Measurement | ReadError] = measurements(ev, lo, hi)
            if on_progress is not None:
                items = _counted(items, lo - start, size - start, on_progress)
            _add(run.stats, ingest(store, items, fingerprints=fingerprints, on_error=on_error))
            set_ingest_watermark(store, log_id, hi)
        return run
    finally:
        ev.close()


def _counted(items: Iterator[Measurement | ReadError], done: int, total: int,
             report: Callable[[int, int], None]) -> Iterator[Measurement | ReadError]:
    for item in items:
        done += 1
        report(done, total)
        yield item


def _add(total: IngestStats, part: IngestStats) -> None:
    total.read += part.read
    total.new += part.new
    total.duplicates += part.duplicates
    total.bad += part.bad
    total.unclassified += part.unclassified
    total.observations += part.observations
    total.seconds += part.seconds
    for k, v in part.by_test.items():
        total.by_test[k] = total.by_test.get(k, 0) + v
