"""Classify one UDP datagram or the first bytes of a TCP stream by protocol (pure, no I/O).

The lab censor's ``protocol:`` rule key delegates here, the way deployed DPI boxes block VPNs by
fingerprint rather than by address. Each rule is the cheapest check a real middlebox uses:

- ``wireguard`` (UDP): message type byte 1..4, three reserved zero bytes and the exact sizes of the
  protocol (initiation 148, response 92, cookie reply 64, transport data >= 32 and 16-byte aligned).
- ``openvpn`` (UDP, and TCP with its 2-byte length prefix): the opcode in the high 5 bits of the first
  byte is a control/ack/data opcode (1..10); for the opening packets (hard resets, opcodes 7/8/10)
  the layout (session id, ack array, packet id) must fit the length exactly, which is what makes the
  well-known "opcode 0x38" fingerprint precise.
- ``tor`` (TCP): a TLS ClientHello whose SNI has Tor's shape, ``www.<random base32>.com|net``, with
  at least one base32 digit (2-7), which ordinary ``www.example.com`` names lack.
- ``tls`` (TCP): a TLS handshake record (0x16 0x03 0x00..0x04); ``http``: a request line;
  ``ssh``: ``SSH-``; ``dns`` (UDP): a message that parses exactly; ``quic`` (UDP): a long-header Initial.

``classify`` returns the most specific name or ``None`` for anything unrecognised.
"""

from __future__ import annotations

import re
from typing import Final, Literal

Transport = Literal["udp", "tcp"]

PROTOCOLS: Final[frozenset[str]] = frozenset(
    {"wireguard", "openvpn", "tor", "tls", "http", "ssh", "dns", "quic"}
)

_HTTP_METHODS: Final = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"CONNECT ", b"PATCH ")
_TOR_SNI: Final = re.compile(r"^www\.(?=[a-z2-7]*[2-7])[a-z2-7]{8,32}\.(?:com|net)$")
_WG_SIZES: Final[dict[int, int]] = {1: 148, 2: 92, 3: 64}


def is_wireguard(payload: bytes) -> bool:
    if len(payload) < 4 or payload[1:4] != b"\x00\x00\x00":
        return False
    kind = payload[0]
    if kind in _WG_SIZES:
        return len(payload) == _WG_SIZES[kind]
    return kind == 4 and len(payload) >= 32 and (len(payload) - 16) % 16 == 0


def _openvpn_packet(p: bytes) -> bool:
    """One OpenVPN packet without TCP framing (no tls-auth HMAC)."""
    if len(p) < 1:
        return False
    opcode = p[0] >> 3
    if opcode not in range(1, 11):
        return False
    if opcode in (6, 9):  # data packets: opaque, only the opcode and a minimum size
        return len(p) >= 5
    # control / ack: opcode(1) session(8) ack_len(1) [acks 4*n + remote session 8] [packet id 4]
    if len(p) < 10:
        return False
    n_acks = p[9]
    size = 10 + (4 * n_acks + 8 if n_acks else 0)
    if opcode == 5:  # P_ACK_V1 has no packet id
        return n_acks > 0 and len(p) == size
    size += 4
    if opcode in (7, 8, 10):  # hard resets carry no TLS payload (2.6 may add a small TLV block)
        return len(p) == size or (size < len(p) <= size + 32 and len(p) - size >= 4)
    return len(p) >= size


def is_openvpn(payload: bytes, transport: Transport) -> bool:
    if transport == "udp":
        return _openvpn_packet(payload)
    if len(payload) < 3:
        return False
    length = int.from_bytes(payload[:2], "big")
    if length > len(payload) - 2:
        return False
    return _openvpn_packet(payload[2 : 2 + length])


def is_tls_client_hello(payload: bytes) -> bool:
    return len(payload) >= 6 and payload[0] == 0x16 and payload[1] == 0x03 and payload[2] <= 0x04 and (
        payload[5] == 0x01
    )


def tls_sni(payload: bytes) -> str | None:
    """The server_name of a TLS ClientHello in ``payload`` (first record), or ``None``."""
    if not is_tls_client_hello(payload):
        return None
    try:
        pos = 5 + 4 + 2 + 32  # record header, handshake header, version, random
        pos += 1 + payload[pos]  # session id
        pos += 2 + int.from_bytes(payload[pos : pos + 2], "big")  # cipher suites
        pos += 1 + payload[pos]  # compression methods
        end = pos + 2 + int.from_bytes(payload[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= min(end, len(payload)):
            ext_type = int.from_bytes(payload[pos : pos + 2], "big")
            ext_len = int.from_bytes(payload[pos + 2 : pos + 4], "big")
            body = payload[pos + 4 : pos + 4 + ext_len]
            if ext_type == 0 and len(body) >= 5:
                name_len = int.from_bytes(body[3:5], "big")
                return body[5 : 5 + name_len].decode("ascii", "replace").lower()
            pos += 4 + ext_len
    except IndexError:
        return None
    return None


def _skip_name(p: bytes, pos: int) -> int:
    """The offset after the (possibly compressed) domain name at ``pos``; -1 if it does not parse."""
    for _ in range(128):
        if pos >= len(p):
            return -1
        n = p[pos]
        if n == 0:
            return pos + 1
        if n & 0xC0 == 0xC0:  # a compression pointer ends the name
            return pos + 2 if pos + 2 <= len(p) else -1
        if n & 0xC0:
            return -1
        pos += 1 + n
    return -1


def is_dns(p: bytes) -> bool:
    """A DNS message that parses exactly: header, its questions and records, nothing left over.

    Loose checks (opcode and counts only) take about one query in ten for an OpenVPN packet, whose
    first byte is the query's random id; a full walk of the message does not."""
    if len(p) < 17:  # header + the root name + type and class
        return False
    qd, an, ns, ar = (int.from_bytes(p[i:i + 2], "big") for i in (4, 6, 8, 10))
    if (p[2] >> 3) & 0x0F not in (0, 2, 4, 5) or not 1 <= qd <= 4 or an + ns + ar > 64:
        return False
    pos = 12
    for _ in range(qd):
        pos = _skip_name(p, pos)
        if pos < 0 or pos + 4 > len(p):
            return False
        pos += 4
    for _ in range(an + ns + ar):
        pos = _skip_name(p, pos)
        if pos < 0 or pos + 10 > len(p):
            return False
        pos += 10 + int.from_bytes(p[pos + 8:pos + 10], "big")
        if pos > len(p):
            return False
    return pos == len(p)


def _is_quic(p: bytes) -> bool:
    return len(p) >= 1200 and p[0] & 0xC0 == 0xC0 and p[1:5] in (b"\x00\x00\x00\x01", b"\x6b\x33\x43\xcf")


def classify(payload: bytes, transport: str) -> str | None:
    """The protocol name of ``payload`` (see the module doc), or ``None``. ``transport``: udp | tcp."""
    if transport not in ("udp", "tcp"):
        raise ValueError(f"transport must be udp or tcp, got {transport!r}")
    if transport == "udp":
        if is_wireguard(payload):
            return "wireguard"
        if _is_quic(payload):
            return "quic"
        if is_dns(payload):  # exact, so before OpenVPN's looser layout
            return "dns"
        if is_openvpn(payload, "udp"):
            return "openvpn"
        return None
    if is_tls_client_hello(payload):
        sni = tls_sni(payload)
        if sni is not None and _TOR_SNI.match(sni):
            return "tor"
        return "tls"
    if payload.startswith(_HTTP_METHODS):
        return "http"
    if payload.startswith(b"SSH-"):
        return "ssh"
    if is_openvpn(payload, "tcp"):
        return "openvpn"
    return None


def matches(rule_protocol: str, payload: bytes, transport: str) -> bool:
    """Does ``payload`` match a censor rule's ``protocol:`` value? ``tls`` also matches Tor's TLS."""
    found = classify(payload, transport)
    if found is None:
        return False
    return found == rule_protocol or (rule_protocol == "tls" and found == "tor")
