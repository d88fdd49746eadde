"""``collector serve --workers N`` (N >= 2): one writer process and N HTTP front-end processes.

The writer (this process) keeps what must be single: the evidence store's one writing connection,
the Merkle tree, the signing key, the group commit. It does not listen for HTTP. It reserves the port
with a bound, non-listening ``SO_REUSEPORT`` socket (after checking that nothing else listens there),
then starts the front-ends (collector/front.py) with ``subprocess`` (a fresh interpreter each: no
fork of a process with threads), each with one end of a Unix socketpair, and waits for each to say it
listens. Per checked submission a front-end sends one frame (uid, leaf hash, compressed canonical
bytes); the writer queues it like the single-process collector does, signs its receipt in the batch,
and answers the frame after the commit that holds it returned. GETs the front-ends cannot answer
alone (tree heads, proofs, ``/metrics``) come here as frames too.

A front-end that dies is started again (after a second). SIGTERM/SIGINT: the front-ends are told to
stop (SIGTERM): they stop accepting, finish the answers in flight (their commits still happen here),
close; then the writer commits what is left and exits. SIGKILL of the writer: the front-ends get
SIGKILL from the kernel (``PR_SET_PDEATHSIG``); only commits that returned were acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

import censorwatch
from censorwatch.collector import frames
from censorwatch.collector.app import Collector
from censorwatch.collector.front import listening_socket
from censorwatch.collector.http import run_loop, stop_on_signals, tune_memory
from censorwatch.collector.intake import (
    METRICS_TYPE,
    NO_HEADERS,
    CollectorConfig,
    Reply,
    internal_error,
    one_line,
)
from censorwatch.collector.metrics import Metrics
from censorwatch.collector.validate import Accepted
from censorwatch.collector.writer import Outcome

log = logging.getLogger(__name__)

_CODES = {Outcome.CREATED: frames.CREATED, Outcome.DUPLICATE: frames.DUPLICATE, Outcome.CONFLICT: frames.CONFLICT}
_STATS_TIMEOUT = 2.0


class WriterLink(frames.FrameLink):
    """The writer's end of the link with front-end ``index``."""

    def __init__(self, server: Writer, index: int) -> None:
        super().__init__()
        self.server = server
        self.index = index
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.stats: dict[int, asyncio.Future[Any]] = {}
        self.writer = server.collector.writer

    def on_frame(self, kind: int, payload: bytes) -> None:
        if kind == frames.SUBMIT:
            rid, h, uid, stored = frames.parse_submit(payload)
            fut = self.writer.submit(Accepted(uid, b"", h, stored))
            if fut is None:
                self.send(frames.RESULT, frames.result_frame(rid, frames.QUEUE_FULL))
            else:
                fut.add_done_callback(lambda f: self._committed(rid, f))
        elif kind == frames.GET:
            rid, path, query = frames.parse_get(payload)
            if path == "/metrics":
                task = asyncio.get_running_loop().create_task(self.server.metrics_reply())
                task.add_done_callback(lambda t: self.send(frames.REPLY, frames.reply_frame(rid, t.result())))
                return
            try:
                reply = self.server.collector.get(path, query)
            except Exception as exc:
                log.error("GET %s failed: %s", path[:200], one_line(exc))
                reply = internal_error()
            self.send(frames.REPLY, frames.reply_frame(rid, reply))
        elif kind == frames.STATS:
            rid, data = frames.request_id(payload)
            fut = self.stats.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result(orjson.loads(data))
        elif kind == frames.READY and not self.ready.done():
            self.ready.set_result(None)

    @property
    def listening(self) -> bool:
        return self.ready.done() and self.ready.exception() is None and not self.closed.done()

    def _committed(self, rid: int, fut: asyncio.Future[tuple[Outcome, bytes]]) -> None:
        exc = fut.exception()
        if exc is None:
            outcome, receipt = fut.result()
            self.send(frames.RESULT, frames.result_frame(rid, _CODES[outcome], receipt))
        elif isinstance(exc, OSError | sqlite3.Error):  # the disk: nothing of that batch was stored
            self.send(frames.RESULT, frames.result_frame(rid, frames.STORAGE_ERROR, type(exc).__name__.encode()))
        else:
            log.error("submission failed in the writer: %s", one_line(exc))
            self.send(frames.RESULT, frames.result_frame(rid, frames.FAILED, type(exc).__name__.encode()))

    async def snapshot(self, rid: int) -> Any:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.stats[rid] = fut
        self.send(frames.STATS, frames.with_id(rid))
        try:
            return await asyncio.wait_for(fut, _STATS_TIMEOUT)
        finally:
            self.stats.pop(rid, None)

    def on_lost(self) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(f"collector front-end {self.index} exited before it listened"))
        self.server.lost(self)


class Writer:
    """The writer process: the collector without HTTP, and its front-ends."""

    def __init__(self, config: CollectorConfig, host: str, port: int, workers: int) -> None:
        self.collector = Collector(config)
        self.config = config
        self.host, self.port, self.workers = host, port, workers
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.links: dict[int, WriterLink] = {}
        self.stopping = False
        self._reserved: socket.socket | None = None
        self._stats_ids = 0
        self._started = False
        self.collector.metrics.gauges["front_processes"] = lambda: sum(1 for lk in self.links.values() if lk.listening)

    def _reserve_port(self) -> None:
        """Fail now if something listens on the port (a socket without ``SO_REUSEPORT`` cannot join
        another's group), then hold it (for port 0: learn which) with a bound, non-listening one."""
        probe = socket.socket(socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0])
        with probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise OSError(exc.errno, f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
            self.port = probe.getsockname()[1]
        self._reserved = listening_socket(self.host, self.port, listen=False)

    async def start(self) -> None:
        await self.collector.start()
        self._started = True
        self._reserve_port()
        await asyncio.gather(*(self.spawn(i) for i in range(1, self.workers + 1)))

    async def spawn(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        mine, theirs = socket.socketpair()
        root = str(Path(censorwatch.__file__).resolve().parents[1])  # the same censorwatch in the child
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        with theirs:
            proc = subprocess.Popen(
                [sys.executable, "-c", "from censorwatch.collector.front import main; main()",
                 str(theirs.fileno()), str(os.getpid())],
                pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
            )
        self.procs[index] = proc
        _, link = await loop.create_unix_connection(lambda: WriterLink(self, index), sock=mine)
        self.links[index] = link
        cfg = self.config
        link.send(frames.HELLO, orjson.dumps({
            "evidence_dir": str(cfg.evidence_dir), "host": self.host, "port": self.port,
            "key": self.collector.key_bytes.decode(),
            "config": cfg.settings(),
        }))
        await asyncio.wait_for(link.ready, 60)

    def lost(self, link: WriterLink) -> None:
        if self.links.get(link.index) is link:
            del self.links[link.index]
        proc = self.procs.get(link.index)
        if self.stopping or proc is None or not link.ready.done() or link.ready.exception() is not None:
            return
        log.warning("collector front-end %d (pid %d) went away; starting another", link.index, proc.pid)
        asyncio.get_running_loop().create_task(self._respawn(link.index, proc))

    async def _respawn(self, index: int, old: subprocess.Popen[bytes]) -> None:
        await asyncio.to_thread(old.wait)
        await asyncio.sleep(1.0)
        if not self.stopping:
            try:
                await self.spawn(index)
            except Exception:
                log.exception("could not start collector front-end %d again", index)

    async def metrics_reply(self) -> Reply:
        """Every process's counters summed (a front-end that does not answer in 2 s is left out)."""
        links = list(self.links.values())
        self._stats_ids += 1
        rid = self._stats_ids
        snaps = await asyncio.gather(*(link.snapshot(rid) for link in links), return_exceptions=True)
        total = Metrics()
        total.gauges = self.collector.metrics.gauges
        total.merge(self.collector.metrics.snapshot(), None)
        for link, snap in zip(links, snaps, strict=True):
            if isinstance(snap, dict):
                total.merge(snap, f"front-{link.index}")
        return 200, METRICS_TYPE, total.render(), NO_HEADERS

    async def stop(self, timeout: float = 25.0) -> None:
        """Front-ends first (they finish their answers, whose commits happen here), then the writer."""
        self.stopping = True
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for index, proc in self.procs.items():
            try:
                await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
            except TimeoutError:
                log.error("collector front-end %d did not stop in %g s; killing it", index, timeout)
                proc.kill()
                await asyncio.to_thread(proc.wait)
        for link in list(self.links.values()):
            link.close()
        if self._started:
            await self.collector.stop()
        if self._reserved is not None:
            self._reserved.close()


async def serve_writer(config: CollectorConfig, host: str, port: int, workers: int,
                       stop: asyncio.Event | None = None) -> None:
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    writer = Writer(config, host, port, workers)
    with stop_on_signals(loop, stop):
        try:
            await writer.start()
            await stop.wait()
        finally:
            with contextlib.suppress(asyncio.CancelledError):
                await writer.stop()


def run(config: CollectorConfig, host: str, port: int, workers: int) -> None:
    tune_memory()
    run_loop(serve_writer(config, host, port, workers))
