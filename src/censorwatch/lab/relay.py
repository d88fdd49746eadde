"""The lab's collector host: ``collector.lab.censorwatch.test`` (``@collector``, 198.18.0.80, port 80)
in the internet namespace relays every TCP connection to a collector on this machine (the
observatory's, on loopback), so probes in the ISP namespaces submit over the lab network, through
their ISP's censor, like probes on a real network (a shutdown cuts them off; their spool keeps what
they measured until it lifts).

A process of the world like the others (``nsrun``, so ``lab clean`` finds it in the namespace): its
preload hook keeps a handle on the machine's namespace before it enters the lab's, and each
upstream socket is made in that namespace (a socket stays in the namespace it was made in). It
relays only to the one address it was started with.

Started through nsrun as ``censorwatch.lab.relay:main HOST:PORT`` (the preloaded module itself, which
holds the handle); prints ``ready`` once it listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from censorwatch.lab import addresses as A
from censorwatch.lab.errors import LabError

PORT = 80
PRELOAD = "censorwatch.lab.relay:remember_host_namespace"
URL = f"http://{A.COLLECTOR}/"  # what probes in the lab submit to (an address: nsrun keeps the host's /etc)
_CLONE_NEWNET = 0x40000000
_HOST_NS: list[int] = []


def remember_host_namespace() -> None:
    """nsrun's preload hook, run before it moves the process into the lab's namespace."""
    _HOST_NS.append(os.open("/proc/self/ns/net", os.O_RDONLY))


def _setns(fd: int) -> None:
    if ctypes.CDLL(None, use_errno=True).setns(fd, _CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns failed")


def _host_socket(family: int) -> socket.socket:
    """A TCP socket in the machine's namespace (this thread returns to the lab's right after)."""
    here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(_HOST_NS[0])
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        finally:
            _setns(here)
    finally:
        os.close(here)
    s.setblocking(False)
    return s


async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except (OSError, ConnectionError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if w.can_write_eof():
                w.write_eof()


async def _relay(upstream: tuple[str, int], r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    loop = asyncio.get_running_loop()
    family = socket.getaddrinfo(*upstream, type=socket.SOCK_STREAM)[0][0]
    s = _host_socket(family)
    try:
        async with asyncio.timeout(10):
            await loop.sock_connect(s, upstream)
        ur, uw = await asyncio.open_connection(sock=s)
    except (OSError, TimeoutError):
        s.close()
        w.close()  # the collector is down: the probe sees a closed connection and keeps its spool
        return
    try:
        await asyncio.gather(_pipe(r, uw), _pipe(ur, w))
    finally:
        uw.close()
        w.close()


async def serve(upstream: tuple[str, int]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await asyncio.start_server(lambda r, w: _relay(upstream, r, w), A.COLLECTOR, PORT,
                                        reuse_address=True, backlog=512)
    print("ready", flush=True)
    async with server:
        await stop.wait()


def parse_upstream(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise LabError(f"the collector to relay to must be HOST:PORT, not {text!r}")
    return host.strip("[]"), int(port)


def start(lab: Any, upstream: str, timeout: float = 15.0) -> subprocess.Popen[str]:
    """Serve the world's collector host (``lab``: a running ``LabInstance``), relaying to ``upstream``."""
    from censorwatch.lab.pool import POOL

    parse_upstream(upstream)
    proc = POOL.take(PRELOAD)
    assert proc.stdin is not None and proc.stdout is not None
    log = lab.topo.state_dir / "relay.log"
    go = {"ns": lab.topo.inet, "argv": ["censorwatch.lab.relay:main", upstream], "log": str(log)}
    proc.stdin.write(json.dumps(go) + "\n")
    proc.stdin.flush()
    import select

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.1)[0]:
            if proc.stdout.readline().strip() == "ready":
                return proc
            break
        if proc.poll() is not None:
            break
    tail = log.read_text()[-1500:] if log.exists() else ""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    raise LabError(f"the collector relay did not start: {tail.strip()}")


def main() -> None:
    """nsrun's entry (``sys.argv`` = [entry, HOST:PORT])."""
    if len(sys.argv) != 2 or not _HOST_NS:
        print(f"usage: nsrun --preload {PRELOAD}, then argv [censorwatch.lab.relay:main, HOST:PORT]", file=sys.stderr)
        sys.exit(2)
    asyncio.run(serve(parse_upstream(sys.argv[1])))
