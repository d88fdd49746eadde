"""Circumvention tests on loopback: real servers (lab/vpn_servers.py), real probes, real verdicts."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from censorwatch.analysis.vpn import classify_vpn
from censorwatch.lab import vpn_servers as vs
from censorwatch.model.addresses import AddressPolicy
from censorwatch.model.measurement import Measurement
from censorwatch.probe import vpn
from censorwatch.probe.circumvention import endpoints, wireguard

POLICY = AddressPolicy(allow_loopback=True)


async def _measure(uri: str, timeout: float = 1.5) -> tuple[dict[str, Any], Any]:
    m = await vpn.run(endpoints.parse(uri), timeout=timeout, policy=POLICY)
    return m, classify_vpn(Measurement.from_raw(m, "test"))


@pytest.fixture
async def servers() -> AsyncIterator[dict[str, Any]]:
    w = vs.WireGuardServer(wireguard.load_private(vs.LAB_WG_PRIVATE))
    _, wp = await w.start("127.0.0.1", 0)
    o = vs.OpenVPNServer()
    _, ou = await o.start_udp("127.0.0.1", 0)
    _, ot = await o.start_tcp("127.0.0.1", 0)
    t = vs.TorRelay()
    _, tp = await t.start("127.0.0.1", 0)
    yield {"wg": w, "wg_port": wp, "ovpn": o, "ovpn_udp": ou, "ovpn_tcp": ot, "tor": t, "tor_port": tp}
    w.close()
    await o.aclose()
    await t.aclose()


async def test_every_protocol_completes_its_handshake(servers: dict[str, Any]) -> None:
    uris = [
        f"wireguard://127.0.0.1:{servers['wg_port']}?public_key={vs.LAB_WG_PUBLIC}",
        f"openvpn://127.0.0.1:{servers['ovpn_udp']}?transport=udp",
        f"openvpn://127.0.0.1:{servers['ovpn_tcp']}?transport=tcp",
        f"tor://127.0.0.1:{servers['tor_port']}",
    ]
    for uri in uris:
        m, v = await _measure(uri)
        assert v.status == "ok", (uri, v.explanation, m["test_keys"]["handshake"])
        assert m["test_keys"]["handshake"]["response"]
        writes = [e for e in m["test_keys"]["network_events"] if e["operation"] == "write"]
        assert writes and writes[0]["num_bytes"] in (148, 14, 16, 11), writes
    assert servers["wg"].handshakes == 1
    assert servers["ovpn"].resets == 2
    assert servers["tor"].handshakes == 1
    assert m["test_name"] == "tor"


async def test_wireguard_with_a_configured_peer_key(servers: dict[str, Any]) -> None:
    priv, pub = wireguard.generate()
    servers["wg"].allowed_peers = frozenset({wireguard.load_public(pub)})
    base = f"wireguard://127.0.0.1:{servers['wg_port']}?public_key={vs.LAB_WG_PUBLIC}"
    m, ok = await _measure(f"{base}&private_key={priv}")
    assert ok.status == "ok"
    assert priv not in m["input"] and "private_key" not in m["input"] and vs.LAB_WG_PUBLIC in m["input"]
    # an unknown peer is dropped silently, exactly like a real server: seen as a dropped handshake
    m, bad = await _measure(base, timeout=0.9)
    assert bad.method == "vpn.blocked" and m["test_keys"]["handshake"]["attempts"] == 3
    assert servers["wg"].dropped == 3


async def test_dropped_udp_handshake_on_a_reachable_host_is_vpn_blocked() -> None:
    # a UDP socket that swallows everything (what a DPI drop looks like); nothing on TCP: RST = reachable
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    port = sink.getsockname()[1]
    try:
        m, v = await _measure(f"openvpn://127.0.0.1:{port}?transport=udp", timeout=0.9)
    finally:
        sink.close()
    assert v.method == "vpn.blocked" and v.status == "anomaly", v.explanation
    assert m["test_keys"]["host_reachable"] is True
    assert m["test_keys"]["tcp_connect"][0]["status"]["failure"] == "connection_refused"
    assert v.details["handshake"] == "dropped"


async def test_garbage_reply_is_not_a_handshake() -> None:
    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            self.t.sendto(data, addr)

    loop = asyncio.get_running_loop()
    tr, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
    port = tr.get_extra_info("sockname")[1]
    try:
        m, v = await _measure(f"wireguard://127.0.0.1:{port}?public_key={vs.LAB_WG_PUBLIC}", timeout=0.9)
    finally:
        tr.close()
    assert m["test_keys"]["handshake"]["failure"].startswith("unknown_failure: invalid handshake response")
    assert v.method == "vpn.blocked"


async def test_closed_udp_port_is_down_not_blocked() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens: the kernel answers ICMP port unreachable
    m, v = await _measure(f"wireguard://127.0.0.1:{port}?public_key={vs.LAB_WG_PUBLIC}", timeout=0.9)
    assert m["test_keys"]["handshake"]["failure"] == "connection_refused"
    assert (v.status, v.method, v.rule) == ("down", "unreachable", "vpn.refused")


async def _rst_server(after_bytes: bool) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if after_bytes:
            await reader.read(1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_tor_reset_after_client_hello_is_vpn_blocked() -> None:
    server, port = await _rst_server(after_bytes=True)
    async with server:
        m, v = await _measure(f"tor://127.0.0.1:{port}")
    assert m["test_keys"]["tcp_connect"][0]["status"]["success"] is True
    assert m["test_keys"]["handshake"]["failure"] == "connection_reset"
    assert (v.method, v.details["handshake"]) == ("vpn.blocked", "reset")


async def test_openvpn_tcp_reset_and_refused() -> None:
    server, port = await _rst_server(after_bytes=True)
    async with server:
        _, v = await _measure(f"openvpn://127.0.0.1:{port}?transport=tcp")
    assert v.method == "vpn.blocked"
    _, refused = await _measure(f"openvpn://127.0.0.1:{port}?transport=tcp")  # server gone
    assert refused.status == "down" and refused.method == "unreachable"


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("wireguard://198.18.5.1:51820", "public_key"),
        ("wireguard://198.18.5.1:51820?public_key=abc", "base64"),
        ("openvpn://vpn.example.com:1194", "IP address"),
        ("openvpn://198.18.5.2:1194?transport=sctp", "udp or tcp"),
        ("ipsec://198.18.5.2:500", "scheme"),
        ("tor://198.18.5.3", "IP:PORT"),
        ("tor://198.18.5.3:9001?bridge=1", "unknown parameter"),
    ],
)
def test_bad_endpoints_say_why(uri: str, reason: str) -> None:
    with pytest.raises(endpoints.EndpointError, match=reason):
        endpoints.parse(uri, "list.txt:3")


def test_endpoint_file_errors_carry_the_line(tmp_path: Any) -> None:
    f = tmp_path / "eps.txt"
    f.write_text("# mine\ntor://198.18.5.3:9001\n\nopenvpn://nope:1\n")
    with pytest.raises(endpoints.EndpointError, match=r"eps.txt:4"):
        endpoints.load(f)
    f.write_text(f"tor://198.18.5.3:9001  # relay\n{vs.LAB_ENDPOINTS['wireguard']}\n")
    eps = endpoints.load(f)
    assert [e.protocol for e in eps] == ["tor", "wireguard"]
    assert eps[1].params["public_key"] == vs.LAB_WG_PUBLIC  # '+' survives the query string


async def test_a_slowed_handshake_is_vpn_throttling() -> None:
    key = wireguard.load_private(vs.LAB_WG_PRIVATE)

    class Slow(asyncio.DatagramProtocol):  # a WireGuard responder whose answers a censor holds 400 ms
        def connection_made(self, transport: Any) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            reply = wireguard.respond(wireguard.consume_initiation(data, key))
            asyncio.get_running_loop().call_later(0.7, self.t.sendto, reply, addr)

    loop = asyncio.get_running_loop()
    tr, _ = await loop.create_datagram_endpoint(Slow, local_addr=("127.0.0.1", 0))
    port = tr.get_extra_info("sockname")[1]
    try:
        m, v = await _measure(f"wireguard://127.0.0.1:{port}?public_key={vs.LAB_WG_PUBLIC}", timeout=3.0)
    finally:
        tr.close()
    assert m["test_keys"]["handshake"]["success"] is True
    assert (v.status, v.method, v.rule) == ("anomaly", "throttle", "vpn.throttled"), v.explanation
    assert v.details["handshake_ms"] >= 700 and v.details["ratio"] >= 5
