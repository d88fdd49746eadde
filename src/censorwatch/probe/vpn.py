"""Circumvention reachability: WireGuard, OpenVPN (UDP/TCP) and Tor OR ports, one endpoint each.

Each measurement records the protocol's real opening exchange and a reachability check of the host
so the analysis (``analysis/vpn.py``) can tell *the endpoint is unreachable* from *the endpoint is
reachable but the protocol is blocked*:

- UDP protocols (WireGuard, OpenVPN/UDP): the handshake over UDP (retransmitted), then a TCP connect
  to the same ``IP:PORT``. Success, ``connection_refused`` (RST to the SYN) or ``connection_reset`` (a
  proxy on the path accepted, then found nothing behind it) prove packets reach the host.
- TCP protocols (OpenVPN/TCP, Tor): the TCP connect is the reachability check; the handshake runs on
  that connection (Tor: TLS with a Tor-shaped SNI, then VERSIONS).

``test_keys``: ``protocol``, ``endpoint``, ``transport``, ``tcp_connect``, ``tls_handshakes``,
``network_events``, ``handshake`` (``success``, ``failure``, ``failure_raw``, ``response``, ``attempts``,
``t0``, ``t``), ``host_reachable`` and OONI's ``success``/``failure``; OpenVPN also carries OONI's
``openvpn_handshake`` list.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from censorwatch.model import failures as F
from censorwatch.model.addresses import AddressPolicy
from censorwatch.probe import errors, tcp, tls
from censorwatch.probe.circumvention import openvpn, tor, udp, wireguard
from censorwatch.probe.circumvention.endpoints import Endpoint
from censorwatch.probe.circumvention.envelope import envelope
from censorwatch.probe.trace import Trace

TEST_VERSION = "0.1.0"
#: Relays present self-signed certificates: validation is recorded but never decides anything.
_TRUST = tls.TrustStore(system=True)
#: ``test_name`` of each protocol's measurement.
TEST_NAMES = {"wireguard": "wireguard", "openvpn": "openvpn", "tor": "tor"}


def _handshake(t0: float, t: float, failure: str | None = None, raw: str | None = None,
               response: str | None = None, attempts: int = 1) -> dict[str, Any]:
    return {"success": failure is None, "failure": failure, "failure_raw": raw, "response": response,
            "attempts": attempts, "t0": t0, "t": t}


#: TCP outcomes that prove packets reach the host: it answered the SYN (accept or RST), or a connection
#: was established and then reset (a transparent proxy in the path that found nothing behind it).
_ANSWERED = frozenset({F.CONNECTION_REFUSED, F.CONNECTION_RESET})


def _reachable(entry: dict[str, Any]) -> bool:
    st = entry["status"]
    return bool(st["success"]) or st["failure"] in _ANSWERED


async def _reachability(trace: Trace, ep: Endpoint, timeout: float, policy: AddressPolicy) -> dict[str, Any]:
    entry, conn = await tcp.connect(trace, ep.ip, ep.port, timeout=timeout, policy=policy)
    if conn is not None:
        await conn.close()
    return entry


async def _wireguard(trace: Trace, ep: Endpoint, timeout: float) -> dict[str, Any]:
    client = (wireguard.load_private(ep.params["private_key"]) if "private_key" in ep.params
              else X25519PrivateKey.generate())
    msg, state = wireguard.initiation(client, wireguard.load_public(ep.params["public_key"]))
    kinds: list[str] = []

    def accept(reply: bytes) -> bool:
        try:
            kinds.append(wireguard.check_response(reply, state))
        except wireguard.HandshakeError:
            return False
        return True

    ex = await udp.exchange(trace, ep.ip, ep.port, msg, accept, timeout=timeout)
    failure, raw = ex.failure, ex.failure_raw
    if failure == F.GENERIC_TIMEOUT and ex.rejected:
        failure, raw = F.unknown("invalid handshake response"), f"{ex.rejected} datagram(s) failed verification"
    return _handshake(ex.t0, ex.t, failure, raw, kinds[0] if kinds else None, ex.attempts)


async def _openvpn_udp(trace: Trace, ep: Endpoint, timeout: float) -> dict[str, Any]:
    session = openvpn.new_session_id()

    def accept(reply: bytes) -> bool:
        try:
            openvpn.check_server_reset(reply, session)
        except openvpn.OpenVPNError:
            return False
        return True

    ex = await udp.exchange(trace, ep.ip, ep.port, openvpn.client_hard_reset(session), accept, timeout=timeout)
    failure, raw = ex.failure, ex.failure_raw
    if failure == F.GENERIC_TIMEOUT and ex.rejected:
        failure, raw = F.unknown("invalid handshake response"), f"{ex.rejected} datagram(s) were not a server reset"
    return _handshake(ex.t0, ex.t, failure, raw, "server_hard_reset" if failure is None else None, ex.attempts)


async def _openvpn_tcp(trace: Trace, conn: tcp.Conn, timeout: float) -> dict[str, Any]:
    session = openvpn.new_session_id()
    t0 = trace.now()
    try:
        await conn.write(openvpn.frame(openvpn.client_hard_reset(session)), timeout)
        head = await conn.readexactly(2, timeout)
        packet = await conn.readexactly(int.from_bytes(head, "big"), timeout)
        openvpn.check_server_reset(packet, session)
    except openvpn.OpenVPNError as exc:
        return _handshake(t0, trace.now(), F.unknown("invalid handshake response"), str(exc))
    except errors.CAUGHT as exc:
        return _handshake(t0, trace.now(), *errors.failure_of(exc))
    return _handshake(t0, trace.now(), response="server_hard_reset")


async def _tor(trace: Trace, conn: tcp.Conn, timeout: float, tls_entries: list[dict[str, Any]]) -> dict[str, Any]:
    t0 = trace.now()
    entry = await tls.handshake(conn, tor.random_server_name(), timeout=timeout, trust=_TRUST, alpn=())
    entry["failure"] = entry["handshake_failure"]  # relays' certificates are self-signed by design
    tls_entries.append(entry)
    if entry["handshake_failure"] is not None:
        return _handshake(t0, trace.now(), entry["handshake_failure"], entry["failure_raw"])
    try:
        await conn.write(tor.versions_cell(), timeout)
        data = await conn.readexactly(5, timeout)
        data += await conn.readexactly(tor.cells_needed(data) - 5, timeout)
        version = tor.negotiate(tor.LINK_VERSIONS, tor.parse_versions(data))
    except tor.TorError as exc:
        return _handshake(t0, trace.now(), F.unknown("not a tor relay"), str(exc))
    except errors.CAUGHT as exc:
        return _handshake(t0, trace.now(), *errors.failure_of(exc))
    return _handshake(t0, trace.now(), response=f"versions:{version}")


async def measure(ep: Endpoint, *, timeout: float = 6.0, policy: AddressPolicy | None = None) -> dict[str, Any]:
    """Measure one endpoint; return its ``test_keys``. Bounded by ``~2 * timeout``."""
    policy = policy or AddressPolicy(lab=True, allow_private=True)
    trace = Trace()
    tcp_entries: list[dict[str, Any]] = []
    tls_entries: list[dict[str, Any]] = []
    async with asyncio.timeout(3 * timeout):
        if ep.transport == "udp":
            hs = await (_wireguard if ep.protocol == "wireguard" else _openvpn_udp)(trace, ep, timeout)
            tcp_entries.append(await _reachability(trace, ep, min(timeout, 3.0), policy))
        else:
            entry, conn = await tcp.connect(trace, ep.ip, ep.port, timeout=timeout, policy=policy)
            tcp_entries.append(entry)
            if conn is None:
                hs = _handshake(entry["t0"], entry["t"], entry["status"]["failure"], entry["failure_raw"])
            else:
                try:
                    hs = await (_tor(trace, conn, timeout, tls_entries) if ep.protocol == "tor"
                                else _openvpn_tcp(trace, conn, timeout))
                finally:
                    await conn.close()
    keys: dict[str, Any] = {
        "protocol": ep.protocol,
        "endpoint": ep.address,
        "transport": ep.transport,
        "tcp_connect": tcp_entries,
        "tls_handshakes": tls_entries,
        "network_events": trace.network_events,
        "handshake": hs,
        "host_reachable": any(_reachable(e) for e in tcp_entries),
        "success": hs["success"],
        "failure": hs["failure"],
    }
    if ep.protocol == "openvpn":
        keys["openvpn_handshake"] = [{
            "endpoint": f"{ep.transport}://{ep.address}", "ip": ep.ip, "port": ep.port,
            "transport": ep.transport, "status": {"success": hs["success"], "failure": hs["failure"]},
            "t0": hs["t0"], "t": hs["t"],
        }]
    return keys


async def run(
    ep: Endpoint,
    *,
    timeout: float = 6.0,
    policy: AddressPolicy | None = None,
    annotations: dict[str, Any] | None = None,
    probe_cc: str = "ZZ",
    probe_asn: str = "AS0",
) -> dict[str, Any]:
    """Measure ``ep`` and wrap it in a full OONI-format measurement (``test_name`` per protocol)."""
    start = datetime.now(UTC)
    t = time.monotonic()
    keys = await measure(ep, timeout=timeout, policy=policy)
    return envelope(TEST_NAMES[ep.protocol], TEST_VERSION, ep.public_uri, keys, start=start,
                    runtime=time.monotonic() - t, probe_cc=probe_cc, probe_asn=probe_asn,
                    annotations=annotations, options={"timeout": timeout})
