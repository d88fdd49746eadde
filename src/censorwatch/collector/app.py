"""The collector's HTTP API. Endpoints:

- ``POST /api/v1/measurements``: one measurement; 201 once durable, 200 for a duplicate (same receipt),
  4xx with ``{"error", "reason", "location"}`` for bad input, 429 + Retry-After for overload/rate limit.
- ``GET /api/v1/measurements/{uid}``: the stored canonical bytes.
- ``GET /api/v1/log/sth``, ``/api/v1/log/key``, ``/api/v1/log/proof/inclusion``,
  ``/api/v1/log/proof/consistency``; ``GET /metrics`` (Prometheus text).

``Collector`` is transport-free: ``admit`` (rate limit), ``check_length`` (declared size), ``accept``
(the body) and ``get`` (every GET) return a ``Reply`` ``(status, content type, body, extra headers)``.
Two transports drive it: ``AsgiApp`` (a plain ASGI app, no framework: uvicorn, tests, in-process
benchmarks) and ``censorwatch.collector.http`` (the lean HTTP/1.1 server ``collector serve`` runs by
default; see docs/collector.md for why).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson

from censorwatch.collector.keys import LogSigner, load_or_create_key, public_key_document
from censorwatch.collector.metrics import Metrics
from censorwatch.collector.ratelimit import RateLimiter
from censorwatch.collector.validate import Accepted, Rejection, check
from censorwatch.collector.writer import LogWriter, Outcome
from censorwatch.store.evidence import EvidenceStore

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"
METRICS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
SUBMIT_PATH = "/api/v1/measurements"
_MEASUREMENT_PREFIX = SUBMIT_PATH + "/"
_INLINE_CHECK_BYTES = 256 * 1024
Headers = list[tuple[bytes, bytes]]
#: status, content type, body, extra headers
Reply = tuple[int, bytes, bytes, Headers]
_NO_HEADERS: Headers = []


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


def error_reply(status: int, code: str, reason: str, location: str = "$", headers: Headers | None = None) -> Reply:
    return status, JSON, Rejection(status, code, reason, location).body(), headers or _NO_HEADERS


class Collector:
    def __init__(self, config: CollectorConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.signer = LogSigner(load_or_create_key(config.key_path))
        self.key_document = public_key_document(self.signer.public)
        self._key_bytes = orjson.dumps(self.key_document)
        self.writer = LogWriter(
            config.db_path, self.signer, self.metrics, queue_size=config.queue_size, max_batch=config.max_batch
        )
        self.limiter = RateLimiter(config.client_rate, config.client_burst)
        self.reader: EvidenceStore | None = None
        self.metrics.gauges["queue_depth"] = lambda: self.writer.queue.qsize()
        self.metrics.gauges["tree_size"] = lambda: self.writer.size
        self._gets: dict[str, Callable[[dict[str, str]], Reply]] = {
            "/api/v1/log/sth": lambda _q: (200, JSON, self.writer.sth_bytes, _NO_HEADERS),
            "/api/v1/log/key": lambda _q: (200, JSON, self._key_bytes, _NO_HEADERS),
            "/api/v1/log/proof/inclusion": self.inclusion,
            "/api/v1/log/proof/consistency": self.consistency,
            "/metrics": lambda _q: (200, METRICS_TYPE, self.metrics.render(), _NO_HEADERS),
        }

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

    def _reject(self, rej: Rejection, headers: Headers | None = None) -> Reply:
        self.metrics.rejected[rej.code] += 1
        return rej.status, JSON, rej.body(), headers or _NO_HEADERS

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
        if len(body) < _INLINE_CHECK_BYTES:
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
        try:
            return check(body)
        except Rejection as rej:
            return self._reject(rej)

    def enqueue(self, acc: Accepted) -> asyncio.Future[tuple[Outcome, bytes]] | Reply:
        """Hand to the writer (duplicates are recognised there: one lookup per batch, no query per
        request); a ``Reply`` (429) when its queue is full."""
        fut = self.writer.submit(acc)
        if fut is None:
            return self._reject(Rejection(429, "queue_full", "the collector is busy; retry later"),
                                [(b"retry-after", b"1")])
        return fut

    def timeout_reply(self) -> Reply:
        return error_reply(503, "commit_timeout", "not yet stored; retry (a retry is answered 200 if it was)",
                           headers=[(b"retry-after", b"5")])

    def answer(self, acc: Accepted, fut: asyncio.Future[tuple[Outcome, bytes]], t0: float) -> Reply:
        """The reply once the writer's future is done (committed, duplicate, conflict or a disk error)."""
        exc = fut.exception()
        if exc is not None:
            if isinstance(exc, OSError | sqlite3.Error):  # the disk, not the input: nothing of that batch was stored
                self.metrics.rejected["storage_error"] += 1
                return error_reply(503, "storage_error", f"not stored ({type(exc).__name__}); retry later",
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
        return 201 if outcome is Outcome.CREATED else 200, JSON, out, _NO_HEADERS

    # --- reads ---------------------------------------------------------------------------------------
    def get(self, path: str, query: str) -> Reply:
        """Every GET (and HEAD): ``path`` percent-decoded, ``query`` the raw query string."""
        handler = self._gets.get(path)
        if handler is not None:
            return handler(dict(parse_qsl(query, keep_blank_values=True)) if query else {})
        if path.startswith(_MEASUREMENT_PREFIX) and "/" not in path[len(_MEASUREMENT_PREFIX):] \
                and len(path) > len(_MEASUREMENT_PREFIX):
            return self.measurement(path[len(_MEASUREMENT_PREFIX):])
        if path == SUBMIT_PATH:
            return method_not_allowed("POST")
        return not_found()

    def measurement(self, uid: str) -> Reply:
        assert self.reader is not None
        body = self.reader.body(uid)
        if body is None:
            return error_reply(404, "not_found", "no measurement with this uid in the log", "{uid}")
        return 200, JSON, body, _NO_HEADERS

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
            return rej.status, JSON, rej.body(), _NO_HEADERS
        path = self.writer.tree.inclusion_proof(ref.idx, size)
        head = b'{"measurement_uid":' + orjson.dumps(uid) + b',"leaf_index":' + str(ref.idx).encode()
        head += b',"leaf_hash":"' + ref.leaf_hash.hex().encode() + b'","tree_size":' + str(size).encode()
        head += b',"audit_path":' + orjson.dumps([p.hex() for p in path])
        if size == sth["tree_size"]:
            head += b',"sth":' + sth_bytes
        return 200, JSON, head + b"}", _NO_HEADERS

    def consistency(self, query: dict[str, str]) -> Reply:
        sth, sth_bytes = self.writer.sth, self.writer.sth_bytes
        try:
            first = self._int_param(query, "first", None)
            second = self._int_param(query, "second", sth["tree_size"])
            if not first <= second <= sth["tree_size"]:
                raise Rejection(400, "bad_param", f"need first <= second <= {sth['tree_size']}", "?second")
        except Rejection as rej:
            return rej.status, JSON, rej.body(), _NO_HEADERS
        proof = self.writer.tree.consistency_proof(first, second)
        doc: dict[str, Any] = {"first": first, "second": second, "proof": [p.hex() for p in proof]}
        body = orjson.dumps(doc)
        if second == sth["tree_size"]:
            body = body[:-1] + b',"sth":' + sth_bytes + b"}"
        return 200, JSON, body, _NO_HEADERS

    def app(self) -> AsgiApp:
        return AsgiApp(self)


def not_found() -> Reply:
    return error_reply(404, "not_found", "no such endpoint", "{path}")


def method_not_allowed(allow: str) -> Reply:
    return error_reply(405, "method_not_allowed", f"use {allow}", "{method}", [(b"allow", allow.encode())])


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class AsgiApp:
    """The collector as a plain ASGI 3 app (http + lifespan), no framework on the request path."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            reply = await self._http(scope, receive)
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
        if path in col._gets or path.startswith(_MEASUREMENT_PREFIX):
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
