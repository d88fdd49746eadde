"""Which objects of a remote archive are in the store (table ``archive_objects``, store/schema.py).

An object is recorded only after every record read from it is committed, so a sync that stops at
any point leaves the objects it was reading unrecorded, and the next sync fetches them again
(re-ingesting a measurement adds nothing). A recorded object whose ETag has changed since is
fetched again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class ObjectDone:
    url: str
    etag: str
    size: int
    measurements: int
    bad: int
    first_error: str | None = None


def synced_etags(con: Any, urls: Iterable[str]) -> dict[str, str]:
    """``{url: etag}`` of the objects among ``urls`` already recorded."""
    probe = pa.table({"url": pa.array(list(urls), pa.string())})
    con.register("_probe_urls", probe)
    try:
        rows = con.execute(
            "SELECT a.url, a.etag FROM archive_objects a SEMI JOIN _probe_urls p ON p.url = a.url"
        ).fetchall()
    finally:
        con.unregister("_probe_urls")
    return {u: e for u, e in rows}


def record(con: Any, done: Iterable[ObjectDone]) -> int:
    """Record finished objects (replacing an earlier row of the same url); returns how many."""
    rows = list(done)
    if not rows:
        return 0
    now = datetime.now(UTC).replace(tzinfo=None)
    table = pa.table({
        "url": [d.url for d in rows], "etag": [d.etag for d in rows], "size": [d.size for d in rows],
        "measurements": pa.array([d.measurements for d in rows], pa.int32()),
        "bad": pa.array([d.bad for d in rows], pa.int32()),
        "first_error": pa.array([d.first_error for d in rows], pa.string()),
    })
    con.register("_done", table)
    try:
        con.execute(
            "INSERT OR REPLACE INTO archive_objects (url, etag, size, measurements, bad, first_error, synced_at) "
            "SELECT url, etag, size, measurements, bad, first_error, ?::TIMESTAMP FROM _done", [now]
        ).fetchall()
    finally:
        con.unregister("_done")
    return len(rows)


def summary(con: Any) -> dict[str, int]:
    """Objects, bytes and measurements recorded so far."""
    row = con.execute(
        "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(measurements), 0), coalesce(sum(bad), 0) "
        "FROM archive_objects"
    ).fetchall()[0]
    return {"objects": int(row[0]), "bytes": int(row[1]), "measurements": int(row[2]), "bad": int(row[3])}
