"""A user-space rate-limited HTTP(S) download server, for throttling tests and benchmarks.

Every response is a large body sent through a token bucket: ``link_kbps`` caps every host (a slow
network), ``caps_kbps[host]`` caps one Host (a throttle, as an SNI-keyed shaper does); the effective
rate is the smaller one. ``None`` means unpaced. The bucket allows ``burst`` bytes ahead of time, as a
tbf qdisc does, so the measurement has to look past the first burst to see the real rate.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

_TICK = 0.01
_CHUNK = bytes(64 * 1024)


@dataclass(eq=False)
class PacedServer:
    link_kbps: float | None = None
    caps_kbps: dict[str, float] = field(default_factory=dict)
    body_size: int = 64 << 20
    burst: int = 16 * 1024
    ssl_context: ssl.SSLContext | None = None
    served: int = 0
    _server: asyncio.Server | None = field(default=None, repr=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    def rate_for(self, host: str) -> float | None:
        """Effective kbps for ``host`` (``None``: unpaced)."""
        rates = [r for r in (self.link_kbps, self.caps_kbps.get(host.split(":")[0].lower())) if r]
        return min(rates) if rates else None

    async def _send(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        rate = self.rate_for(host)
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     f"Content-Length: {self.body_size}\r\nConnection: close\r\n\r\n".encode())
        loop = asyncio.get_running_loop()
        start = loop.time()
        sent = 0
        while sent < self.body_size:
            if writer.is_closing() or reader.at_eof() or reader.exception() is not None:
                return
            if rate is None:
                n = min(len(_CHUNK), self.body_size - sent)
            else:
                allowed = int(rate * 125 * (loop.time() - start)) + self.burst - sent
                if allowed <= 0:
                    await asyncio.sleep(_TICK)
                    continue
                n = min(allowed, len(_CHUNK), self.body_size - sent)
            writer.write(_CHUNK[:n])
            sent += n
            await writer.drain()
            if rate is not None:
                await asyncio.sleep(_TICK)  # drain() does not yield below the high-water mark

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            async with asyncio.timeout(120):
                head = await reader.readuntil(b"\r\n\r\n")
                host = ""
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "host":
                        host = value.strip()
                self.served += 1
                await self._send(reader, writer, host)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                ssl.SSLError):
            pass
        finally:
            writer.transport.abort()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._client, host, port, ssl=self.ssl_context)
        return self._server.sockets[0].getsockname()[:2]

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def aclose(self) -> None:
        """Stop listening and end every transfer still running (no task outlives the server)."""
        self.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
