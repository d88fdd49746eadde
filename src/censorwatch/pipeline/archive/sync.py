"""Sync OONI's archive (or any S3 bucket of measurement files) into a store, resumably.

``plan`` lists only the prefixes a selection needs (``layout.prefixes``) and keeps the objects the
store has not recorded with the same ETag. ``sync`` streams each object through the store's reader
into ``pipeline.ingest`` (one ingest for the whole run, so batches span objects), and records an
object in ``archive_objects`` once the batch holding its last record is committed. Killed at any
point, the next run fetches the unrecorded objects again, and re-ingesting what was already stored
adds nothing: the store ends with every measurement of the archive exactly once.

An object damaged at the source (truncated, bad lines) is read as far as it goes, its bad records
reported as ``s3://bucket/key:line``, and recorded: fetching it again gives the same bytes. A
transfer that breaks is retried; an object still failing is left unrecorded for the next run.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from censorwatch.pipeline.archive import s3 as s3mod
from censorwatch.pipeline.archive.layout import (
    BUCKET,
    LEGACY_BUCKET,
    Prefix,
    Selection,
    key_info,
    prefixes,
)
from censorwatch.pipeline.archive.records import Record, records
from censorwatch.pipeline.ingest import BATCH_SIZE, IngestStats, ingest
from censorwatch.store import archive_state
from censorwatch.store.db import Store
from censorwatch.store.reader import ReadError

#: attempts per object when the transfer breaks (boto3 retries the request itself; this is mid-body)
ATTEMPTS = 3
#: read-ahead of an object's bytes
READ_BUFFER = 1 << 20
#: progress is reported every this many records (and at every object)
PROGRESS_EVERY = 512
#: read-ahead: while one object is read and classified, the next ones are downloaded by this many
#: threads, at most AHEAD objects and AHEAD_BYTES ahead; objects larger than AHEAD_MAX_OBJECT are not
#: downloaded ahead but streamed when their turn comes. It hides each request's latency (tens of ms
#: to S3, where OONI's hourly objects are often a few KiB) behind classification.
FETCH_THREADS = 4
AHEAD = 16
AHEAD_BYTES = 32 * 2**20
AHEAD_MAX_OBJECT = 8 * 2**20


@dataclass(slots=True)
class Plan:
    """What a sync would fetch: ``objects`` (not recorded, or recorded with another ETag)."""

    objects: list[s3mod.ObjectInfo] = field(default_factory=list)
    prefixes: int = 0
    listed: int = 0
    already: int = 0
    already_bytes: int = 0
    changed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    ccs: frozenset[str] = frozenset()

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.objects)


@dataclass(slots=True)
class SyncStats:
    objects_total: int = 0
    bytes_total: int = 0
    objects_done: int = 0
    objects_failed: int = 0
    bytes_read: int = 0  # of the objects done
    bytes_current: int = 0  # received so far of the object being read
    measurements: int = 0
    filtered: int = 0
    ingest: IngestStats = field(default_factory=IngestStats)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.measurements / self.seconds if self.seconds > 0 else 0.0


Source = Selection | list[Prefix]


def first_raw_day(s3: Any, bucket: str = BUCKET) -> datetime | None:
    """The first day under ``raw/`` (one directory level listed), or ``None`` when there is none."""
    days = sorted(d for d in s3mod.list_dirs(s3, bucket, "raw/") if len(d) == 8 and d.isdigit())
    return datetime.strptime(days[0], "%Y%m%d") if days else None


def plan(store: Store, s3: Any, source: Source, *, bucket: str = BUCKET,
         legacy_bucket: str = LEGACY_BUCKET) -> Plan:
    """List what ``source`` selects (a ``Selection`` of OONI's layouts, or explicit prefixes) and
    keep what the store does not hold yet."""
    if isinstance(source, Selection):
        pfx = list(prefixes(source, lambda b, p: s3mod.list_dirs(s3, b, p), bucket=bucket,
                            legacy_bucket=legacy_bucket))
        sel: Selection | None = source
    else:
        pfx, sel = source, None
    out = Plan(prefixes=len(pfx), ccs=sel.ccs if sel else frozenset())
    for listed in s3mod.list_many(s3, [(p.bucket, p.prefix) for p in pfx]):
        out.listed += len(listed)
        wanted = []
        for obj in listed:
            info = key_info(obj.key)
            if info.kind is None:
                reason = "postcan (the jsonl.gz beside it holds the same)" if obj.key.endswith(".tar.gz") \
                    else "not a measurement object"
                out.skipped[reason] = out.skipped.get(reason, 0) + 1
            elif sel is None or info.matches(sel):
                wanted.append(obj)
        done = archive_state.synced_etags(store.con, (o.url for o in wanted))
        for obj in wanted:
            etag = done.get(obj.url)
            if etag == obj.etag:
                out.already += 1
                out.already_bytes += obj.size
            else:
                out.changed += etag is not None
                out.objects.append(obj)
    return out


@dataclass(slots=True)
class _Open:
    """One object being read: its tallies, kept until the batch with its last record commits."""

    obj: s3mod.ObjectInfo
    good: int = 0
    bad: int = 0
    first_error: str | None = None

    def done(self) -> archive_state.ObjectDone:
        return archive_state.ObjectDone(self.obj.url, self.obj.etag, self.obj.size, self.good, self.bad,
                                        self.first_error)


class _Run:
    def __init__(self, store: Store, s3: Any, p: Plan, on_progress: Callable[[SyncStats], None] | None,
                 retry_wait: float) -> None:
        self.store, self.s3, self.plan = store, s3, p
        self.on_progress = on_progress
        self.retry_wait = retry_wait
        self.stats = SyncStats(objects_total=len(p.objects), bytes_total=p.bytes)
        self.finished: list[_Open] = []
        self.t0 = time.perf_counter()

    def progress(self, current: int = 0) -> None:
        self.stats.seconds = time.perf_counter() - self.t0
        self.stats.bytes_current = current
        if self.on_progress is not None:
            self.on_progress(self.stats)

    def committed(self, _: IngestStats) -> None:
        """Every record handed to ingest so far is committed: the objects read to the end are done."""
        archive_state.record(self.store.con, (o.done() for o in self.finished))
        self.finished.clear()

    def records(self) -> Iterator[Record]:
        objs = self.plan.objects
        pool = ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="s3-fetch")
        ahead: dict[int, Future[bytes]] = {}
        in_flight = nxt = 0
        try:
            for i, obj in enumerate(objs):
                nxt = max(nxt, i)
                while nxt < len(objs) and nxt - i < AHEAD:
                    o = objs[nxt]
                    if o.size <= AHEAD_MAX_OBJECT:
                        if nxt > i and in_flight + o.size > AHEAD_BYTES:
                            break
                        ahead[nxt] = pool.submit(s3mod.fetch_all, self.s3, o)
                        in_flight += o.size
                    nxt += 1
                data = None
                if (fut := ahead.pop(i, None)) is not None:
                    in_flight -= obj.size
                    try:
                        data = fut.result()
                    except Exception:  # fetched again below, where failures are retried and reported
                        data = None
                yield from self._object(obj, data)
                self.progress()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _object(self, obj: s3mod.ObjectInfo, data: bytes | None) -> Iterator[Record]:
        kind = key_info(obj.key).kind or ""
        filter_cc = self.plan.ccs if key_info(obj.key).cc is None else frozenset()
        reported: set[tuple[str, str]] = set()
        for attempt in range(1, ATTEMPTS + 1):
            state = _Open(obj)
            body: s3mod.Body | None = None
            try:
                if data is not None and attempt == 1:
                    body = s3mod.Body(io.BytesIO(data))
                else:
                    body = s3mod.open_object(self.s3, obj)
                with io.BufferedReader(body, READ_BUFFER) as stream:
                    for n, item in enumerate(records(stream, obj.url, kind), 1):
                        if body.error is not None:  # the transfer broke: not the object's fault
                            break
                        if isinstance(item, ReadError):
                            state.bad += 1
                            state.first_error = state.first_error or str(item)
                            if (item.source, item.reason) in reported:
                                continue  # reported by an earlier attempt
                            reported.add((item.source, item.reason))
                        elif filter_cc and item.probe_cc not in filter_cc:
                            self.stats.filtered += 1
                            continue
                        else:
                            state.good += 1
                        yield item
                        if n % PROGRESS_EVERY == 0:
                            self.progress(body.received)
                error = body.error
            except Exception as exc:
                if body is not None and body.error is None and not isinstance(exc, s3mod.ArchiveError):
                    raise  # not a transfer failure: a bug, shown as such
                error = exc
            if error is None:
                self.stats.objects_done += 1
                self.stats.bytes_read += obj.size
                self.stats.measurements += state.good
                self.finished.append(state)
                return
            if attempt < ATTEMPTS and s3mod.worth_retrying(error):
                time.sleep(self.retry_wait * attempt)
                continue
            self.stats.objects_failed += 1
            self.stats.failures.append(f"{obj.url}: {error}")
            return


def sync(
    store: Store,
    s3: Any,
    p: Plan,
    *,
    fingerprints: Any = None,
    batch_size: int = BATCH_SIZE,
    on_error: Callable[[ReadError], None] | None = None,
    on_progress: Callable[[SyncStats], None] | None = None,
    retry_wait: float = 1.0,
) -> SyncStats:
    """Fetch, read and store every object of ``p``; record each one once its records are committed."""
    run = _Run(store, s3, p, on_progress, retry_wait)
    run.progress()
    run.stats.ingest = ingest(store, run.records(), fingerprints=fingerprints, batch_size=batch_size,
                              on_error=on_error, on_flush=run.committed)
    run.stats.seconds = time.perf_counter() - run.t0
    return run.stats


def s3_prefixes(urls: list[str]) -> list[Prefix]:
    """``s3://bucket/prefix`` URLs as prefixes (a key is a prefix of itself)."""
    out = []
    for url in urls:
        if not url.startswith("s3://") or len(url) <= 5:
            raise ValueError(f"{url!r}: expected s3://bucket/prefix")
        bucket, _, prefix = url[5:].partition("/")
        if not bucket:
            raise ValueError(f"{url!r}: no bucket")
        out.append(Prefix(bucket, prefix))
    return out
