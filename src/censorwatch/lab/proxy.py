"""The censor's user-space half for TCP: a transparent proxy for close/blockpage/throttle/protocol rules,
and the ISP's own transparent proxy (``@isp_proxy``). (UDP is judged per packet in ``nfqueue.py``.)

Connections arrive by iptables REDIRECT; SO_ORIGINAL_DST gives the real destination. The proxy connects
upstream first (an unreachable server stays unreachable: refused -> RST, silent -> silence), reads
the client's first bytes, and applies the first matching rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Callable
from typing import Any

from censorwatch.lab import http11, netns
from censorwatch.lab.censor import match, parse_host, parse_sni
from censorwatch.lab.pages import BLOCKPAGE_HTML

SO_ORIGINAL_DST = 80
CONNECT_TIMEOUT = 10.0
FIRST_BYTES_TIMEOUT = 5.0
HOLD_TIMEOUT = 120.0
IDLE_TIMEOUT = 120.0
CHUNK = 16 * 1024
RTO = 0.2  # retransmission penalty for an emulated lost segment


def original_dst(sock: socket.socket) -> tuple[str, int]:
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, packed = struct.unpack_from("!2xH4s", raw)
    return socket.inet_ntoa(packed), port


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the kernel sends a RST."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort() if sock is None else writer.close()


async def open_in(ns: str | None, addr: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    with netns.netns(ns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await loop.sock_connect(sock, (addr, port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


async def _hold(reader: asyncio.StreamReader) -> None:
    """Swallow whatever the client sends, answer nothing (a dropped flow)."""
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(HOLD_TIMEOUT):
            while await reader.read(CHUNK):
                pass


class Shaper:
    """Delay, loss (as retransmission delays) and a rate cap, applied per chunk in user space."""

    def __init__(self, rule: dict[str, Any] | None, rng: random.Random) -> None:
        self.delay = (rule or {}).get("delay_ms", 0) / 1000.0
        self.loss = (rule or {}).get("loss", 0.0)
        rate = (rule or {}).get("rate_kbps")
        self.rate = rate * 1000 / 8 if rate else None  # bytes/s
        self.rng = rng

    @property
    def active(self) -> bool:
        return bool(self.delay or self.loss or self.rate)

    def chunk(self) -> int:
        return min(CHUNK, max(512, int(self.rate / 20))) if self.rate else CHUNK

    def lost_penalty(self, n: int) -> float:
        """Retransmission time for the segments of an ``n``-byte chunk that the link 'lost'."""
        penalty, rto = 0.0, RTO
        for _ in range(max(1, n // 1448)):
            if self.loss and self.rng.random() < self.loss:
                penalty += rto
                rto = min(rto * 2, 3.0)
        return penalty


async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, shaper: Shaper) -> None:
    """Copy ``src`` to ``dst``. Shaped: every chunk arrives ``delay`` after it was read (latency, so
    chunks stay pipelined), lost segments hold the stream back by a retransmission timeout, and the
    writer paces to the rate cap."""
    if not shaper.active:
        await _copy(src, dst)
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=256)

    async def read() -> None:
        try:
            while True:
                async with asyncio.timeout(IDLE_TIMEOUT):
                    data = await src.read(shaper.chunk())
                await queue.put((loop.time() + shaper.delay, data))
                if not data:
                    return
        except (OSError, TimeoutError):
            await queue.put((loop.time(), b""))

    async def write() -> None:
        free_at = loop.time()
        while True:
            due, data = await queue.get()
            if not data:
                break
            due += shaper.lost_penalty(len(data))
            if shaper.rate:
                free_at = max(free_at, due) + len(data) / shaper.rate
                due = free_at
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            dst.write(data)
            async with asyncio.timeout(IDLE_TIMEOUT):
                await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(read())
            tg.create_task(write())
    except* (OSError, TimeoutError):
        reset(dst)


async def _copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while True:
            async with asyncio.timeout(IDLE_TIMEOUT):
                data = await src.read(CHUNK)
            if not data:
                break
            dst.write(data)
            async with asyncio.timeout(IDLE_TIMEOUT):
                await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except (OSError, TimeoutError):
        reset(dst)


async def splice(cr: asyncio.StreamReader, cw: asyncio.StreamWriter, ur: asyncio.StreamReader,
                 uw: asyncio.StreamWriter, first: bytes, shaper: Shaper) -> None:
    if first:
        if shaper.active:
            await asyncio.sleep(shaper.delay + shaper.lost_penalty(len(first)))
        uw.write(first)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(pipe(cr, uw, shaper))
        tg.create_task(pipe(ur, cw, shaper))


_HTTP_METHODS = (b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"CONNECT", b"PATCH", b"TRACE")
FIRST_BYTES_MAX = 64 * 1024


def opening_complete(data: bytes) -> bool:
    """Whether ``data`` holds the whole opening a rule can match on: a TLS record (a ClientHello that
    arrived in several segments is waited for), an HTTP request head; any other bytes at once."""
    if not data:
        return False
    if data[0] == 0x16:
        return len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big")
    word = data.split(b" ", 1)[0]
    if any(m.startswith(word) for m in _HTTP_METHODS) and (b" " in data or len(data) < 8):
        return b"\r\n\r\n" in data
    return True


async def _first_bytes(reader: asyncio.StreamReader) -> bytes:
    """The client's opening bytes (see ``opening_complete``); b"" when it sends nothing for
    FIRST_BYTES_TIMEOUT (a server-speaks-first protocol)."""
    data = b""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FIRST_BYTES_TIMEOUT):
            while not opening_complete(data) and len(data) < FIRST_BYTES_MAX:
                chunk = await reader.read(CHUNK)
                if not chunk:
                    break
                data += chunk
    return data


class CensorProxy:
    """One per censor namespace; ``rules`` is swapped in place when the timeline changes them."""

    def __init__(self, ns: str, rules: list[dict[str, Any]], seed: int = 0) -> None:
        self.ns = ns
        self.rules = rules
        self.rng = random.Random(seed)

    def current_rules(self) -> list[dict[str, Any]]:
        """The rules in force now (the packet judge of the same namespace reads them too)."""
        return self.rules

    async def handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            await self._handle(cr, cw)
        except (OSError, TimeoutError):
            reset(cw)
        finally:
            cw.close()

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        dst, port = original_dst(cw.get_extra_info("socket"))
        try:
            ur, uw = await open_in(self.ns, dst, port)
        except ConnectionRefusedError:
            reset(cw)
            return
        except (OSError, TimeoutError):
            await _hold(cr)
            return
        try:
            first = await _first_bytes(cr)
            rule = match(self.rules, dst, port, first)
            action = rule["action"] if rule else None
            if action == "reset":
                reset(cw)
            elif action == "drop":
                await _hold(cr)
            elif action == "close":
                cw.write_eof()
                await _hold(cr)
            elif action == "blockpage":
                await http11.send(cw, http11.response(403, BLOCKPAGE_HTML, {"Server": "censor"}))
            else:
                await splice(cr, cw, ur, uw, first, Shaper(rule if action == "throttle" else None, self.rng))
        finally:
            uw.close()


class IspProxy:
    """The ISP's transparent proxy: forwards HTTP by Host and TLS by SNI to the real site."""

    def __init__(self, ns: str, resolve: Callable[[str], list[str] | None]) -> None:
        self.ns = ns
        self.resolve = resolve

    async def handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            port = cw.get_extra_info("sockname")[1]
            first = await _first_bytes(cr)
            name = parse_sni(first) or parse_host(first)
            addrs = self.resolve(name) if name else None
            if not addrs:
                await http11.send(cw, http11.response(400, b"unknown host\n"))
                return
            ur, uw = await open_in(self.ns, addrs[0], port)
            try:
                await splice(cr, cw, ur, uw, first, Shaper(None, random.Random()))
            finally:
                uw.close()
        except (OSError, TimeoutError):
            reset(cw)
        finally:
            cw.close()
