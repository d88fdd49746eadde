"""Lab servers that speak enough WireGuard, OpenVPN and Tor for the circumvention tests.

- ``WireGuardServer`` (UDP): verifies a handshake initiation addressed to its key (mac1, AEAD of the
  static key and timestamp) and answers with a real handshake response; anything else is dropped, as
  a real server does. ``allowed_peers`` restricts initiators (empty: any peer, which the lab uses).
- ``OpenVPNServer`` (UDP or TCP): answers P_CONTROL_HARD_RESET_CLIENT_V2 with
  P_CONTROL_HARD_RESET_SERVER_V2 acknowledging the client's session; drops everything else.
- ``TorRelay`` (TCP+TLS): a self-signed TLS server (as relays are) that answers a VERSIONS cell with
  VERSIONS (3, 4, 5).

Run them inside the lab's internet namespace with
``python -m censorwatch.lab.vpn_servers --wireguard IP:PORT --openvpn IP:PORT --tor IP:PORT``
(all optional; defaults in ``LAB_ENDPOINTS``); the process serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import signal
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.x509.oid import NameOID

from censorwatch.probe.circumvention import openvpn, tor, wireguard

#: The lab WireGuard server's key pair. Lab-only and public on purpose: scenarios need the public key.
LAB_WG_PRIVATE: Final = "ME8mZdMPkjJlZ4UH7ZC2pk2BwPsnKMY5d0xaZ+dCr3w="
LAB_WG_PUBLIC: Final = base64.b64encode(
    wireguard.public_bytes(wireguard.load_private(LAB_WG_PRIVATE))
).decode()
#: Where the lab world runs them (internet namespace) and the URIs a scenario probes by default.
LAB_WIREGUARD: Final = ("198.18.5.1", 51820)
LAB_OPENVPN: Final = ("198.18.5.2", 1194)  # UDP and TCP
LAB_TOR: Final = ("198.18.5.3", 9001)
LAB_ENDPOINTS: Final[dict[str, str]] = {
    "wireguard": f"wireguard://{LAB_WIREGUARD[0]}:{LAB_WIREGUARD[1]}?public_key={LAB_WG_PUBLIC}",
    "openvpn": f"openvpn://{LAB_OPENVPN[0]}:{LAB_OPENVPN[1]}?transport=udp",
    "openvpn_tcp": f"openvpn://{LAB_OPENVPN[0]}:{LAB_OPENVPN[1]}?transport=tcp",
    "tor": f"tor://{LAB_TOR[0]}:{LAB_TOR[1]}",
}


class _Handlers:
    """Connection handler tasks of a stream server, so closing it leaves no task behind."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    def track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)  # type: ignore[arg-type]
            task.add_done_callback(self.tasks.discard)

    async def cancel(self) -> None:
        for t in list(self.tasks):
            t.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=2.0)


class _WGProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: WireGuardServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            ini = wireguard.consume_initiation(data, self.server.key)
        except wireguard.HandshakeError:
            self.server.dropped += 1
            return
        if self.server.allowed_peers and ini.initiator_public not in self.server.allowed_peers:
            self.server.dropped += 1
            return
        self.server.handshakes += 1
        if self.transport is not None:
            self.transport.sendto(wireguard.respond(ini), addr)


@dataclass(eq=False)
class WireGuardServer:
    key: X25519PrivateKey
    allowed_peers: frozenset[bytes] = frozenset()
    handshakes: int = 0
    dropped: int = 0
    _transport: asyncio.DatagramTransport | None = field(default=None, repr=False)

    @property
    def public_b64(self) -> str:
        return base64.b64encode(wireguard.public_bytes(self.key)).decode()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _WGProtocol(self), local_addr=(host, port))
        self._transport = transport
        return transport.get_extra_info("sockname")[:2]

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _OVPNUDP(asyncio.DatagramProtocol):
    def __init__(self, server: OpenVPNServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.answer(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


@dataclass(eq=False)
class OpenVPNServer:
    resets: int = 0
    dropped: int = 0
    _closers: list[asyncio.BaseTransport | asyncio.Server] = field(default_factory=list, repr=False)
    _handlers: _Handlers = field(default_factory=_Handlers, repr=False)

    def answer(self, packet: bytes) -> bytes | None:
        try:
            p = openvpn.parse(packet)
        except openvpn.OpenVPNError:
            self.dropped += 1
            return None
        if p.opcode != openvpn.P_CONTROL_HARD_RESET_CLIENT_V2:
            self.dropped += 1
            return None
        self.resets += 1
        return openvpn.server_hard_reset(openvpn.new_session_id(), p)

    async def start_udp(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _OVPNUDP(self), local_addr=(host, port))
        self._closers.append(transport)
        return transport.get_extra_info("sockname")[:2]

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.track()
        try:
            async with asyncio.timeout(10):
                while True:
                    head = await reader.readexactly(2)
                    packet = await reader.readexactly(int.from_bytes(head, "big"))
                    reply = self.answer(packet)
                    if reply is None:
                        break
                    writer.write(openvpn.frame(reply))
                    await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start_tcp(self, host: str, port: int) -> tuple[str, int]:
        server = await asyncio.start_server(self._tcp_client, host, port)
        self._closers.append(server)
        return server.sockets[0].getsockname()[:2]

    def close(self) -> None:
        for c in self._closers:
            c.close()

    async def aclose(self) -> None:
        self.close()
        await self._handlers.cancel()


def self_signed_context(common_name: str = "www.lab-relay.net") -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate, as Tor relays use."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as d:
        cert_path, key_path = Path(d) / "c.pem", Path(d) / "k.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        ctx.load_cert_chain(cert_path, key_path)
    return ctx


@dataclass(eq=False)
class TorRelay:
    handshakes: int = 0
    _server: asyncio.Server | None = field(default=None, repr=False)
    _handlers: _Handlers = field(default_factory=_Handlers, repr=False)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._handlers.track()
        try:
            async with asyncio.timeout(10):
                head = await reader.readexactly(5)
                body = await reader.readexactly(tor.cells_needed(head) - 5)
                tor.parse_versions(head + body)
                self.handshakes += 1
                writer.write(tor.versions_cell())
                await writer.drain()
                await reader.read(1)  # hold the link until the client goes away
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, tor.TorError):
            pass
        finally:
            writer.close()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._client, host, port, ssl=self_signed_context())
        return self._server.sockets[0].getsockname()[:2]

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def aclose(self) -> None:
        self.close()
        await self._handlers.cancel()


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected IP:PORT, got {text!r}")
    return host.strip("[]"), int(port)


async def serve(wg: tuple[str, int] | None, ovpn: tuple[str, int] | None, relay: tuple[str, int] | None) -> None:
    """Serve until SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    closers: list[WireGuardServer | OpenVPNServer | TorRelay] = []
    if wg is not None:
        w = WireGuardServer(wireguard.load_private(LAB_WG_PRIVATE))
        await w.start(*wg)
        closers.append(w)
    if ovpn is not None:
        o = OpenVPNServer()
        await o.start_udp(*ovpn)
        await o.start_tcp(*ovpn)
        closers.append(o)
    if relay is not None:
        t = TorRelay()
        await t.start(*relay)
        closers.append(t)
    print("ready", flush=True)
    try:
        await stop.wait()
    finally:
        for c in closers:
            with contextlib.suppress(OSError):
                if isinstance(c, WireGuardServer):
                    c.close()
                else:
                    await c.aclose()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m censorwatch.lab.vpn_servers", description=__doc__)
    ap.add_argument("--wireguard", type=_hostport, default=None, help="IP:PORT (UDP)")
    ap.add_argument("--openvpn", type=_hostport, default=None, help="IP:PORT (UDP and TCP)")
    ap.add_argument("--tor", type=_hostport, default=None, help="IP:PORT (TLS OR port)")
    ap.add_argument("--lab-defaults", action="store_true", help="all three on the LAB_* addresses")
    a = ap.parse_args(argv)
    if a.lab_defaults:
        a.wireguard, a.openvpn, a.tor = LAB_WIREGUARD, LAB_OPENVPN, LAB_TOR
    asyncio.run(serve(a.wireguard, a.openvpn, a.tor))


if __name__ == "__main__":
    main()
