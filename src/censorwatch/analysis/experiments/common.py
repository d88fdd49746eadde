"""Helpers shared by the non-web families: per-host failures read from the raw observations,
mechanism names, certificate facts and small readers of common test-key shapes."""

from __future__ import annotations

import base64
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.addresses import is_bogon
from censorwatch.model.observations import Observations, TLSHandshake

#: Mechanism names for a failure at each step.
_STEP_METHOD = {
    ("tcp", F.GENERIC_TIMEOUT): "tcp.timeout", ("tcp", F.CONNECTION_REFUSED): "tcp.refused",
    ("tcp", F.CONNECTION_RESET): "tcp.reset",
    ("tls", F.CONNECTION_RESET): "tls.reset", ("tls", F.GENERIC_TIMEOUT): "tls.timeout", ("tls", F.EOF_ERROR): "tls.eof",
    ("tls", F.SSL_INVALID_HOSTNAME): "tls.mitm", ("tls", F.SSL_UNKNOWN_AUTHORITY): "tls.mitm",
    ("tls", F.SSL_INVALID_CERTIFICATE): "tls.mitm",
    ("http", F.CONNECTION_RESET): "http.reset", ("http", F.GENERIC_TIMEOUT): "http.timeout",
    ("http", F.EOF_ERROR): "http.eof",
    ("quic", F.GENERIC_TIMEOUT): "quic.timeout",
}
#: Failures that come from the network path (what a censor can cause); anything else, e.g. an
#: ``unknown_failure: ...`` a probe wrote about its own inputs, says nothing about the network.
NETWORK_FAILURES = F.CONNECTION_FAILURES | F.TLS_FAILURES | F.DNS_FAILURES | {
    F.HOST_UNREACHABLE, F.NETWORK_UNREACHABLE, F.CONNECTION_ALREADY_CLOSED, F.NETWORK_RESET,
    F.HTTP_REQUEST_FAILED, "bogon",
}


def method_for(step: str, failure: str | None) -> str:
    if step == "dns":
        return "dns.nxdomain" if failure in (F.DNS_NXDOMAIN, F.ANDROID_DNS_CACHE_NO_DATA) else (
            "dns.bogon" if failure == "bogon" else "dns.failure")
    return _STEP_METHOD.get((step, failure or ""), f"{step}.failure")


def is_network_failure(failure: str | None) -> bool:
    return failure is not None and failure in NETWORK_FAILURES


def host_of(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""


@dataclass(slots=True)
class Problem:
    step: str  # dns | tcp | tls | http
    target: str
    failure: str

    @property
    def method(self) -> str:
        return method_for(self.step, self.failure)

    def words(self) -> str:
        return f"{self.step.upper()} to {self.target} failed ({say(self.failure)})"


@dataclass(slots=True)
class Outcomes:
    problems: list[Problem] = field(default_factory=list)
    ok_steps: int = 0

    def first(self) -> Problem | None:
        """The earliest step that failed (DNS before TCP before TLS before HTTP)."""
        order = {"dns": 0, "tcp": 1, "tls": 2, "http": 3}
        return min(self.problems, key=lambda p: order[p.step]) if self.problems else None


def scan(obs: Observations, *, expected_bogons: frozenset[str] = frozenset(),
         ignore_hosts: frozenset[str] = frozenset(), lab: bool = False) -> Outcomes:
    """Every failed step, with the host/endpoint it concerned. AAAA "no answer" is not a failure."""
    out = Outcomes()
    for q in obs.queries:
        host = (q.hostname or "").lower()
        if host in ignore_hosts:
            continue
        if q.failure and not (q.query_type == "AAAA" and q.failure == F.DNS_NO_ANSWER):
            out.problems.append(Problem("dns", host, q.failure))
            continue
        bogons = [a for a in q.addresses if is_bogon(a, lab=lab)]
        if bogons and host not in expected_bogons:
            out.problems.append(Problem("dns", host, "bogon"))
        elif q.answers:
            out.ok_steps += 1
    for t in obs.tcp_connect:
        if t.failure:
            out.problems.append(Problem("tcp", t.endpoint, t.failure))
        else:
            out.ok_steps += 1
    for h in obs.tls_handshakes:
        if (h.server_name or "").lower() in ignore_hosts:
            continue
        if h.failure:
            out.problems.append(Problem("tls", h.server_name or h.address or "?", h.failure))
        else:
            out.ok_steps += 1
    seen_tls = {(p.target) for p in out.problems if p.step == "tls"}
    for r in obs.requests:
        host = host_of(r.url)
        if host in ignore_hosts:
            continue
        if r.failure:
            if host in seen_tls or r.failure in F.DNS_FAILURES:
                continue  # already counted at the step that failed
            out.problems.append(Problem("http", r.url or host or "?", r.failure))
        else:
            out.ok_steps += 1
    return out


def bogon_hosts(obs: Observations, *, lab: bool = False) -> list[str]:
    """Hosts whose every A/AAAA answer is a non-public address (0.0.0.0, 127.0.0.1, 10.x ...)."""
    out: list[str] = []
    for q in obs.queries:
        addrs = q.addresses
        host = (q.hostname or "").lower()
        if addrs and all(is_bogon(a, lab=lab) for a in addrs) and host not in out:
            out.append(host)
    return out


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What the leaf certificate a server presented says, read without verifying any chain."""

    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    issuer: str

    def covers(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for n in self.names:
            n = n.lower().rstrip(".")
            if n == host or (n.startswith("*.") and host.endswith(n[1:]) and host.count(".") == n.count(".")):
                return True
        return False

    def expired_at(self, when: datetime) -> bool:
        return when > self.not_after or when < self.not_before


def leaf_certificate(h: TLSHandshake) -> CertificateFacts | None:
    """The leaf certificate of a recorded handshake, or None when none was recorded or it does not parse."""
    if not h.peer_certificates:
        return None
    from cryptography import x509  # imported here: only failing handshakes with certificates need it

    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(h.peer_certificates[0]))
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = tuple(san.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            names = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME))
        return CertificateFacts(names, cert.not_valid_before_utc, cert.not_valid_after_utc,
                                cert.issuer.rfc4514_string())
    except (ValueError, TypeError):
        return None


def expired_genuine(h: TLSHandshake, when: datetime | None) -> CertificateFacts | None:
    """The server's own certificate, out of date at ``when``: a handshake that failed on an invalid
    certificate whose leaf names the host asked for and whose validity period does not include the
    measurement time. An intercepting box mints certificates valid *now* (its failure is an unknown
    authority or the wrong name), so this is the site's own neglect, not interception."""
    if when is None or h.failure not in (F.SSL_INVALID_CERTIFICATE, F.SSL_UNKNOWN_AUTHORITY):
        return None
    facts = leaf_certificate(h)
    if facts is None or not h.server_name or not facts.covers(h.server_name) or not facts.expired_at(when):
        return None
    return facts


def number(v: Any) -> float | None:
    """A JSON number as float (never a bool)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def median_ms(values: Iterable[float]) -> float | None:
    """The median of durations in seconds, in milliseconds (rounded to 0.1 ms)."""
    vals = list(values)
    return round(statistics.median(vals) * 1000, 1) if vals else None


def failures_in(items: Iterable[str | None]) -> list[str]:
    return [f for f in items if f]
