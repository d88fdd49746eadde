"""The collector's HTTP API (Starlette). Endpoints:

- ``POST /api/v1/measurements``: one measurement; 201 once durable, 200 for a duplicate (same receipt),
  4xx with ``{"error", "reason", "location"}`` for bad input, 429 + Retry-After for overload/rate limit.
- ``GET /api/v1/measurements/{uid}``: the stored canonical bytes.
- ``GET /api/v1/log/sth``, ``/api/v1/log/key``, ``/api/v1/log/proof/inclusion``,
  ``/api/v1/log/proof/consistency``; ``GET /metrics`` (Prometheus text).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from censorwatch.collector.keys import LogSigner, load_or_create_key, public_key_document
from censorwatch.collector.metrics import Metrics
from censorwatch.collector.ratelimit import RateLimiter
from censorwatch.collector.validate import Rejection, check
from censorwatch.collector.writer import LogWriter, Outcome
from censorwatch.store.evidence import EvidenceStore

JSON = "application/json"
_INLINE_CHECK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    evidence_dir: Path
    max_body_bytes: int = 4 * 1024 * 1024
    queue_size: int = 8192
    max_batch: int = 1024
    client_rate: float = 50.0  # requests per second per client address; 0 disables
    client_burst: float = 200.0
    commit_timeout: float = 30.0

    @property
    def db_path(self) -> Path:
        return self.evidence_dir / "evidence.sqlite"

    @property
    def key_path(self) -> Path:
        return self.evidence_dir / "log_key.pem"


def _json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status, headers=headers, media_type=JSON)


def _error(status: int, code: str, reason: str, location: str = "$", headers: dict[str, str] | None = None) -> Response:
    return Response(Rejection(status, code, reason, location).body(), status, headers=headers, media_type=JSON)


class Collector:
    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.signer = LogSigner(load_or_create_key(config.key_path))
        self.key_document = public_key_document(self.signer.public)
        self.writer = LogWriter(
            config.db_path, self.signer, self.metrics, queue_size=config.queue_size, max_batch=config.max_batch
        )
        self.limiter = RateLimiter(config.client_rate, config.client_burst)
        self.reader: EvidenceStore | None = None
        self.metrics.gauges["queue_depth"] = lambda: self.writer.queue.qsize()
        self.metrics.gauges["tree_size"] = lambda: self.writer.size

    # --- lifecycle -----------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await self.writer.start()
        self.reader = EvidenceStore(self.config.db_path, readonly=True)
        try:
            yield
        finally:
            await self.writer.stop()
            self.reader.close()

    def _reject(self, rej: Rejection, headers: dict[str, str] | None = None) -> Response:
        self.metrics.rejected[rej.code] += 1
        return Response(rej.body(), rej.status, headers=headers, media_type=JSON)

    # --- POST /api/v1/measurements -------------------------------------------------------------------
    async def _read_body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Rejection(400, "bad_content_length", "Content-Length is not a number")
            if int(declared) > limit:
                raise Rejection(413, "too_large", f"body of {declared} bytes is over the {limit}-byte limit")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Rejection(413, "too_large", f"body is over the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    async def submit(self, request: Request) -> Response:
        t0 = time.perf_counter()
        client = request.client.host if request.client else "unknown"
        wait = self.limiter.take(client)
        if wait:
            return self._reject(
                Rejection(429, "rate_limited", f"over {self.limiter.rate:g} submissions/s for {client}"),
                {"Retry-After": RateLimiter.retry_after(wait)},
            )
        try:
            body = await self._read_body(request)
            # a large body is checked in a thread so it does not hold up everyone else's requests
            acc = check(body) if len(body) < _INLINE_CHECK_BYTES else await asyncio.to_thread(check, body)
        except Rejection as rej:
            return self._reject(rej)
        # duplicates are recognised by the writer (one lookup per batch), not here: no query per request
        fut = self.writer.submit(acc)
        if fut is None:
            return self._reject(
                Rejection(429, "queue_full", "the collector is busy; retry later"), {"Retry-After": "1"}
            )
        try:
            async with asyncio.timeout(self.config.commit_timeout):
                outcome, receipt = await asyncio.shield(fut)
        except TimeoutError:
            return _error(503, "commit_timeout", "not yet stored; retry (a retry is answered 200 if it was)",
                          headers={"Retry-After": "5"})
        except (OSError, sqlite3.Error) as exc:  # the disk, not the input: nothing of this batch was stored
            self.metrics.rejected["storage_error"] += 1
            return _error(503, "storage_error", f"not stored ({type(exc).__name__}); retry later",
                          headers={"Retry-After": "10"})
        if outcome is Outcome.CONFLICT:
            return self._reject(Rejection(
                409, "uid_conflict",
                f"measurement_uid {acc.measurement_uid!r} is already in the log with different content",
                "$.measurement_uid",
            ))
        body = b'{"measurement_uid":' + orjson.dumps(acc.measurement_uid) + b',"receipt":' + receipt + b"}"
        if outcome is Outcome.CREATED:
            self.metrics.accepted += 1
        else:
            self.metrics.duplicates += 1
        self.metrics.latency.observe(time.perf_counter() - t0)
        return Response(body, 201 if outcome is Outcome.CREATED else 200, media_type=JSON)

    # --- reads ---------------------------------------------------------------------------------------
    async def get_measurement(self, request: Request) -> Response:
        assert self.reader is not None
        body = self.reader.body(request.path_params["uid"])
        if body is None:
            return _error(404, "not_found", "no measurement with this uid in the log", "{uid}")
        return Response(body, 200, media_type=JSON)

    async def sth(self, _request: Request) -> Response:
        return Response(self.writer.sth_bytes, 200, media_type=JSON)

    async def key(self, _request: Request) -> Response:
        return _json(self.key_document)

    def _int_param(self, request: Request, name: str, default: int | None) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            if default is None:
                raise Rejection(400, "missing_param", f"query parameter '{name}' is required", f"?{name}")
            return default
        if not raw.isdigit() or len(raw) > 18:
            raise Rejection(400, "bad_param", f"'{name}' must be a non-negative integer", f"?{name}")
        return int(raw)

    async def inclusion(self, request: Request) -> Response:
        assert self.reader is not None
        sth, sth_bytes = self.writer.sth, self.writer.sth_bytes
        uid = request.query_params.get("uid")
        try:
            if not uid:
                raise Rejection(400, "missing_param", "query parameter 'uid' is required", "?uid")
            size = self._int_param(request, "tree_size", sth["tree_size"])
            ref = self.reader.by_uid(uid)
            if ref is None:
                raise Rejection(404, "not_found", "no measurement with this uid in the log", "?uid")
            if not ref.idx < size <= sth["tree_size"]:
                raise Rejection(400, "bad_param", f"tree_size must be in {ref.idx + 1}..{sth['tree_size']}", "?tree_size")
        except Rejection as rej:
            return Response(rej.body(), rej.status, media_type=JSON)
        path = self.writer.tree.inclusion_proof(ref.idx, size)
        head = b'{"measurement_uid":' + orjson.dumps(uid) + b',"leaf_index":' + str(ref.idx).encode()
        head += b',"leaf_hash":"' + ref.leaf_hash.hex().encode() + b'","tree_size":' + str(size).encode()
        head += b',"audit_path":' + orjson.dumps([p.hex() for p in path])
        if size == sth["tree_size"]:
            head += b',"sth":' + sth_bytes
        return Response(head + b"}", 200, media_type=JSON)

    async def consistency(self, request: Request) -> Response:
        sth, sth_bytes = self.writer.sth, self.writer.sth_bytes
        try:
            first = self._int_param(request, "first", None)
            second = self._int_param(request, "second", sth["tree_size"])
            if not first <= second <= sth["tree_size"]:
                raise Rejection(400, "bad_param", f"need first <= second <= {sth['tree_size']}", "?second")
        except Rejection as rej:
            return Response(rej.body(), rej.status, media_type=JSON)
        proof = self.writer.tree.consistency_proof(first, second)
        doc: dict[str, Any] = {"first": first, "second": second, "proof": [p.hex() for p in proof]}
        body = orjson.dumps(doc)
        if second == sth["tree_size"]:
            body = body[:-1] + b',"sth":' + sth_bytes + b"}"
        return Response(body, 200, media_type=JSON)

    async def metrics_endpoint(self, _request: Request) -> Response:
        return Response(self.metrics.render(), 200, media_type="text/plain; version=0.0.4; charset=utf-8")

    def app(self) -> Starlette:
        routes = [
            Route("/api/v1/measurements", self.submit, methods=["POST"]),
            Route("/api/v1/measurements/{uid}", self.get_measurement, methods=["GET"]),
            Route("/api/v1/log/sth", self.sth, methods=["GET"]),
            Route("/api/v1/log/key", self.key, methods=["GET"]),
            Route("/api/v1/log/proof/inclusion", self.inclusion, methods=["GET"]),
            Route("/api/v1/log/proof/consistency", self.consistency, methods=["GET"]),
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
        ]
        return Starlette(routes=routes, lifespan=self.lifespan)


def create_app(config: CollectorConfig) -> Starlette:
    return Collector(config).app()
