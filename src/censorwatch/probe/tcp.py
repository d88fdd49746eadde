"""TCP connect (one ``tcp_connect[]`` entry per attempt) and a traced connection.

``Conn`` wraps an asyncio stream pair: every read and write is a ``network_events`` entry with its
size and time, and it buffers so the HTTP client can read lines and exact lengths on top of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from censorwatch.model.addresses import AddressPolicy
from censorwatch.probe import errors
from censorwatch.probe.trace import Trace

READ_SIZE = 65536


def endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _left(deadline: float) -> float:
    """Seconds left until ``deadline`` (0 once it passed: the next wait for the network times out)."""
    return max(0.0, deadline - time.monotonic())


@dataclass(eq=False)
class Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    trace: Trace
    address: str
    tid: int
    proto: str = "tcp"
    _buf: bytearray = field(default_factory=bytearray)
    closed: bool = False
    on_close: Callable[[], None] | None = None

    async def read_chunk(self, timeout: float) -> bytes:
        """One read from the network (or what is buffered); b"" at EOF. Recorded as a ``read`` event."""
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            return data
        t0 = self.trace.now()
        try:
            async with asyncio.timeout(timeout):
                data = await self.reader.read(READ_SIZE)
        except errors.CAUGHT as exc:
            self.trace.event("read", address=self.address, failure=errors.classify(exc), t0=t0,
                             proto=self.proto, transaction_id=self.tid)
            raise
        self.trace.event("read", address=self.address, num_bytes=len(data),
                         failure=None if data else "eof_error", t0=t0, proto=self.proto,
                         transaction_id=self.tid)
        return data

    def unread(self, data: bytes) -> None:
        self._buf[:0] = data

    async def readline(self, timeout: float, limit: int = 65536) -> bytes:
        """Bytes up to and including ``\\n``, within ``timeout`` in all; EOFError if the stream ends first."""
        line = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            chunk = await self.read_chunk(_left(deadline))
            if not chunk:
                raise EOFError("connection closed before the end of the line")
            i = chunk.find(b"\n")
            if i >= 0:
                line += chunk[: i + 1]
                self.unread(chunk[i + 1 :])
                return bytes(line)
            line += chunk
            if len(line) > limit:
                raise errors.HTTPProtocolError(f"line longer than {limit} bytes")

    async def readexactly(self, n: int, timeout: float) -> bytes:
        """``n`` bytes within ``timeout`` in all (a trickle of bytes does not extend it)."""
        out = bytearray()
        deadline = time.monotonic() + timeout
        while len(out) < n:
            chunk = await self.read_chunk(_left(deadline))
            if not chunk:
                raise EOFError(f"connection closed after {len(out)} of {n} bytes")
            need = n - len(out)
            out += chunk[:need]
            if len(chunk) > need:
                self.unread(chunk[need:])
        return bytes(out)

    async def write(self, data: bytes, timeout: float) -> None:
        t0 = self.trace.now()
        try:
            async with asyncio.timeout(timeout):
                self.writer.write(data)
                await self.writer.drain()
        except errors.CAUGHT as exc:
            self.trace.event("write", address=self.address, failure=errors.classify(exc), t0=t0,
                             proto=self.proto, transaction_id=self.tid)
            raise
        self.trace.event("write", address=self.address, num_bytes=len(data), t0=t0, proto=self.proto,
                         transaction_id=self.tid)

    async def start_tls(self, ctx: ssl.SSLContext, server_name: str | None, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await self.writer.start_tls(ctx, server_hostname=server_name or None,
                                        ssl_handshake_timeout=timeout)

    def ssl_object(self) -> ssl.SSLObject | None:
        obj = self.writer.get_extra_info("ssl_object")
        return obj if isinstance(obj, ssl.SSLObject) else None

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.writer.close()
            with contextlib.suppress(*errors.CAUGHT):
                async with asyncio.timeout(1.0):
                    await self.writer.wait_closed()
        finally:
            if self.on_close is not None:
                self.on_close()


class HostLimiter:
    """At most ``per_host`` simultaneous connections to one destination address."""

    def __init__(self, per_host: int = 2) -> None:
        self.per_host = per_host
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    async def acquire(self, ip: str) -> Callable[[], None]:
        sem = self._sems.get(ip)
        if sem is None:
            sem = self._sems[ip] = asyncio.Semaphore(self.per_host)
        self._users[ip] = self._users.get(ip, 0) + 1
        try:
            await sem.acquire()
        except BaseException:
            self._forget(ip)
            raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                sem.release()
                self._forget(ip)

        return release

    def _forget(self, ip: str) -> None:
        self._users[ip] -= 1
        if self._users[ip] == 0:
            del self._users[ip]
            del self._sems[ip]

    def in_use(self) -> int:
        return sum(self._users.values())


async def connect(
    trace: Trace,
    ip: str,
    port: int,
    *,
    timeout: float,
    policy: AddressPolicy,
    limiter: HostLimiter | None = None,
    source: str | None = None,
) -> tuple[dict[str, Any], Conn | None]:
    """Connect to ``ip:port``; return the OONI ``tcp_connect`` entry and the connection (or None).

    With a ``limiter`` the connection holds one of the destination's slots until it is closed
    (waiting for a slot is not part of the measured connect time). ``source`` binds the local address
    (a probe measuring through one uplink of a multi-homed host).
    """
    tid = trace.transaction_id()
    addr = endpoint(ip, port)
    conn: Conn | None = None
    release = await limiter.acquire(ip) if limiter is not None else None
    try:
        with trace.step("connect", address=addr, proto="tcp", tid=tid) as res:
            why = policy.refusal(ip)
            if why is not None:
                raise errors.DestinationRefused(ip, why)
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    ip, port, limit=READ_SIZE, local_addr=(source, 0) if source else None)
            conn = Conn(reader, writer, trace, addr, tid, on_close=release)
    finally:
        if conn is None and release is not None:
            release()
    entry: dict[str, Any] = {
        "ip": ip,
        "port": port,
        "status": {"success": res.failure is None, "failure": res.failure, "blocked": None},
        "failure_raw": res.raw,
        "t0": res.t0,
        "t": res.t,
        "transaction_id": tid,
    }
    return entry, conn
