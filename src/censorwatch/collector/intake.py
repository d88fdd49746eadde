"""What every process that takes submissions shares, free of any transport: the configuration, the
reply shapes, and ``Intake``, the steps of a submission (rate limit, declared length, body check,
hand-over to the writer, the answer once the writer is done).

Two kinds of ``Intake``: ``app.Collector`` holds the writer itself (one process, ``--workers 1``);
``front.Front`` is an HTTP front-end process that hands checked submissions to the writer process
over a Unix socket (``--workers N``, see collector/procs.py). Both answer the same bytes.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson

from censorwatch.collector.metrics import Metrics
from censorwatch.collector.ratelimit import RateLimiter
from censorwatch.collector.validate import Accepted, Rejection, check
from censorwatch.collector.writer import Outcome
from censorwatch.store.evidence import EvidenceStore

log = logging.getLogger(__name__)

JSON = b"application/json"
METRICS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
SUBMIT_PATH = "/api/v1/measurements"
MEASUREMENT_PREFIX = SUBMIT_PATH + "/"
INLINE_CHECK_BYTES = 256 * 1024
Headers = list[tuple[bytes, bytes]]
#: status, content type, body, extra headers
Reply = tuple[int, bytes, bytes, Headers]
NO_HEADERS: Headers = []
CommitFuture = asyncio.Future[tuple[Outcome, bytes]]


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    """``evidence_dir`` says where; every other field is a plain setting (sent as is to front-ends)."""

    evidence_dir: Path
    max_body_bytes: int = 4 * 1024 * 1024
    queue_size: int = 8192
    max_batch: int = 1024
    client_rate: float = 50.0  # requests per second per client address (per process); 0 disables
    client_burst: float = 200.0
    commit_timeout: float = 30.0

    def settings(self) -> dict[str, Any]:
        """Every field but ``evidence_dir``: ``CollectorConfig(evidence_dir=..., **settings)``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "evidence_dir"}

    @property
    def db_path(self) -> Path:
        return self.evidence_dir / "evidence.sqlite"

    @property
    def key_path(self) -> Path:
        return self.evidence_dir / "log_key.pem"


class WriterBusy(Exception):
    """The writer's queue is full: ``429`` + Retry-After."""


class WriterGone(Exception):
    """The writer process went away before answering: whether it stored the submission is unknown."""


class StorageFailed(OSError):
    """The writer process could not commit (its disk error's name is the message)."""


def one_line(exc: BaseException) -> str:
    """An exception as one log line: its type, message and where it was raised (no traceback)."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {str(exc)[:200]}{where}"


def error_reply(status: int, code: str, reason: str, location: str = "$", headers: Headers | None = None) -> Reply:
    return status, JSON, Rejection(status, code, reason, location).body(), headers or NO_HEADERS


def not_found() -> Reply:
    return error_reply(404, "not_found", "no such endpoint", "{path}")


def method_not_allowed(allow: str) -> Reply:
    return error_reply(405, "method_not_allowed", f"use {allow}", "{method}", [(b"allow", allow.encode())])


def unknown_uid() -> Reply:
    return error_reply(404, "not_found", "no measurement with this uid in the log", "{uid}")


def internal_error() -> Reply:
    """A bug on our side (logged where it happened): never the answer to bad input."""
    return error_reply(500, "internal_error", "the collector failed on this request")


GetHandler = Callable[[dict[str, str]], "Reply | asyncio.Future[Reply]"]


class Intake:
    """The steps of a submission. Subclasses hand accepted submissions to the writer (``enqueue``),
    open ``reader`` (the evidence store, read-only) and fill ``gets`` (path -> handler of the parsed
    query)."""

    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.limiter = RateLimiter(config.client_rate, config.client_burst)
        self.gets: dict[str, GetHandler] = {}
        self.reader: EvidenceStore | None = None

    def _reject(self, rej: Rejection, headers: Headers | None = None) -> Reply:
        self.metrics.rejected[rej.code] += 1
        return rej.status, JSON, rej.body(), headers or NO_HEADERS

    # --- POST /api/v1/measurements, in three steps ---------------------------------------------------
    def admit(self, client: str) -> Reply | None:
        """The per-client rate limit, before the body is read: ``None`` when allowed."""
        wait = self.limiter.take(client)
        if not wait:
            return None
        return self._reject(
            Rejection(429, "rate_limited", f"over {self.limiter.rate:g} submissions/s for {client}"),
            [(b"retry-after", RateLimiter.retry_after(wait).encode())],
        )

    def check_length(self, declared: bytes | None) -> Reply | None:
        """The declared Content-Length, before the body is read: ``None`` when acceptable."""
        if declared is None:
            return None
        if not declared.isdigit():
            return self._reject(Rejection(400, "bad_content_length", "Content-Length is not a number"))
        if len(declared) > 18 or int(declared) > self.config.max_body_bytes:
            return self.too_large(declared.decode("ascii")[:40])
        return None

    def too_large(self, size: str | None = None) -> Reply:
        limit = self.config.max_body_bytes
        what = f"body of {size} bytes" if size else "body"
        return self._reject(Rejection(413, "too_large", f"{what} is over the {limit}-byte limit"))

    async def accept(self, body: bytes, t0: float) -> Reply:
        """Validate, queue for the writer, wait for the durable commit; ``t0`` = when the request began."""
        if len(body) < INLINE_CHECK_BYTES:
            acc = self.prepare(body)
        else:  # a large body is checked in a thread so it does not hold up everyone else's requests
            acc = await asyncio.to_thread(self.prepare, body)
        if not isinstance(acc, Accepted):
            return acc
        fut = self.enqueue(acc)
        if not isinstance(fut, asyncio.Future):
            return fut
        try:
            async with asyncio.timeout(self.config.commit_timeout):
                await asyncio.shield(fut)
        except TimeoutError:
            return self.timeout_reply()
        except Exception:  # answered from the future below
            pass
        return self.answer(acc, fut, t0)

    # the same in steps, for a transport that drives them with callbacks (collector/http.py)
    def prepare(self, body: bytes) -> Accepted | Reply:
        """The body's check: an ``Accepted``, or the 4xx reply. Whatever else the check raises on a
        body is that body's fault as far as the client can tell: 422 ``unprocessable`` with the
        exception's name, one log line (no traceback), counted in /metrics like every rejection."""
        try:
            return check(body)
        except Rejection as rej:
            return self._reject(rej)
        except Exception as exc:
            log.warning("submission refused as unprocessable (%d bytes): %s", len(body), one_line(exc))
            return self._reject(Rejection(422, "unprocessable",
                                          f"the measurement could not be checked ({type(exc).__name__})"))

    def enqueue(self, acc: Accepted) -> CommitFuture | Reply:
        """Hand to the writer: a future of (outcome, receipt), or a ``Reply`` (429) at once."""
        raise NotImplementedError

    def queue_full(self) -> Reply:
        return self._reject(Rejection(429, "queue_full", "the collector is busy; retry later"), [(b"retry-after", b"1")])

    def timeout_reply(self) -> Reply:
        return error_reply(503, "commit_timeout", "not yet stored; retry (a retry is answered 200 if it was)",
                           headers=[(b"retry-after", b"5")])

    def answer(self, acc: Accepted, fut: CommitFuture, t0: float) -> Reply:
        """The reply once the writer's future is done (committed, duplicate, conflict or a disk error)."""
        exc = fut.exception()
        if exc is not None:
            if isinstance(exc, WriterBusy):
                return self.queue_full()
            if isinstance(exc, WriterGone):
                return error_reply(503, "unavailable", "the writer stopped before confirming; retry (a retry "
                                   "is answered 200 if it was stored)", headers=[(b"retry-after", b"5")])
            if isinstance(exc, OSError | sqlite3.Error):  # the disk, not the input: nothing of that batch was stored
                self.metrics.rejected["storage_error"] += 1
                kind = str(exc) if isinstance(exc, StorageFailed) else type(exc).__name__
                return error_reply(503, "storage_error", f"not stored ({kind}); retry later",
                                   headers=[(b"retry-after", b"10")])
            raise exc
        outcome, receipt = fut.result()
        if outcome is Outcome.CONFLICT:
            return self._reject(Rejection(
                409, "uid_conflict",
                f"measurement_uid {acc.measurement_uid!r} is already in the log with different content",
                "$.measurement_uid",
            ))
        out = b'{"measurement_uid":' + orjson.dumps(acc.measurement_uid) + b',"receipt":' + receipt + b"}"
        if outcome is Outcome.CREATED:
            self.metrics.accepted += 1
        else:
            self.metrics.duplicates += 1
        self.metrics.latency.observe(time.perf_counter() - t0)
        return 201 if outcome is Outcome.CREATED else 200, JSON, out, NO_HEADERS

    # --- reads ---------------------------------------------------------------------------------------
    def get(self, path: str, query: str) -> Reply | asyncio.Future[Reply]:
        """Every GET (and HEAD): ``path`` percent-decoded, ``query`` the raw query string."""
        handler = self.gets.get(path)
        if handler is not None:
            return handler(dict(parse_qsl(query, keep_blank_values=True)) if query else {})
        if path.startswith(MEASUREMENT_PREFIX) and "/" not in path[len(MEASUREMENT_PREFIX):] \
                and len(path) > len(MEASUREMENT_PREFIX):
            return self.measurement(path[len(MEASUREMENT_PREFIX):])
        if path == SUBMIT_PATH:
            return method_not_allowed("POST")
        return not_found()

    def measurement(self, uid: str) -> Reply:
        """``GET /api/v1/measurements/{uid}``: the stored canonical bytes."""
        assert self.reader is not None
        body = self.reader.body(uid)
        return unknown_uid() if body is None else (200, JSON, body, NO_HEADERS)
