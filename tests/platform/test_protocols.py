"""The lab censor's protocol fingerprints, on the bytes our own clients and servers really send."""

from __future__ import annotations

import ssl

import pytest

from censorwatch.lab import protocols
from censorwatch.probe.circumvention import openvpn, tor, wireguard


def _client_hello(server_name: str) -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def test_wireguard_messages() -> None:
    server, client = wireguard.X25519PrivateKey.generate(), wireguard.X25519PrivateKey.generate()
    init, _ = wireguard.initiation(client, wireguard.public_bytes(server))
    resp = wireguard.respond(wireguard.consume_initiation(init, server))
    assert protocols.classify(init, "udp") == "wireguard"
    assert protocols.classify(resp, "udp") == "wireguard"
    assert protocols.classify(init[:-1], "udp") is None  # wrong size is not WireGuard
    assert protocols.classify(b"\x01\x00\x00\x01" + init[4:], "udp") != "wireguard"


def test_openvpn_udp_and_tcp() -> None:
    reset = openvpn.client_hard_reset(openvpn.new_session_id())
    assert reset[0] == 0x38 and len(reset) == 14
    assert protocols.classify(reset, "udp") == "openvpn"
    assert protocols.classify(openvpn.frame(reset), "tcp") == "openvpn"
    reply = openvpn.server_hard_reset(openvpn.new_session_id(), openvpn.parse(reset))
    assert protocols.classify(reply, "udp") == "openvpn"
    assert protocols.classify(b"\x38" + bytes(8) + b"\x03" + bytes(4), "udp") is None  # acks must fit


def test_tls_tor_http_and_others() -> None:
    hello = _client_hello("www.example.com")
    assert protocols.tls_sni(hello) == "www.example.com"
    assert protocols.classify(hello, "tcp") == "tls"
    tor_hello = _client_hello(tor.random_server_name())
    assert protocols.classify(tor_hello, "tcp") == "tor"
    assert protocols.matches("tls", tor_hello, "tcp")  # Tor is TLS too
    assert not protocols.matches("tor", hello, "tcp")
    assert protocols.classify(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "tcp") == "http"
    assert protocols.classify(b"SSH-2.0-OpenSSH_9.2\r\n", "tcp") == "ssh"
    dns_query = bytes.fromhex("abcd01000001000000000000") + b"\x07example\x03com\x00\x00\x01\x00\x01"
    assert protocols.classify(dns_query, "udp") == "dns"
    assert protocols.classify(b"", "udp") is None
    assert protocols.classify(b"\x16\x03", "tcp") is None


@pytest.mark.parametrize("junk", [bytes(range(256)), b"\xff" * 3, b"\x16\x03\x01\x00\x05\x01\x00"])
def test_junk_never_crashes(junk: bytes) -> None:
    for transport in ("udp", "tcp"):
        protocols.classify(junk, transport)
        protocols.tls_sni(junk)


def test_unknown_transport_is_an_error() -> None:
    with pytest.raises(ValueError, match="udp or tcp"):
        protocols.classify(b"x", "sctp")


def test_dns_queries_are_dns_whatever_their_id() -> None:
    """A query's first byte is its random id: loose checks took one query in ten for OpenVPN (whose
    opcode sits in the first byte), so a ``protocol: dns`` rule let it pass and a ``protocol: openvpn``
    rule dropped it. Every first byte of the id, with and without EDNS; OpenVPN's packets stay OpenVPN."""
    import dns.message

    for edns in (False, True):
        q = dns.message.make_query("www.example.com", "A", use_edns=edns)
        for qid in (hi << 8 | lo for hi in range(256) for lo in (0, 0x5A, 0xFF)):
            q.id = qid
            assert protocols.classify(q.to_wire(), "udp") == "dns", qid
    for _ in range(2000):
        assert protocols.classify(openvpn.client_hard_reset(openvpn.new_session_id()), "udp") == "openvpn"
    assert not protocols.is_dns(bytes.fromhex("abcd01000001000000000000") + b"\x07example\x03com\x00\x00\x01")
    assert not protocols.is_dns(bytes.fromhex("abcd01000001000000000000") + b"\x07example\x03com\x00\x00\x01\x00\x01!")
