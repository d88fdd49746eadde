"""TCP connect and TLS handshakes (chain captured, validation separate) against misbehaving servers."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from probenet import (
    HTTP_SITE,
    HTTPS_EXPIRED,
    HTTPS_UNKNOWN_CA,
    HTTPS_VALID,
    HTTPS_WRONG_HOST,
    NOTHING,
    TLS_HANG,
    TLS_RESET,
    Net,
)

from censorwatch.model.addresses import AddressPolicy
from censorwatch.probe import http, tcp, tls
from censorwatch.probe.trace import Trace


async def test_connect_success_and_refused(net: Net, settings: http.HTTPSettings) -> None:
    trace = Trace()
    entry, conn = await tcp.connect(trace, HTTP_SITE, net.http_port, timeout=2, policy=settings.policy)
    assert conn is not None
    await conn.close()
    assert entry["status"] == {"success": True, "failure": None, "blocked": None}
    assert (entry["ip"], entry["port"]) == (HTTP_SITE, net.http_port)
    entry, conn = await tcp.connect(trace, NOTHING, net.http_port, timeout=2, policy=settings.policy)
    assert conn is None
    assert entry["status"] == {"success": False, "failure": "connection_refused", "blocked": None}
    assert entry["failure_raw"].startswith("ConnectionRefusedError")
    done = [e for e in trace.network_events if e["operation"] == "connect_done"]
    assert [d["failure"] for d in done] == [None, "connection_refused"]
    assert all(d["t"] >= d["t0"] for d in done)


async def test_loopback_needs_explicit_permission(net: Net) -> None:
    entry, conn = await tcp.connect(Trace(), HTTP_SITE, net.http_port, timeout=2,
                                    policy=AddressPolicy(allow_private=True))
    assert conn is None
    assert entry["status"]["failure"] == "unknown_failure: destination refused: 127.0.0.2 is loopback"


async def test_per_host_limit_holds_slots_until_close(net: Net) -> None:
    limiter = tcp.HostLimiter(2)
    policy = AddressPolicy(allow_loopback=True)
    conns = []
    for _ in range(2):
        _, c = await tcp.connect(Trace(), HTTP_SITE, net.http_port, timeout=2, policy=policy, limiter=limiter)
        conns.append(c)
    import asyncio

    third = asyncio.create_task(tcp.connect(Trace(), HTTP_SITE, net.http_port, timeout=2, policy=policy,
                                            limiter=limiter))
    await asyncio.sleep(0.2)
    assert not third.done() and limiter.in_use() == 3  # two holding, one waiting
    assert conns[0] is not None
    await conns[0].close()
    _, c3 = await asyncio.wait_for(third, 2)
    assert c3 is not None
    for c in (conns[1], c3):
        assert c is not None
        await c.close()
    assert limiter.in_use() == 0


async def _handshake(net: Net, settings: http.HTTPSettings, ip: str, sni: str) -> dict:
    trace = Trace()
    entry, conn = await tcp.connect(trace, ip, net.https_port, timeout=2, policy=settings.policy)
    assert conn is not None, entry
    try:
        return await tls.handshake(conn, sni, timeout=1.0, trust=settings.trust)
    finally:
        await conn.close()


async def test_valid_handshake_records_the_chain(net: Net, settings: http.HTTPSettings) -> None:
    hs = await _handshake(net, settings, HTTPS_VALID, "valid.test")
    assert hs["failure"] is None and hs["validation"] == {"failure": None, "raw": None}
    assert hs["tls_version"] in ("TLSv1.3", "TLSv1.2") and hs["negotiated_protocol"] == "http/1.1"
    assert hs["server_name"] == "valid.test" and hs["address"] == f"{HTTPS_VALID}:{net.https_port}"
    leaf = x509.load_der_x509_certificate(base64.b64decode(hs["peer_certificates"][0]["data"]))
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "valid.test" in sans.get_values_for_type(x509.DNSName)


@pytest.mark.parametrize("ip,sni,failure", [
    (HTTPS_EXPIRED, "expired.test", "ssl_invalid_certificate"),
    (HTTPS_WRONG_HOST, "wronghost.test", "ssl_invalid_hostname"),
    (HTTPS_UNKNOWN_CA, "unknownca.test", "ssl_unknown_authority"),
])
async def test_bad_certificates(net: Net, settings: http.HTTPSettings, ip: str, sni: str, failure: str) -> None:
    hs = await _handshake(net, settings, ip, sni)
    # the handshake itself worked (the chain is captured), validation failed
    assert hs["handshake_failure"] is None
    assert hs["failure"] == failure and hs["validation"]["failure"] == failure
    assert hs["validation"]["raw"].startswith("validation failed")
    assert len(hs["peer_certificates"]) == 1


async def test_unknown_authority_when_not_trusting_the_test_ca(net: Net) -> None:
    s = http.HTTPSettings(policy=AddressPolicy(allow_loopback=True), trust=tls.TrustStore((), system=True))
    hs = await _handshake(net, s, HTTPS_VALID, "valid.test")
    assert hs["failure"] == "ssl_unknown_authority"


async def test_reset_and_hang_during_handshake(net: Net, settings: http.HTTPSettings) -> None:
    hs = await _handshake(net, settings, TLS_RESET, "tlsreset.test")
    assert hs["failure"] == "connection_reset" and hs["handshake_failure"] == "connection_reset"
    assert hs["validation"] is None and hs["peer_certificates"] == []
    hs = await _handshake(net, settings, TLS_HANG, "tlshang.test")
    assert hs["failure"] == "generic_timeout_error"
    assert 0.9 <= hs["t"] - hs["t0"] < 6.0


async def test_plain_http_server_spoken_to_in_tls(net: Net, settings: http.HTTPSettings) -> None:
    trace = Trace()
    _, conn = await tcp.connect(trace, HTTP_SITE, net.http_port, timeout=2, policy=settings.policy)
    assert conn is not None
    hs = await tls.handshake(conn, "ok.test", timeout=1.0, trust=settings.trust)
    await conn.close()
    # the HTTP server answers the ClientHello with a 400 page / closes: never a success
    assert hs["failure"] in ("ssl_failed_handshake", "eof_error", "connection_reset")
