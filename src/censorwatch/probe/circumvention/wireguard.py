"""WireGuard's handshake (Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s), both ends, as pure functions.

Follows the WireGuard whitepaper, section 5.4: the initiator builds a 148-byte *handshake initiation*
(type 1) from its static key and the server's public key; a server that knows the initiator's static
key answers with a 92-byte *handshake response* (type 2) whose empty AEAD payload only verifies with
the keys of this very handshake, so a verified response proves a WireGuard server answered us (not an
echo, not a middlebox). A *cookie reply* (type 3) proves a loaded WireGuard server answered.

No I/O here: the probe (``probe/vpn.py``) sends the bytes, the lab server (``lab/vpn_servers.py``)
answers with ``respond``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
IDENTIFIER = b"WireGuard v1 zx2c4 Jason@zx2c4.com"
LABEL_MAC1 = b"mac1----"
INITIATION, RESPONSE, COOKIE_REPLY, TRANSPORT = 1, 2, 3, 4
INITIATION_SIZE, RESPONSE_SIZE, COOKIE_REPLY_SIZE = 148, 92, 64
_ZERO_PSK = bytes(32)


class HandshakeError(ValueError):
    """A message that is not a valid handshake message for these keys; the text says which check."""


def _hash(data: bytes) -> bytes:
    return hashlib.blake2s(data).digest()


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.blake2s).digest()


def _mac(key: bytes, data: bytes) -> bytes:
    return hashlib.blake2s(data, key=key, digest_size=16).digest()


def _kdf(key: bytes, data: bytes, n: int) -> list[bytes]:
    t0 = _hmac(key, data)
    out: list[bytes] = []
    prev = b""
    for i in range(1, n + 1):
        prev = _hmac(t0, prev + bytes([i]))
        out.append(prev)
    return out


def _aead(key: bytes, counter: int, plain: bytes, ad: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(b"\x00" * 4 + struct.pack("<Q", counter), plain, ad)


def _aead_open(key: bytes, counter: int, sealed: bytes, ad: bytes) -> bytes:
    return ChaCha20Poly1305(key).decrypt(b"\x00" * 4 + struct.pack("<Q", counter), sealed, ad)


def _dh(private: X25519PrivateKey, public: bytes) -> bytes:
    return private.exchange(X25519PublicKey.from_public_bytes(public))


def public_bytes(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def private_bytes(private: X25519PrivateKey) -> bytes:
    return private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def load_private(b64: str) -> X25519PrivateKey:
    """A private key in WireGuard's base64 spelling (``wg genkey``)."""
    raw = _b64_32(b64, "private key")
    return X25519PrivateKey.from_private_bytes(raw)


def load_public(b64: str) -> bytes:
    return _b64_32(b64, "public key")


def _b64_32(b64: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError as e:
        raise ValueError(f"WireGuard {what} is not base64: {e}") from None
    if len(raw) != 32:
        raise ValueError(f"WireGuard {what} must be 32 bytes, got {len(raw)}")
    return raw


def generate() -> tuple[str, str]:
    """A fresh key pair as ``(private_b64, public_b64)``, like ``wg genkey | wg pubkey``."""
    k = X25519PrivateKey.generate()
    return base64.b64encode(private_bytes(k)).decode(), base64.b64encode(public_bytes(k)).decode()


def tai64n(now: float | None = None) -> bytes:
    t = time.time() if now is None else now
    secs = int(t)
    return struct.pack(">QI", 0x400000000000000A + secs, int((t - secs) * 1e9))


@dataclass(slots=True)
class InitiatorState:
    """What the initiator keeps to verify the response."""

    sender_index: int
    chaining_key: bytes
    hash: bytes
    ephemeral: X25519PrivateKey
    static: X25519PrivateKey
    server_public: bytes


def initiation(static: X25519PrivateKey, server_public: bytes) -> tuple[bytes, InitiatorState]:
    """Build a handshake initiation (148 bytes) and the state needed to check the reply."""
    c = _hash(CONSTRUCTION)
    h = _hash(_hash(c + IDENTIFIER) + server_public)
    eph = X25519PrivateKey.generate()
    e_pub = public_bytes(eph)
    c = _kdf(c, e_pub, 1)[0]
    h = _hash(h + e_pub)
    c, k = _kdf(c, _dh(eph, server_public), 2)
    enc_static = _aead(k, 0, public_bytes(static), h)
    h = _hash(h + enc_static)
    c, k = _kdf(c, _dh(static, server_public), 2)
    enc_ts = _aead(k, 0, tai64n(), h)
    h = _hash(h + enc_ts)
    sender = int.from_bytes(os.urandom(4), "little")
    body = struct.pack("<B3xI", INITIATION, sender) + e_pub + enc_static + enc_ts
    mac1 = _mac(_hash(LABEL_MAC1 + server_public), body)
    msg = body + mac1 + bytes(16)
    return msg, InitiatorState(sender, c, h, eph, static, server_public)


def check_response(msg: bytes, st: InitiatorState) -> str:
    """Verify a server's answer to our initiation: ``"response"`` or ``"cookie_reply"``.

    Raises ``HandshakeError`` naming the failed check otherwise.
    """
    if len(msg) == COOKIE_REPLY_SIZE and msg[0] == COOKIE_REPLY:
        if struct.unpack_from("<I", msg, 4)[0] != st.sender_index:
            raise HandshakeError("cookie reply for another sender index")
        return "cookie_reply"
    if len(msg) != RESPONSE_SIZE or msg[0] != RESPONSE or msg[1:4] != b"\x00\x00\x00":
        raise HandshakeError(f"not a handshake response (type {msg[:1].hex() or '-'}, {len(msg)} bytes)")
    _, receiver = struct.unpack_from("<II", msg, 4)
    if receiver != st.sender_index:
        raise HandshakeError("response for another sender index")
    mac1 = _mac(_hash(LABEL_MAC1 + public_bytes(st.static)), msg[:60])
    if not hmac.compare_digest(mac1, msg[60:76]):
        raise HandshakeError("bad mac1")
    e_r = msg[12:44]
    c = _kdf(st.chaining_key, e_r, 1)[0]
    h = _hash(st.hash + e_r)
    c = _kdf(c, _dh(st.ephemeral, e_r), 1)[0]
    c = _kdf(c, _dh(st.static, e_r), 1)[0]
    c, t, k = _kdf(c, _ZERO_PSK, 3)
    h = _hash(h + t)
    try:
        _aead_open(k, 0, msg[44:60], h)
    except InvalidTag:
        raise HandshakeError("response does not authenticate with this handshake's keys") from None
    return "response"


@dataclass(slots=True)
class Initiation:
    """A verified initiation as the responder sees it."""

    sender_index: int
    initiator_public: bytes
    timestamp: bytes
    chaining_key: bytes
    hash: bytes
    ephemeral_public: bytes


def consume_initiation(msg: bytes, static: X25519PrivateKey) -> Initiation:
    """Responder side: verify mac1 and decrypt an initiation addressed to ``static``."""
    if len(msg) != INITIATION_SIZE or msg[0] != INITIATION or msg[1:4] != b"\x00\x00\x00":
        raise HandshakeError(f"not a handshake initiation ({len(msg)} bytes)")
    s_pub = public_bytes(static)
    if not hmac.compare_digest(_mac(_hash(LABEL_MAC1 + s_pub), msg[:116]), msg[116:132]):
        raise HandshakeError("bad mac1")
    sender = struct.unpack_from("<I", msg, 4)[0]
    c = _hash(CONSTRUCTION)
    h = _hash(_hash(c + IDENTIFIER) + s_pub)
    e_i = msg[8:40]
    c = _kdf(c, e_i, 1)[0]
    h = _hash(h + e_i)
    c, k = _kdf(c, _dh(static, e_i), 2)
    try:
        s_i = _aead_open(k, 0, msg[40:88], h)
        h = _hash(h + msg[40:88])
        c, k = _kdf(c, _dh(static, s_i), 2)
        ts = _aead_open(k, 0, msg[88:116], h)
    except InvalidTag:
        raise HandshakeError("initiation does not decrypt with this key") from None
    h = _hash(h + msg[88:116])
    return Initiation(sender, s_i, ts, c, h, e_i)


def respond(ini: Initiation) -> bytes:
    """Responder side: the 92-byte handshake response to a consumed initiation."""
    eph = X25519PrivateKey.generate()
    e_pub = public_bytes(eph)
    c = _kdf(ini.chaining_key, e_pub, 1)[0]
    h = _hash(ini.hash + e_pub)
    c = _kdf(c, _dh(eph, ini.ephemeral_public), 1)[0]
    c = _kdf(c, _dh(eph, ini.initiator_public), 1)[0]
    c, t, k = _kdf(c, _ZERO_PSK, 3)
    h = _hash(h + t)
    enc_nothing = _aead(k, 0, b"", h)
    sender = int.from_bytes(os.urandom(4), "little")
    body = struct.pack("<B3xII", RESPONSE, sender, ini.sender_index) + e_pub + enc_nothing
    mac1 = _mac(_hash(LABEL_MAC1 + ini.initiator_public), body)
    return body + mac1 + bytes(16)
