"""The log's Ed25519 key: created on first start beside the evidence store (mode 0600), loaded after.

``LogSigner`` signs receipts and tree heads; ``LogVerifier`` checks them with only the public key
(what ``GET /api/v1/log/key`` serves and what ``censorwatch verify --key`` reads).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from censorwatch.collector.canonical import RECEIPT_TAG, STH_TAG, b64, signed_bytes, unb64
from censorwatch.store.durable import replace_durably


def _raw_public(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def log_id_of(pub: Ed25519PublicKey) -> str:
    """The log's identity: hex SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(_raw_public(pub)).hexdigest()


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """Read the PEM private key at ``path``; create it (0600, written atomically) if absent."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"{path}: private key is readable by others (mode {mode:o}); chmod 600 it")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, pem)
    finally:
        os.close(fd)
    replace_durably(tmp, path)
    return key


def public_key_document(pub: Ed25519PublicKey) -> dict[str, str]:
    """What ``GET /api/v1/log/key`` serves and ``censorwatch verify --key`` reads."""
    pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "algorithm": "Ed25519",
        "log_id": log_id_of(pub),
        "public_key": b64(_raw_public(pub)),
        "public_key_pem": pem.decode("ascii"),
    }


class LogSigner:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public = key.public_key()
        self.log_id = log_id_of(self.public)

    def receipt(self, leaf_index: int, leaf_hash: bytes, uid: str, timestamp_ms: int) -> dict[str, Any]:
        st: dict[str, Any] = {
            "log_id": self.log_id,
            "leaf_index": leaf_index,
            "leaf_hash": leaf_hash.hex(),
            "measurement_uid": uid,
            "timestamp": timestamp_ms,
            "version": 1,
        }
        st["signature"] = b64(self._key.sign(signed_bytes(RECEIPT_TAG, st)))
        return st

    def receipt_bytes(self, leaf_index: int, leaf_hash: bytes, uid: str, timestamp_ms: int) -> bytes:
        """``orjson.dumps(self.receipt(...))``, the same bytes, built without the dict round trips."""
        h, u = leaf_hash.hex(), orjson.dumps(uid).decode()
        signed = (f'{{"leaf_hash":"{h}","leaf_index":{leaf_index},"log_id":"{self.log_id}",'
                  f'"measurement_uid":{u},"timestamp":{timestamp_ms},"version":1}}').encode()
        sig = b64(self._key.sign(RECEIPT_TAG + signed))
        return (f'{{"log_id":"{self.log_id}","leaf_index":{leaf_index},"leaf_hash":"{h}","measurement_uid":{u},'
                f'"timestamp":{timestamp_ms},"version":1,"signature":"{sig}"}}').encode()

    def sth(self, tree_size: int, root_hash: bytes, timestamp_ms: int) -> dict[str, Any]:
        st: dict[str, Any] = {
            "log_id": self.log_id,
            "tree_size": tree_size,
            "root_hash": root_hash.hex(),
            "timestamp": timestamp_ms,
            "version": 1,
        }
        st["signature"] = b64(self._key.sign(signed_bytes(STH_TAG, st)))
        return st


class LogVerifier:
    def __init__(self, pub: Ed25519PublicKey) -> None:
        self.public = pub
        self.log_id = log_id_of(pub)

    @classmethod
    def from_document(cls, doc: Any) -> LogVerifier:
        """From the key document (``/api/v1/log/key`` JSON), a PEM public key text, or a raw base64 key."""
        if isinstance(doc, dict):
            doc = doc.get("public_key_pem") or doc.get("public_key")
        if not isinstance(doc, str):
            raise ValueError("key: expected the log key document, a PEM public key or base64 raw key")
        if "BEGIN PUBLIC KEY" in doc:
            pub = serialization.load_pem_public_key(doc.encode("ascii"))
        else:
            pub = Ed25519PublicKey.from_public_bytes(unb64(doc.strip()))
        if not isinstance(pub, Ed25519PublicKey):
            raise ValueError("key: not an Ed25519 public key")
        return cls(pub)

    def _check(self, tag: bytes, st: Any) -> str | None:
        if not isinstance(st, dict) or not isinstance(st.get("signature"), str):
            return "statement is not an object with a 'signature'"
        if st.get("log_id") != self.log_id:
            return f"log_id {st.get('log_id')!r} is not this key's log ({self.log_id})"
        try:
            self.public.verify(unb64(st["signature"]), signed_bytes(tag, st))
        except (InvalidSignature, ValueError):
            return "bad signature: the statement was altered or signed by another key"
        return None

    def check_receipt(self, st: Any) -> str | None:
        """``None`` when valid, else the reason."""
        return self._check(RECEIPT_TAG, st)

    def check_sth(self, st: Any) -> str | None:
        return self._check(STH_TAG, st)
