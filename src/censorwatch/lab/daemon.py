"""The world daemon: one asyncio process serving every host of the internet namespace and running
every censor's user-space half (sockets are opened inside the censor namespaces with setns).

Started by ``instance.LabInstance`` through ``nsrun`` (imports done early, then moved into the
internet namespace) as ``censorwatch.lab.daemon STATE``; prints ``ready`` once listening, re-reads
``STATE/config.json`` on SIGHUP and exits on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import random
import signal
import socket
import ssl
import sys
from pathlib import Path
from typing import Any

import dns.exception
import dns.message

from censorwatch.lab import addresses as A
from censorwatch.lab import dnszone, netns
from censorwatch.lab.censor import PROXY_PORT
from censorwatch.lab.certs import CertStore
from censorwatch.lab.nfqueue import Queue, udp_judge
from censorwatch.lab.protocols import matches
from censorwatch.lab.proxy import CensorProxy, IspProxy
from censorwatch.lab.scenario import ZoneChanges
from censorwatch.lab.sites import SiteServer, banner
from censorwatch.lab.world import DEFAULT_WORLD, Host, World, lookup

TCP_DNS_TIMEOUT = 10.0


def zone_changes(d: dict[str, Any] | None) -> ZoneChanges:
    if not d:
        return ZoneChanges()
    return ZoneChanges(tuple(d.get("remove", ())), {k: tuple(v) for k, v in d.get("add", {}).items()})


def _listen(ns: str | None, addr: str, port: int, kind: int = socket.SOCK_STREAM) -> socket.socket:
    with netns.netns(ns):
        s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        s.listen(512)
    s.setblocking(False)
    return s


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            out = self.answer(data)
        except (dns.exception.DNSException, ValueError):
            return
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)


class Daemon:
    def __init__(self, state: Path, world: World = DEFAULT_WORLD) -> None:
        self.state = state
        self.world = world
        self.config: dict[str, Any] = {}
        self.zones: dict[str, dnszone.Zone] = {}  # resolver address -> zone
        self.proxies: dict[int, CensorProxy] = {}
        self.servers: list[asyncio.AbstractServer] = []
        self.transports: list[asyncio.BaseTransport] = []
        self.tls: dict[str, ssl.SSLContext] = {}

    def load(self) -> None:
        self.config = json.loads((self.state / "config.json").read_text())
        everywhere = zone_changes(self.config.get("everywhere"))
        public = dnszone.effective_zone(self.world, everywhere, None, None)
        zones = {addr: public for addr in A.PUBLIC_RESOLVERS}
        for net in self.config["networks"]:
            n = net["index"]
            zones[A.isp_resolver(n)] = dnszone.effective_zone(self.world, everywhere,
                                                              zone_changes(net.get("resolver")), n)
            if n in self.proxies:
                self.proxies[n].rules = net.get("proxy_rules", [])
        self.zones = zones

    # -- DNS ----------------------------------------------------------------------------------------------
    def resolver(self, addr: str) -> Any:
        def answer(wire: bytes) -> bytes:
            q = dns.message.from_wire(wire)
            return dnszone.answer(self.zones[addr], q).to_wire()
        return answer

    @staticmethod
    def forge(wire: bytes, addresses: list[str]) -> bytes | None:
        """The censor's forged answer to the query ``wire`` (None when it does not parse)."""
        try:
            return dnszone.spoof(dns.message.from_wire(wire), addresses).to_wire()
        except (dns.exception.DNSException, ValueError):
            return None

    async def _tcp_dns(self, answer: Any, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(TCP_DNS_TIMEOUT):
                n = int.from_bytes(await r.readexactly(2), "big")
                out = answer(await r.readexactly(n))
                w.write(len(out).to_bytes(2, "big") + out)
                await w.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, dns.exception.DNSException, ValueError):
            pass
        finally:
            w.close()

    # -- TLS ----------------------------------------------------------------------------------------------
    def tls_for(self, host: Host, certs: CertStore) -> ssl.SSLContext:
        def ctx(files: Any) -> ssl.SSLContext:
            c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            c.load_cert_chain(files.cert, files.key)
            return c

        if host.kind != "badssl":
            return ctx(certs.host(host.address))
        by_name = {"expired.badssl.com": ctx(certs.special("expired")),
                   "wrong.host.badssl.com": ctx(certs.special("wrong-host"))}
        untrusted = ctx(certs.special("untrusted"))

        def pick(sslobj: ssl.SSLObject, name: str | None, _c: ssl.SSLContext) -> None:
            sslobj.context = by_name.get((name or "").lower(), untrusted)

        untrusted.sni_callback = pick  # type: ignore[assignment]
        return untrusted

    # -- startup ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.load()
        loop = asyncio.get_running_loop()
        certs = CertStore(Path(self.config["cache_dir"]), self.world)
        for h in self.world.hosts:
            doh = self.resolver(h.address) if h.kind == "doh" else None
            if h.http:
                await self._serve(None, h.address, 80, SiteServer(h, None, doh).handle)
            if h.https:
                factory = functools.partial(self.tls_for, h, certs)
                await self._serve(None, h.address, 443, SiteServer(h, factory, doh).handle)
            for port in h.extra_tcp:
                await self._serve(None, h.address, port, banner)
        for addr in self.zones:
            ans = self.resolver(addr)
            await self._udp(None, addr, 53, ans)
            await self._serve(None, addr, 53, functools.partial(self._tcp_dns, ans))
        for net in self.config["networks"]:
            n, ns = net["index"], net["censor_ns"]
            proxy = CensorProxy(ns, net.get("proxy_rules", []), seed=n)
            self.proxies[n] = proxy
            await self._serve(ns, "0.0.0.0", PROXY_PORT, proxy.handle)
            judge = udp_judge(proxy.current_rules, random.Random(n), matches, self.forge)
            Queue(ns, judge).start(loop)  # an OSError here ends the daemon: rules must not go unjudged
            isp = IspProxy(ns, lambda name: lookup(self.zones[A.PUBLIC_RESOLVERS[0]], name))
            for port in (80, 443):
                await self._serve(ns, A.isp_proxy(n), port, isp.handle)
        loop.add_signal_handler(signal.SIGHUP, self._reload)

    def _reload(self) -> None:
        """Re-read the configuration; the parent waits for ``reloaded N`` (or ``failed: ...``)."""
        try:
            self.load()
        except (OSError, ValueError, KeyError) as exc:
            print(f"failed: reload: {exc}", flush=True)
            return
        print(f"reloaded {self.config.get('generation', 0)}", flush=True)

    async def _serve(self, ns: str | None, addr: str, port: int, handler: Any) -> None:
        sock = _listen(ns, addr, port)
        self.servers.append(await asyncio.start_server(handler, sock=sock, limit=1 << 20))

    async def _udp(self, ns: str | None, addr: str, port: int, answer: Any) -> None:
        sock = _listen(ns, addr, port, socket.SOCK_DGRAM)
        t, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: _Udp(answer), sock=sock)
        self.transports.append(t)

    async def run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
        except OSError as exc:  # a listener or the packet queue: the censor would not be in force
            print(f"failed: {exc}", flush=True)
            raise
        print("ready", flush=True)
        await stop.wait()
        for s in self.servers:
            s.close()
        for t in self.transports:
            t.close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m censorwatch.lab.daemon STATE_DIR", file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Daemon(Path(argv[0])).run())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
