"""One UDP request/response exchange with retransmission, traced as ``network_events``.

The socket is connected, so an ICMP port-unreachable surfaces as ``connection_refused`` (the host
is up, nothing listens) rather than as silence. Every datagram sent and received is a ``write``/``read``
event with its size; the first reply ``accept`` takes ends the exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from censorwatch.probe import errors
from censorwatch.probe.trace import Trace


@dataclass(slots=True)
class Exchange:
    reply: bytes | None
    failure: str | None
    failure_raw: str | None
    attempts: int
    rejected: int  # datagrams received that ``accept`` refused
    t0: float
    t: float


class _Proto(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(exc)


async def exchange(
    trace: Trace,
    ip: str,
    port: int,
    payload: bytes | Callable[[], bytes],
    accept: Callable[[bytes], bool],
    *,
    timeout: float,
    attempts: int = 3,
) -> Exchange:
    """Send ``payload`` up to ``attempts`` times, ``timeout / attempts`` apart, until ``accept(reply)``."""
    address = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    tid = trace.transaction_id()
    loop = asyncio.get_running_loop()
    t0 = trace.now()
    rejected = sent = 0
    transport: asyncio.DatagramTransport | None = None
    failure = raw = None
    reply: bytes | None = None
    trace.event("udp_exchange_start", address=address, proto="udp", transaction_id=tid, t0=t0)
    try:
        transport, proto = await asyncio.wait_for(
            loop.create_datagram_endpoint(_Proto, remote_addr=(ip, port)), timeout
        )
        assert transport is not None
        per_try = timeout / attempts
        while sent < attempts and reply is None:
            data = payload() if callable(payload) else payload
            transport.sendto(data)
            sent += 1
            trace.event("write", address=address, num_bytes=len(data), proto="udp", transaction_id=tid)
            deadline = loop.time() + per_try
            while reply is None:
                left = deadline - loop.time()
                if left <= 0:
                    break
                r0 = trace.now()
                try:
                    got = await asyncio.wait_for(proto.queue.get(), left)
                except TimeoutError:
                    break
                if isinstance(got, Exception):
                    raise got
                trace.event("read", address=address, num_bytes=len(got), proto="udp", transaction_id=tid, t0=r0)
                if accept(got):
                    reply = got
                else:
                    rejected += 1
        if reply is None:
            failure, raw = errors.failure_of(TimeoutError(f"no valid reply after {sent} datagram(s)"))
    except errors.CAUGHT as exc:
        failure, raw = errors.failure_of(exc)
    finally:
        if transport is not None:
            transport.close()
    trace.event("udp_exchange_done", address=address, proto="udp", transaction_id=tid, t0=t0, failure=failure)
    return Exchange(reply, failure, raw, sent, rejected, t0, trace.now())
