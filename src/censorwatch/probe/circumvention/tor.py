"""Tor's link handshake opening (pure): the VERSIONS cell and Tor-shaped TLS server names.

After TLS to an OR port, both sides send a VERSIONS cell (tor-spec section 4.1): a variable-length
cell with a 2-byte circuit id 0, command 7, a 2-byte payload length and the supported link protocol
versions as 2-byte integers. A relay answers with its own VERSIONS (then CERTS, AUTH_CHALLENGE and
NETINFO). A VERSIONS reply sharing a version >= 3 is what tells an OR port from any TLS server.
"""

from __future__ import annotations

import base64
import os
import struct

VERSIONS = 7
CERTS, AUTH_CHALLENGE, NETINFO = 129, 130, 8
LINK_VERSIONS = (3, 4, 5)


class TorError(ValueError):
    """Not a Tor link-protocol answer; the text says which check failed."""


def versions_cell(versions: tuple[int, ...] = LINK_VERSIONS) -> bytes:
    payload = b"".join(struct.pack(">H", v) for v in versions)
    return struct.pack(">HBH", 0, VERSIONS, len(payload)) + payload


def parse_versions(data: bytes) -> tuple[int, ...]:
    """The versions in a VERSIONS cell at the start of ``data``; ``TorError`` otherwise."""
    if len(data) < 5:
        raise TorError(f"short answer ({len(data)} bytes), not a VERSIONS cell")
    circ, cmd, length = struct.unpack_from(">HBH", data)
    if circ != 0 or cmd != VERSIONS:
        raise TorError(f"first cell is command {cmd}, not VERSIONS")
    if length % 2 or len(data) < 5 + length:
        raise TorError("malformed VERSIONS payload")
    return tuple(struct.unpack_from(">H", data, 5 + 2 * i)[0] for i in range(length // 2))


def cells_needed(data: bytes) -> int:
    """How many bytes the VERSIONS cell at the start of ``data`` takes (5 until the header is in)."""
    if len(data) < 5:
        return 5
    return 5 + struct.unpack_from(">H", data, 3)[0]


def negotiate(ours: tuple[int, ...], theirs: tuple[int, ...]) -> int:
    common = [v for v in theirs if v in ours and v >= 3]
    if not common:
        raise TorError(f"no common link protocol version (relay offers {list(theirs)})")
    return max(common)


def random_server_name() -> str:
    """A server name of the shape tor clients send: ``www.<random base32>.com``."""
    label = base64.b32encode(os.urandom(10)).decode().lower().rstrip("=")
    if not any(ch in "234567" for ch in label):
        label = label[:-1] + "2"
    return f"www.{label}.com"
