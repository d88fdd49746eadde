"""The collector's own HTTP/1.1 server: an asyncio protocol (uvloop when installed) with httptools parsing.

Why not uvicorn: at the 2,000 submissions/s goal on two cores, the whole budget is ~1 ms of CPU per
submission for server and client together, and uvicorn's per-request machinery (a task, the ASGI
scope and messages, two writes per answer) cost ~0.3 ms of it, as much as validating, hashing, signing
and storing the measurement. Here a request costs one parse and one write; a submission is driven by
callbacks (no task, no timeout context) until the durable commit answers it. ``collector serve
--http uvicorn`` still runs the same ``Collector`` as a plain ASGI app on uvicorn.

HTTP/1.1 as it matters here: persistent connections (``Connection: close`` and HTTP/1.0 honoured),
pipelining (requests answered strictly in order, one at a time per connection; reading pauses when
16 are waiting), ``Content-Length`` and chunked request bodies (the size limit applies while
streaming: ``413`` then the connection closes), ``Expect: 100-continue``, HEAD, ``400`` for what
does not parse (then close), ``431`` for more than 64 KiB of request head, ``405``/``404`` as JSON,
``Date`` on every answer. Idle connections close after ``keep_alive`` seconds, a request whose head
and body take longer than ``request_timeout`` seconds is dropped (slow-loris).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

import httptools

from censorwatch.collector.app import Collector
from censorwatch.collector.intake import (
    INLINE_CHECK_BYTES,
    JSON,
    SUBMIT_PATH,
    CollectorConfig,
    Intake,
    Reply,
    WriterGone,
    error_reply,
    internal_error,
    method_not_allowed,
    one_line,
)
from censorwatch.collector.validate import Accepted

log = logging.getLogger(__name__)


MAX_HEAD = 64 * 1024
MAX_PIPELINED = 16
_REASONS = {200: b"OK", 201: b"Created", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed",
            409: b"Conflict", 411: b"Length Required", 413: b"Content Too Large", 422: b"Unprocessable Content",
            429: b"Too Many Requests", 431: b"Request Header Fields Too Large", 500: b"Internal Server Error",
            503: b"Service Unavailable"}
_SUBMIT = SUBMIT_PATH.encode()


class _Clock:
    """The ``Date`` header, formatted once a second."""

    def __init__(self) -> None:
        self.second = 0
        self.header = b""

    def date(self) -> bytes:
        now = int(time.time())
        if now != self.second:
            self.second = now
            self.header = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self.header


class _Request:
    __slots__ = ("answered", "chunks", "close", "complete", "expect", "head_bytes", "keep_alive", "length",
                 "method", "reply", "size", "t0", "url")

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.url = b""
        self.method = b""
        self.length: bytes | None = None
        self.expect = False
        self.head_bytes = 0
        self.chunks: list[bytes] = []
        self.size = 0
        self.reply: Reply | None = None  # answered before the body was read (or could not be parsed)
        self.close = False  # close the connection after answering
        self.keep_alive = True
        self.complete = False
        self.answered = False


class HttpServerState:
    """What every connection shares: the collector (or a front-end's ``Intake``), the open
    connections, the clock."""

    def __init__(self, collector: Intake, *, keep_alive: float = 30.0, request_timeout: float = 60.0) -> None:
        self.collector = collector
        self.keep_alive = keep_alive
        self.request_timeout = request_timeout
        self.connections: set[HttpProtocol] = set()
        self.clock = _Clock()

    def sweep(self) -> None:
        """Close idle keep-alive connections and requests that take too long to arrive."""
        now = time.monotonic()
        for conn in list(self.connections):
            conn.expire(now)


class HttpProtocol(asyncio.Protocol):
    def __init__(self, state: HttpServerState) -> None:
        self.state = state
        self.col = state.collector
        self.limit = state.collector.config.max_body_bytes
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.client = "unknown"
        self.cur: _Request | None = None
        self.pending: deque[_Request] = deque()
        self.busy = False  # the head of ``pending`` is being answered (a submission awaiting its commit)
        self.broken = False  # the byte stream cannot be parsed any more: answer what is queued, then close
        self.paused = False
        self.eof = False  # the client half-closed: answer what it asked, then close
        self.last_active = time.monotonic()

    # --- connection ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self.client = str(peer[0])
        self.state.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.connections.discard(self)
        self.pending.clear()
        self.cur = None

    def eof_received(self) -> bool | None:
        self.eof = True
        if self.idle:
            return None  # close
        self.broken = True  # nothing more will come: an incomplete request is dropped
        if self.cur is not None and self.cur in self.pending and not self.cur.complete:
            self.pending.remove(self.cur)
        self.cur = None
        self._next()
        return None if self.transport.is_closing() else True

    def pause_writing(self) -> None:  # the client is not reading its answers: stop reading its requests
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        if not self.paused:
            self.transport.resume_reading()

    def expire(self, now: float) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        cur = self.cur
        if cur is not None and not cur.complete and time.perf_counter() - cur.t0 > self.state.request_timeout:
            self.transport.close()  # a request trickling in (or stalled) for too long, however slowly
        elif cur is None and not self.pending and not self.busy and now - self.last_active > self.state.keep_alive:
            self.transport.close()

    @property
    def idle(self) -> bool:
        return self.cur is None and not self.pending and not self.busy

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self.broken:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # an Upgrade (h2c, websocket) we do not do: answer what was asked in HTTP/1.1, then close
            self.broken = True
            for req in self.pending:
                req.close = True
            if self.cur is not None and not self.cur.complete:
                self._fail(400, "bad_request", "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            if not self.broken:  # (else a callback already queued the answer)
                self.broken = True
                self._fail(400, "bad_request", f"not a valid HTTP/1.1 request: {str(exc)[:100]}")
        except Exception as exc:  # a bug in a callback: the request still gets an answer, in order
            log.error("request failed: %s", one_line(exc))
            if not self.broken:
                self.broken = True
                self._fail(500, "internal_error", "the collector failed on this request")
        self._next()

    def _fail(self, status: int, code: str, reason: str) -> None:
        """Queue a final error answer (in order), then close; nothing more is read."""
        req = self.cur if self.cur is not None and self.cur in self.pending else None
        if req is None:
            req = _Request(time.perf_counter())
            self.pending.append(req)
        req.reply = error_reply(status, code, reason)
        self.col.metrics.rejected[code] += 1
        req.close = req.complete = True
        self.cur = None
        self.transport.pause_reading()

    # --- httptools callbacks -------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.cur = _Request(time.perf_counter())

    def on_url(self, url: bytes) -> None:
        cur = self.cur
        assert cur is not None
        cur.url += url
        cur.head_bytes += len(url)
        if cur.head_bytes > MAX_HEAD:
            self._head_too_large()

    def _head_too_large(self) -> None:
        self.broken = True
        self._fail(431, "header_too_large", f"the request head is over {MAX_HEAD} bytes")
        raise httptools.HttpParserCallbackError("head too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        cur = self.cur
        assert cur is not None
        cur.head_bytes += len(name) + len(value) + 4
        if cur.head_bytes > MAX_HEAD:
            self._head_too_large()
        lname = name.lower()
        if lname == b"content-length":
            cur.length = value.strip()
        elif lname == b"expect" and value.strip().lower() == b"100-continue":
            cur.expect = True

    def on_headers_complete(self) -> None:
        cur = self.cur
        assert cur is not None
        cur.method = self.parser.get_method()
        cur.keep_alive = self.parser.should_keep_alive()
        self.col.metrics.requests += 1
        self.pending.append(cur)
        if cur.method == b"POST" and cur.url.split(b"?", 1)[0] == _SUBMIT:
            refused = self.col.admit(self.client) or self.col.check_length(cur.length)
            if refused is not None:
                cur.reply = refused
                cur.close = refused[0] == 413 or refused[0] == 400
            elif cur.expect and len(self.pending) == 1 and not self.busy:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if len(self.pending) >= MAX_PIPELINED and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def on_body(self, body: bytes) -> None:
        cur = self.cur
        assert cur is not None
        cur.size += len(body)
        if cur.reply is not None:  # refused already: the body is read and dropped, up to a point
            if cur.size > 2 * self.limit + MAX_HEAD:
                cur.close = cur.complete = True
                self.broken = True
                raise httptools.HttpParserCallbackError("dropping an over-long body")
            return
        if cur.size > self.limit:
            cur.chunks = []
            cur.reply = self.col.too_large()
            cur.close = True
            return
        if cur.method == b"POST":
            cur.chunks.append(body)

    def on_message_complete(self) -> None:
        cur = self.cur
        assert cur is not None
        cur.complete = True
        self.cur = None

    # --- answering, strictly in order ----------------------------------------------------------------
    def _next(self) -> None:
        pending = self.pending
        while pending and not self.busy:
            req = pending[0]
            if req.reply is not None and not req.answered:
                self._write(req, req.reply)  # refused before its body arrived: answer now, drop the body
            if req.answered:
                if not req.complete:
                    break
                pending.popleft()
                if req.close or not req.keep_alive:
                    self._close()
                    return
                continue
            if not req.complete:
                break
            pending.popleft()
            try:
                self._handle(req)
            except Exception as exc:  # a bug: this request is answered 500, the connection goes on
                log.error("request failed: %s", one_line(exc))
                self.busy = False
                if not req.answered:
                    self._write(req, internal_error())
            if req.answered and (req.close or not req.keep_alive):
                self._close()
                return
        if self.eof and self.idle:
            self._close()
        elif self.paused and len(pending) < MAX_PIPELINED // 2 and not self.broken:
            self.paused = False
            self.transport.resume_reading()

    def _handle(self, req: _Request) -> None:
        try:
            url = httptools.parse_url(req.url)
        except httptools.HttpParserInvalidURLError:
            self.col.metrics.rejected["bad_request"] += 1
            self._write(req, error_reply(400, "bad_request", "the request target is not a URL"))
            return
        path = unquote(url.path.decode("latin-1")) if url.path else "/"
        method = req.method
        if path == SUBMIT_PATH:
            if method == b"POST":
                self._submit(req)
            else:
                self.col.metrics.rejected["method_not_allowed"] += 1
                self._write(req, method_not_allowed("POST"))
            return
        if method == b"GET" or method == b"HEAD":
            query = url.query.decode("latin-1") if url.query else ""
            try:
                reply = self.col.get(path, query)
            except Exception as exc:
                log.error("GET %s failed: %s", path[:200], one_line(exc))
                reply = internal_error()
            if isinstance(reply, asyncio.Future):  # answered by the writer process (--workers N)
                self.busy = True
                reply.add_done_callback(lambda f: self._finish(req, self._reply_of(f)))
                return
            self._write(req, reply)
            return
        self.col.metrics.rejected["method_not_allowed"] += 1
        self._write(req, method_not_allowed("GET"))

    def _submit(self, req: _Request) -> None:
        body = req.chunks[0] if len(req.chunks) == 1 else b"".join(req.chunks)
        req.chunks = []
        self.busy = True
        if len(body) >= INLINE_CHECK_BYTES:  # checked in a thread: the async path
            task = self.loop.create_task(self.col.accept(body, req.t0))
            task.add_done_callback(lambda t: self._finish(req, self._reply_of(t)))
            return
        acc = self.col.prepare(body)
        if not isinstance(acc, Accepted):
            self._finish(req, acc)
            return
        fut = self.col.enqueue(acc)
        if not isinstance(fut, asyncio.Future):
            self._finish(req, fut)
            return
        timer = self.loop.call_later(self.col.config.commit_timeout, self._timed_out, req, fut)

        def committed(f: asyncio.Future[Any]) -> None:
            if timer.cancelled():
                return  # answered 503 already
            timer.cancel()
            try:
                reply = self.col.answer(acc, f, req.t0)
            except Exception as exc:
                log.error("submission failed: %s", one_line(exc))
                reply = internal_error()
            self._finish(req, reply)

        fut.add_done_callback(committed)

    @staticmethod
    def _reply_of(task: asyncio.Future[Reply]) -> Reply:
        if task.cancelled():
            return error_reply(503, "shutting_down", "the collector is stopping; retry later")
        exc = task.exception()
        if isinstance(exc, WriterGone):
            return error_reply(503, "shutting_down", "the collector is stopping; retry later")
        if exc is not None:
            log.error("request failed: %s", one_line(exc))
            return internal_error()
        return task.result()


    def _timed_out(self, req: _Request, fut: asyncio.Future[Any]) -> None:
        self._finish(req, self.col.timeout_reply())

    def _finish(self, req: _Request, reply: Reply) -> None:
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            return
        self._write(req, reply)
        if req.close or not req.keep_alive:
            self._close()
        else:
            self._next()

    def _write(self, req: _Request, reply: Reply) -> None:
        status, ctype, body, extra = reply
        close = req.close or not req.keep_alive
        parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"")), self.state.clock.date(),
                 b"content-type: ", ctype, b"\r\ncontent-length: %d\r\n" % len(body)]
        for k, v in extra:
            parts += (k, b": ", v, b"\r\n")
        if close:
            parts.append(b"connection: close\r\n")
        parts.append(b"\r\n")
        if req.method != b"HEAD":
            parts.append(body)
        self.transport.write(b"".join(parts))
        req.answered = True
        self.last_active = time.monotonic()

    def _close(self) -> None:
        self.broken = True
        self.pending.clear()
        self.transport.close()  # asyncio flushes what was written before closing


@contextlib.contextmanager
def stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (when in the main thread; tests run servers in other threads).

    Plain signal.signal handlers: a Python handler runs in the main thread, at the latest at the
    sweeper's next tick (every second), and wakes the loop with call_soon_threadsafe. (Defensive:
    during profiling a server seemed to outlive its SIGTERM, but at least one such case was a signal
    sent to a shell's subshell, not to the server, and no test reproduced it with
    loop.add_signal_handler either.)"""
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda _n, _f: loop.call_soon_threadsafe(stop.set))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def serve_http(col: Intake, stop: asyncio.Event, *, host: str = "127.0.0.1", port: int = 0,
                     sock: socket.socket | None = None, ready: asyncio.Event | None = None,
                     keep_alive: float = 30.0, request_timeout: float = 60.0,
                     before_close: Callable[[], Awaitable[None]] | None = None) -> None:
    """Serve HTTP for ``col`` (on ``sock`` if given, else on ``host:port``) until ``stop`` is set;
    then stop accepting, let the answers in flight finish (up to 15 s), await ``before_close`` (the
    single-process collector commits what is queued there) and close every connection."""
    loop = asyncio.get_running_loop()
    state = HttpServerState(col, keep_alive=keep_alive, request_timeout=request_timeout)
    if sock is not None:
        server = await loop.create_server(lambda: HttpProtocol(state), sock=sock, backlog=2048)
    else:
        server = await loop.create_server(lambda: HttpProtocol(state), host, port, backlog=2048, reuse_address=True)

    async def sweeper() -> None:
        while True:
            await asyncio.sleep(1.0)
            state.sweep()

    sweep = loop.create_task(sweeper())
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        sweep.cancel()
        server.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(not c.idle for c in state.connections):
            for c in list(state.connections):
                if c.idle and c.transport is not None:
                    c.transport.close()
            await asyncio.sleep(0.05)
        if before_close is not None:
            await before_close()
        for c in list(state.connections):
            if c.transport is not None:
                c.transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5)


async def serve_async(config: CollectorConfig, host: str, port: int, *, ready: asyncio.Event | None = None,
                      stop: asyncio.Event | None = None, keep_alive: float = 30.0,
                      request_timeout: float = 60.0) -> None:
    """The single-process collector (``--workers 1``): run until ``stop`` is set (or SIGTERM/SIGINT),
    then stop accepting, let the answers in flight finish (up to 15 s), commit what is queued and close."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    collector = Collector(config)
    await collector.start()
    with stop_on_signals(loop, stop):
        await serve_http(collector, stop, host=host, port=port, ready=ready, keep_alive=keep_alive,
                         request_timeout=request_timeout, before_close=collector.stop)


def tune_gc() -> None:
    """Each submission decodes into a few hundred short-lived dicts and lists, which reference
    counting frees; the cyclic collector's default young-generation threshold (700 allocations)
    made it walk them several times per request. Collect young objects 50x less often."""
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, 35_000), gen1, gen2)


#: glibc's mallopt parameter number for the mmap threshold
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def tune_memory() -> None:
    """Keep every allocation of 128 KiB or more (request bodies, their decoded copies) in a mapping
    of its own, returned to the system when freed. By default glibc raises this threshold to the
    size of the largest block freed so far (up to 32 MiB), after which large bodies are carved out of
    the heap and the freed space stays with the process: one front-end grew from 38 to 97 MB over
    three rounds of hostile requests, with no plateau (benchmarks/results/security.md). Nothing
    happens where the C library has no ``mallopt``."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop when installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it installs
        asyncio.run(main)
        return
    uvloop.run(main)


def run(config: CollectorConfig, host: str, port: int) -> None:
    tune_gc()
    tune_memory()
    run_loop(serve_async(config, host, port))


__all__ = ["JSON", "HttpProtocol", "HttpServerState", "run", "run_loop", "serve_async", "serve_http",
           "stop_on_signals", "tune_gc", "tune_memory"]
