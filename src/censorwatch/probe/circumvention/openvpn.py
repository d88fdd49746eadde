"""OpenVPN's opening exchange: the client's hard reset and the server's reply (pure, no I/O).

OpenVPN 2.x control channel, without ``tls-auth``/``tls-crypt`` (with those, a server silently drops
any packet not signed with the shared key, so reachability cannot be told from blocking without it):

    byte 0        opcode << 3 | key_id      P_CONTROL_HARD_RESET_CLIENT_V2 = 7, ..._SERVER_V2 = 8
    bytes 1..8    sender's session id
    byte 9        ack array length n; then n packet ids (4 bytes each) and, if n > 0,
                  the remote session id being acknowledged (8 bytes)
    next 4        message packet id (absent in P_ACK_V1)

Over TCP every packet is prefixed with its length (2 bytes, big endian).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

P_CONTROL_HARD_RESET_CLIENT_V2 = 7
P_CONTROL_HARD_RESET_SERVER_V2 = 8
P_ACK_V1 = 5
P_CONTROL_V1 = 4


class OpenVPNError(ValueError):
    """Not the reply we expect; the text says which check failed."""


@dataclass(slots=True)
class ControlPacket:
    opcode: int
    key_id: int
    session_id: bytes
    acks: list[int]
    remote_session_id: bytes | None
    packet_id: int | None
    payload: bytes


def new_session_id() -> bytes:
    return os.urandom(8)


def client_hard_reset(session_id: bytes, packet_id: int = 0) -> bytes:
    """P_CONTROL_HARD_RESET_CLIENT_V2, key id 0, no acks, empty payload (14 bytes)."""
    return bytes([P_CONTROL_HARD_RESET_CLIENT_V2 << 3]) + session_id + b"\x00" + struct.pack(">I", packet_id)


def server_hard_reset(session_id: bytes, client: ControlPacket) -> bytes:
    """P_CONTROL_HARD_RESET_SERVER_V2 acknowledging the client's reset (what a server sends)."""
    ack = struct.pack(">I", client.packet_id or 0)
    return (
        bytes([P_CONTROL_HARD_RESET_SERVER_V2 << 3])
        + session_id
        + b"\x01"
        + ack
        + client.session_id
        + struct.pack(">I", 0)
    )


def parse(packet: bytes) -> ControlPacket:
    """Parse one (unframed) control or ack packet; raise ``OpenVPNError`` on anything else."""
    if len(packet) < 10:
        raise OpenVPNError(f"too short for an OpenVPN control packet ({len(packet)} bytes)")
    opcode, key_id = packet[0] >> 3, packet[0] & 0x07
    if opcode not in (P_CONTROL_V1, P_ACK_V1, P_CONTROL_HARD_RESET_CLIENT_V2, P_CONTROL_HARD_RESET_SERVER_V2):
        raise OpenVPNError(f"unexpected opcode {opcode}")
    session = packet[1:9]
    n = packet[9]
    pos = 10
    if len(packet) < pos + 4 * n + (8 if n else 0):
        raise OpenVPNError("truncated ack array")
    acks = [struct.unpack_from(">I", packet, pos + 4 * i)[0] for i in range(n)]
    pos += 4 * n
    remote = None
    if n:
        remote = packet[pos : pos + 8]
        pos += 8
    packet_id = None
    if opcode != P_ACK_V1:
        if len(packet) < pos + 4:
            raise OpenVPNError("missing packet id")
        packet_id = struct.unpack_from(">I", packet, pos)[0]
        pos += 4
    return ControlPacket(opcode, key_id, session, acks, remote, packet_id, packet[pos:])


def check_server_reset(packet: bytes, our_session: bytes) -> ControlPacket:
    """The server's P_CONTROL_HARD_RESET_SERVER_V2 acknowledging our session, else ``OpenVPNError``."""
    p = parse(packet)
    if p.opcode != P_CONTROL_HARD_RESET_SERVER_V2:
        raise OpenVPNError(f"expected P_CONTROL_HARD_RESET_SERVER_V2, got opcode {p.opcode}")
    if p.remote_session_id is not None and p.remote_session_id != our_session:
        raise OpenVPNError("server acknowledged another session")
    return p


def frame(packet: bytes) -> bytes:
    """TCP framing: a 2-byte big-endian length prefix."""
    return struct.pack(">H", len(packet)) + packet
