"""The collector's HTTP API. Endpoints:

- ``POST /api/v1/measurements``: one measurement; 201 once durable, 200 for a duplicate (same receipt),
  4xx with ``{"error", "reason", "location"}`` for bad input, 429 + Retry-After for overload/rate limit.
- ``GET /api/v1/measurements/{uid}``: the stored canonical bytes.
- ``GET /api/v1/log/sth``, ``/api/v1/log/key``, ``/api/v1/log/proof/inclusion``,
  ``/api/v1/log/proof/consistency``; ``GET /metrics`` (Prometheus text).

``Collector`` is transport-free: ``admit`` (rate limit), ``check_length`` (declared size), ``accept``
(the body) and ``get`` (every GET) return a ``Reply`` ``(status, content type, body, extra headers)``
(the submission steps are ``intake.Intake``'s, shared with the front-end processes of ``--workers N``).
Two transports drive it: ``AsgiApp`` (a plain ASGI app, no framework: uvicorn, tests, in-process
benchmarks) and ``censorwatch.collector.http`` (the lean HTTP/1.1 server ``collector serve`` runs by
default; see docs/collector.md for why).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from censorwatch.collector.intake import (
    INLINE_CHECK_BYTES,
    JSON,
    MEASUREMENT_PREFIX,
    METRICS_TYPE,
    NO_HEADERS,
    SUBMIT_PATH,
    CollectorConfig,
    CommitFuture,
    Headers,
    Intake,
    Reply,
    error_reply,
    internal_error,
    method_not_allowed,
    not_found,
    one_line,
)
from censorwatch.collector.keys import LogSigner, load_or_create_key, public_key_document
from censorwatch.collector.validate import Accepted, Rejection
from censorwatch.collector.writer import LogWriter
from censorwatch.store.evidence import EvidenceStore

log = logging.getLogger(__name__)

__all__ = ["INLINE_CHECK_BYTES", "JSON", "METRICS_TYPE", "SUBMIT_PATH", "AsgiApp", "Collector", "CollectorConfig",
           "Headers", "Reply", "create_app", "error_reply", "method_not_allowed", "not_found"]


class Collector(Intake):
    """The whole collector in one process: the writer, the reads, the submission steps."""

    def __init__(self, config: CollectorConfig) -> None:
        super().__init__(config)
        self.signer = LogSigner(load_or_create_key(config.key_path))
        self.key_document = public_key_document(self.signer.public)
        self.key_bytes = orjson.dumps(self.key_document)
        self.writer = LogWriter(
            config.db_path, self.signer, self.metrics, queue_size=config.queue_size, max_batch=config.max_batch
        )
        self.metrics.gauges["queue_depth"] = lambda: self.writer.queue.qsize()
        self.metrics.gauges["tree_size"] = lambda: self.writer.size
        self.gets.update({
            "/api/v1/log/sth": lambda _q: (200, JSON, self.writer.sth_bytes, NO_HEADERS),
            "/api/v1/log/key": lambda _q: (200, JSON, self.key_bytes, NO_HEADERS),
            "/api/v1/log/proof/inclusion": self.inclusion,
            "/api/v1/log/proof/consistency": self.consistency,
            "/metrics": lambda _q: (200, METRICS_TYPE, self.metrics.render(), NO_HEADERS),
        })

    # --- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.writer.start()
        self.reader = EvidenceStore(self.config.db_path, readonly=True)

    async def stop(self) -> None:
        await self.writer.stop()
        if self.reader is not None:
            self.reader.close()

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    def enqueue(self, acc: Accepted) -> CommitFuture | Reply:
        """Hand to the writer (duplicates are recognised there: one lookup per batch, no query per
        request); a ``Reply`` (429) when its queue is full."""
        fut = self.writer.submit(acc)
        return self.queue_full() if fut is None else fut

    # --- reads ---------------------------------------------------------------------------------------
    def get(self, path: str, query: str) -> Reply:
        reply = super().get(path, query)
        assert not isinstance(reply, asyncio.Future)  # every answer is at hand in this process
        return reply

    def _int_param(self, query: dict[str, str], name: str, default: int | None) -> int:
        raw = query.get(name)
        if raw is None:
            if default is None:
                raise Rejection(400, "missing_param", f"query parameter '{name}' is required", f"?{name}")
            return default
        if not raw.isdigit() or not raw.isascii() or len(raw) > 18:
            raise Rejection(400, "bad_param", f"'{name}' must be a non-negative integer", f"?{name}")
        return int(raw)

    def inclusion(self, query: dict[str, str]) -> Reply:
        assert self.reader is not None
        sth, sth_bytes = self.writer.sth, self.writer.sth_bytes
        uid = query.get("uid")
        try:
            if not uid:
                raise Rejection(400, "missing_param", "query parameter 'uid' is required", "?uid")
            size = self._int_param(query, "tree_size", sth["tree_size"])
            ref = self.reader.by_uid(uid)
            if ref is None:
                raise Rejection(404, "not_found", "no measurement with this uid in the log", "?uid")
            if not ref.idx < size <= sth["tree_size"]:
                raise Rejection(400, "bad_param", f"tree_size must be in {ref.idx + 1}..{sth['tree_size']}", "?tree_size")
        except Rejection as rej:
            return rej.status, JSON, rej.body(), NO_HEADERS
        path = self.writer.tree.inclusion_proof(ref.idx, size)
        head = b'{"measurement_uid":' + orjson.dumps(uid) + b',"leaf_index":' + str(ref.idx).encode()
        head += b',"leaf_hash":"' + ref.leaf_hash.hex().encode() + b'","tree_size":' + str(size).encode()
        head += b',"audit_path":' + orjson.dumps([p.hex() for p in path])
        if size == sth["tree_size"]:
            head += b',"sth":' + sth_bytes
        return 200, JSON, head + b"}", NO_HEADERS

    def consistency(self, query: dict[str, str]) -> Reply:
        sth, sth_bytes = self.writer.sth, self.writer.sth_bytes
        try:
            first = self._int_param(query, "first", None)
            second = self._int_param(query, "second", sth["tree_size"])
            if not first <= second <= sth["tree_size"]:
                raise Rejection(400, "bad_param", f"need first <= second <= {sth['tree_size']}", "?second")
        except Rejection as rej:
            return rej.status, JSON, rej.body(), NO_HEADERS
        proof = self.writer.tree.consistency_proof(first, second)
        doc: dict[str, Any] = {"first": first, "second": second, "proof": [p.hex() for p in proof]}
        body = orjson.dumps(doc)
        if second == sth["tree_size"]:
            body = body[:-1] + b',"sth":' + sth_bytes + b"}"
        return 200, JSON, body, NO_HEADERS

    def app(self) -> AsgiApp:
        return AsgiApp(self)


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class AsgiApp:
    """The collector as a plain ASGI 3 app (http + lifespan), no framework on the request path."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            try:
                reply = await self._http(scope, receive)
            except Exception as exc:  # a bug: one log line and a 500, never a dropped request
                log.error("request failed: %s", one_line(exc))
                reply = internal_error()
            if reply is None:
                return
            status, ctype, body, extra = reply
            headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *extra]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    async def _http(self, scope: dict[str, Any], receive: Receive) -> Reply | None:
        col = self.collector
        method, path = scope["method"], scope["path"]
        if path == SUBMIT_PATH and method == "POST":
            t0 = time.perf_counter()
            client = scope.get("client")
            refused = col.admit(client[0] if client else "unknown")
            if refused is not None:
                return refused
            declared = next((v for k, v in scope["headers"] if k.lower() == b"content-length"), None)
            refused = col.check_length(declared)
            if refused is not None:
                return refused
            limit, chunks, size = col.config.max_body_bytes, [], 0
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    return None
                chunk = msg.get("body", b"")
                size += len(chunk)
                if size > limit:
                    return col.too_large()
                chunks.append(chunk)
                if not msg.get("more_body"):
                    break
            return await col.accept(chunks[0] if len(chunks) == 1 else b"".join(chunks), t0)
        if method in ("GET", "HEAD"):
            return col.get(path, scope.get("query_string", b"").decode("latin-1"))
        if path == SUBMIT_PATH:
            return method_not_allowed("POST")
        if path in col.gets or path.startswith(MEASUREMENT_PREFIX):
            return method_not_allowed("GET")
        return not_found()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.collector.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.collector.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app(config: CollectorConfig) -> AsgiApp:
    return Collector(config).app()
