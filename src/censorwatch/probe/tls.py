"""TLS handshake with SNI, the peer's certificate chain, and validation kept apart from the handshake.

The handshake itself runs without verification so the chain is always captured (base64 DER, leaf
first), even when it is forged. Validation then runs separately with ``cryptography``'s X.509
verifier against the trust store (the system bundle plus ``--ca-file`` anchors) and is recorded in
``validation``; the OONI-compatible ``failure`` is the handshake failure or, if the handshake worked,
the validation failure (``ssl_unknown_authority``, ``ssl_invalid_hostname``,
``ssl_invalid_certificate``), exactly what a verifying client such as OONI's would have reported.
"""

from __future__ import annotations

import _ssl
import base64
import ipaddress
import ssl
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification as xv

from censorwatch.model import failures as F
from censorwatch.probe import errors
from censorwatch.probe.tcp import Conn
from censorwatch.probe.trace import Trace

CACHE_SIZE = 4096
CACHE_SECONDS = 60.0
SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)


def client_context(alpn: Sequence[str] = ("http/1.1",)) -> ssl.SSLContext:
    """A client context that does not verify (validation is a separate step)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


@dataclass
class TrustStore:
    """Trust anchors: the system bundle (unless ``system=False``) plus extra CA files."""

    ca_files: Sequence[Path] = ()
    system: bool = True
    _store: xv.Store | None = field(default=None, repr=False)
    #: (chain, name) -> (failure, raw, valid until): a run meets the same chains over and over
    _cache: dict[tuple[tuple[bytes, ...], str], tuple[str | None, str | None, float]] = field(
        default_factory=dict, repr=False)

    def store(self) -> xv.Store:
        if self._store is None:
            certs: list[x509.Certificate] = []
            paths = [Path(p) for p in self.ca_files]
            if self.system:
                paths += [Path(p) for p in SYSTEM_BUNDLES[:1] if Path(p).exists()]
            for p in paths:
                with warnings.catch_warnings():
                    # the system bundle has a legacy root with a negative serial: usable, just old
                    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                    try:
                        certs.extend(x509.load_pem_x509_certificates(p.read_bytes()))
                    except ValueError as exc:
                        raise ValueError(f"{p}: not a PEM certificate file ({exc})") from None
            if not certs:
                raise ValueError("no trust anchors: no system bundle and no --ca-file")
            self._store = xv.Store(certs)
        return self._store

    def validate(self, chain_der: Sequence[bytes], server_name: str) -> tuple[str | None, str | None]:
        """``(failure, raw)`` for the chain presented for ``server_name``; ``(None, None)`` when valid.

        Results are cached for at most a minute per (chain, name)."""
        key = (tuple(chain_der), server_name)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[2] > now:
            return hit[0], hit[1]
        failure, raw = self._validate(chain_der, server_name)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (failure, raw, now + CACHE_SECONDS)
        return failure, raw

    def _validate(self, chain_der: Sequence[bytes], server_name: str) -> tuple[str | None, str | None]:
        if not chain_der:
            return F.SSL_INVALID_CERTIFICATE, "the server presented no certificate"
        try:
            certs = [x509.load_der_x509_certificate(d) for d in chain_der]
        except ValueError as exc:
            return F.SSL_INVALID_CERTIFICATE, f"unparseable certificate: {exc}"
        leaf, rest = certs[0], certs[1:]
        now = datetime.now(UTC)
        raw = self._verify(leaf, rest, _subject(server_name), now)
        if raw is None:
            return None, None
        # Why did it fail? Decide in the order a verifying client (Go's, as in OONI) reports it:
        # the leaf's validity period first, then the chain to a trusted root, then the name.
        now_ok = [c.not_valid_before_utc <= now <= c.not_valid_after_utc for c in certs]
        inside = max(c.not_valid_before_utc for c in certs) + timedelta(seconds=1)
        when = now if all(now_ok) else inside
        claimed = _claimed_name(leaf) or _subject(server_name)
        chain_raw = self._verify(leaf, rest, claimed, when)
        if not now_ok[0]:
            return F.SSL_INVALID_CERTIFICATE, raw
        if chain_raw is not None:
            if "candidates exhausted" in chain_raw or "issuer" in chain_raw:
                return F.SSL_UNKNOWN_AUTHORITY, chain_raw
            return F.SSL_INVALID_CERTIFICATE, chain_raw
        if not all(now_ok):  # an intermediate out of its validity period
            return F.SSL_INVALID_CERTIFICATE, raw
        return F.SSL_INVALID_HOSTNAME, raw

    def _verify(
        self, leaf: x509.Certificate, rest: list[x509.Certificate], name: xv.Subject, when: datetime
    ) -> str | None:
        try:
            verifier = xv.PolicyBuilder().store(self.store()).time(when).build_server_verifier(name)
            verifier.verify(leaf, rest)
        except (xv.VerificationError, ValueError) as exc:
            return str(exc) or type(exc).__name__
        return None


def _subject(server_name: str) -> xv.Subject:
    try:
        return xv.IPAddress(ipaddress.ip_address(server_name))
    except ValueError:
        return xv.DNSName(server_name)


def _claimed_name(leaf: x509.Certificate) -> xv.Subject | None:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for name in san.get_values_for_type(x509.DNSName):
        return xv.DNSName(name.replace("*.", "wildcard.", 1))
    for ip in san.get_values_for_type(x509.IPAddress):
        return xv.IPAddress(ip)
    return None


def peer_chain(conn: Conn) -> list[bytes]:
    """The certificates the peer sent, leaf first, as DER (unverified: captured even when forged)."""
    obj = conn.ssl_object()
    if obj is None:
        return []
    inner: Any = getattr(obj, "_sslobj", None)
    getter = getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        return [c.public_bytes(_ssl.ENCODING_DER) for c in chain]
    leaf = obj.getpeercert(binary_form=True)
    return [leaf] if leaf else []


async def handshake(
    conn: Conn, server_name: str, *, timeout: float, trust: TrustStore, alpn: Sequence[str] = ("http/1.1",)
) -> dict[str, Any]:
    """Upgrade ``conn`` to TLS; return the OONI ``tls_handshakes`` entry (with ``validation``)."""
    trace: Trace = conn.trace
    chain: list[bytes] = []
    version = cipher = proto = None
    with trace.step("tls_handshake", address=conn.address, proto="tcp", tid=conn.tid) as res:
        await conn.start_tls(client_context(alpn), server_name, timeout)
        conn.proto = "tls"
        chain = peer_chain(conn)
        obj = conn.ssl_object()
        if obj is not None:
            version = obj.version()
            c = obj.cipher()
            cipher = c[0] if c else None
            proto = obj.selected_alpn_protocol() or ""
    v_failure, v_raw = (None, None)
    if res.failure is None:
        try:
            v_failure, v_raw = trust.validate(chain, server_name)
        except ValueError as exc:  # no trust anchors at all
            v_failure, v_raw = F.SSL_UNKNOWN_AUTHORITY, errors.raw_text(exc)
    return {
        "address": conn.address,
        "server_name": server_name,
        "failure": res.failure or v_failure,
        "failure_raw": res.raw or v_raw,
        "handshake_failure": res.failure,
        "validation": None if res.failure else {"failure": v_failure, "raw": v_raw},
        "tls_version": _version_name(version),
        "cipher_suite": cipher,
        "negotiated_protocol": proto,
        "peer_certificates": [{"format": "base64", "data": base64.b64encode(d).decode()} for d in chain],
        "no_tls_verify": False,
        "t0": res.t0,
        "t": res.t,
        "transaction_id": conn.tid,
    }


def _version_name(v: str | None) -> str | None:
    return {"TLSv1.2": "TLSv1.2", "TLSv1.3": "TLSv1.3"}.get(v or "", v)
