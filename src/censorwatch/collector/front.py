"""An HTTP front-end process of ``collector serve --workers N`` (started by collector/procs.py).

It listens on the collector's port beside its siblings (``SO_REUSEPORT``: the kernel spreads new
connections over them) and does each request's CPU work in parallel with them: HTTP, the rate limit
and size limits, decoding and checking the measurement, its canonical bytes, uid and leaf hash, and
the zstd compression the evidence store keeps. A checked submission goes to the writer process as one
``SUBMIT`` frame; the answer is sent once the writer's ``RESULT`` says the commit holding it returned
(or that it is a duplicate, a conflict, or that the queue is full). ``GET /api/v1/measurements/{uid}``
is read here from the evidence store (SQLite WAL: a committed snapshot); the key is the one the writer
sent at start; tree heads, proofs and ``/metrics`` are forwarded to the writer, so every process
gives the same answer. The private key never leaves the writer.

The process dies with the writer (``PR_SET_PDEATHSIG``), and stops by itself if the link closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import orjson

from censorwatch.collector import frames
from censorwatch.collector.http import run_loop, serve_http, stop_on_signals, tune_gc, tune_memory
from censorwatch.collector.intake import (
    JSON,
    NO_HEADERS,
    CollectorConfig,
    CommitFuture,
    Intake,
    Reply,
    StorageFailed,
    WriterBusy,
    WriterGone,
)
from censorwatch.collector.validate import Accepted
from censorwatch.collector.writer import Outcome
from censorwatch.store.evidence import EvidenceStore, compressor

log = logging.getLogger(__name__)

#: answered by the writer process (it holds the tree and the latest tree head)
FORWARDED = frozenset({"/api/v1/log/sth", "/api/v1/log/proof/inclusion", "/api/v1/log/proof/consistency", "/metrics"})
_OUTCOMES = {frames.CREATED: Outcome.CREATED, frames.DUPLICATE: Outcome.DUPLICATE, frames.CONFLICT: Outcome.CONFLICT}


def listening_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    """A TCP socket bound with ``SO_REUSEPORT`` (the writer reserves the port with one that does not
    listen; each front-end listens on its own)."""
    family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(addr)
        if listen:
            sock.listen(2048)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class FrontLink(frames.FrameLink):
    """The front-end's end of the link to the writer."""

    def __init__(self, stop: asyncio.Event) -> None:
        super().__init__()
        self.stop = stop
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.hello: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.metrics: Any = None  # set once the Front exists

    def request(self, kind: int, make: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.closed.done():
            fut.set_exception(WriterGone())
            return fut
        rid = next(self.ids) & 0xFFFFFFFF
        self.waiting[rid] = fut
        self.send(kind, make(rid))
        return fut

    def on_frame(self, kind: int, payload: bytes) -> None:
        if kind == frames.RESULT:
            rid, code, data = frames.parse_result(payload)
            fut = self.waiting.pop(rid, None)
            if fut is None or fut.done():
                return
            outcome = _OUTCOMES.get(code)
            if outcome is not None:
                fut.set_result((outcome, data))
            elif code == frames.QUEUE_FULL:
                fut.set_exception(WriterBusy())
            elif code == frames.STORAGE_ERROR:
                fut.set_exception(StorageFailed(data.decode(errors="replace")))
            else:
                fut.set_exception(RuntimeError(f"the writer failed: {data.decode(errors='replace')}"))
        elif kind == frames.REPLY:
            rid, reply = frames.parse_reply(payload)
            fut = self.waiting.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result(reply)
        elif kind == frames.STATS:
            rid, _ = frames.request_id(payload)
            snap = self.metrics.snapshot() if self.metrics is not None else None
            self.send(frames.STATS, frames.with_id(rid, orjson.dumps(snap)))
        elif kind == frames.HELLO and not self.hello.done():
            self.hello.set_result(orjson.loads(payload))

    def on_lost(self) -> None:
        waiting, self.waiting = self.waiting, {}
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(WriterGone())
        if not self.hello.done():
            self.hello.set_exception(WriterGone())
        self.stop.set()


class Front(Intake):
    def __init__(self, config: CollectorConfig, link: FrontLink, key_bytes: bytes) -> None:
        super().__init__(config)
        self.link = link
        link.metrics = self.metrics
        self._compress = compressor()
        self.gets["/api/v1/log/key"] = lambda _q: (200, JSON, key_bytes, NO_HEADERS)

    def enqueue(self, acc: Accepted) -> CommitFuture | Reply:
        stored = self._compress(acc.canonical)
        return self.link.request(frames.SUBMIT, lambda rid: frames.submit_frame(
            rid, acc.leaf_hash, acc.measurement_uid, stored))

    def get(self, path: str, query: str) -> Reply | asyncio.Future[Reply]:
        if path in FORWARDED:
            return self.link.request(frames.GET, lambda rid: frames.get_frame(rid, path, query))
        return super().get(path, query)


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when the writer dies (Linux ``prctl(PR_SET_PDEATHSIG)``); the link's
    end-of-file stops it too where that is not available."""
    with contextlib.suppress(OSError, AttributeError):  # (not Linux)
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the prctl
        os._exit(1)


async def serve_front(fd: int) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    _, link = await loop.create_unix_connection(lambda: FrontLink(stop), sock=socket.socket(fileno=fd))
    hello = await asyncio.wait_for(link.hello, 60)
    config = CollectorConfig(evidence_dir=Path(hello["evidence_dir"]), **hello["config"])
    front = Front(config, link, hello["key"].encode())
    front.reader = EvidenceStore(config.db_path, readonly=True)
    sock = listening_socket(hello["host"], hello["port"])
    ready = asyncio.Event()
    try:
        with stop_on_signals(loop, stop):
            server = asyncio.create_task(serve_http(front, stop, sock=sock, ready=ready))
            up = asyncio.create_task(ready.wait())
            await asyncio.wait([server, up], return_when=asyncio.FIRST_COMPLETED)
            if ready.is_set():
                link.send(frames.READY)
            await server
    finally:
        front.reader.close()
        link.close()


def main(argv: list[str] | None = None) -> None:
    """``python -c 'from censorwatch.collector.front import main; main()' FD WRITER_PID``"""
    fd, parent = (int(x) for x in (argv or sys.argv[1:])[:2])
    _die_with_parent(parent)
    logging.basicConfig(level=logging.WARNING, format="collector front %(process)d: %(levelname)s %(message)s")
    tune_gc()
    tune_memory()
    run_loop(serve_front(fd))
