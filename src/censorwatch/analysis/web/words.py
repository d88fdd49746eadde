"""Mechanism names and the phrases Web Connectivity explanations are built from."""

from __future__ import annotations

from typing import Final

from censorwatch.analysis.web.facts import WebFacts
from censorwatch.analysis.web.resolvers import NXDOMAIN_LIKE
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F

#: Failures of a TLS handshake or an HTTP round trip that OONI reads as interference (rule 6), plus
#: an invalid redirect the site sent the probe and not the control.
EVIDENCE: Final = frozenset(
    {F.CONNECTION_REFUSED, F.CONNECTION_RESET, F.EOF_ERROR, F.GENERIC_TIMEOUT,
     F.HTTP_INVALID_REDIRECT_LOCATION_HOST}
) | F.TLS_FAILURES
TCP_METHOD: Final = {F.GENERIC_TIMEOUT: "tcp.timeout", F.CONNECTION_REFUSED: "tcp.refused",
                     F.CONNECTION_RESET: "tcp.reset"}
TLS_METHOD: Final = {
    F.CONNECTION_RESET: "tls.reset", F.GENERIC_TIMEOUT: "tls.timeout", F.EOF_ERROR: "tls.eof",
    F.SSL_INVALID_HOSTNAME: "tls.mitm", F.SSL_UNKNOWN_AUTHORITY: "tls.mitm",
    F.SSL_INVALID_CERTIFICATE: "tls.mitm", F.CONNECTION_REFUSED: "tcp.refused",
}
HTTP_METHOD: Final = {
    F.CONNECTION_RESET: "http.reset", F.GENERIC_TIMEOUT: "http.timeout", F.EOF_ERROR: "http.eof",
    F.CONNECTION_REFUSED: "tcp.refused",
}
_PLAIN: Final = {
    F.CONNECTION_RESET: "the connection was reset", F.GENERIC_TIMEOUT: "the connection timed out",
    F.EOF_ERROR: "the connection was cut", F.CONNECTION_REFUSED: "the connection was refused",
    F.SSL_INVALID_HOSTNAME: "a certificate for another name was presented",
    F.SSL_UNKNOWN_AUTHORITY: "a certificate from an unknown authority was presented",
    F.SSL_INVALID_CERTIFICATE: "an invalid certificate was presented",
    F.SSL_FAILED_HANDSHAKE: "the secure (TLS) handshake failed",
    F.HTTP_INVALID_REDIRECT_LOCATION_HOST: "the site sent a redirect without a host",
}
_STAGE_WORDS: Final = {"tcp": "while connecting", "tls": "during the secure (TLS) handshake",
                       "http": "while fetching the page"}


def plain(failure: str | None) -> str:
    return _PLAIN.get(failure or "", f"it failed ({say(failure)})")


def stage_words(stage: str) -> str:
    return _STAGE_WORDS.get(stage, "")


def method_for(stage: str, failure: str | None) -> str:
    f = failure or ""
    if stage == "tcp":
        return TCP_METHOD.get(f, "tcp.failure")
    if stage == "tls":
        return TLS_METHOD.get(f, "tls.failure")
    return HTTP_METHOD.get(f, "http.failure")


def dns_method(f: WebFacts) -> str:
    if f.bogons:
        return "dns.bogon"
    system = f.system
    if system is not None and system.failure is not None:
        return "dns.nxdomain" if system.failure in NXDOMAIN_LIKE else "dns.failure"
    if system is not None and system.addrs and all(_loop(a) for a in system.addrs):
        return "dns.bogon"
    return "dns.injection"


def _loop(a: str) -> bool:
    return a.startswith("127.") or a == "::1"


def dns_words(f: WebFacts) -> str:
    """Why the system resolver's answer is not the site's, in one clause."""
    d, system = f.domain, f.system
    if f.bogons:
        return f"the probe's DNS answer for {d} was a non-public address ({f.bogons[0]})"
    if system is not None and system.failure is not None:
        return f"the probe's DNS lookup of {d} failed ({say(system.failure)}) while the control's worked"
    if f.ghost:
        return (f"the probe's DNS answered {d} with {system.addrs[0] if system and system.addrs else 'an address'}, "
                "a name the control's DNS cannot resolve")
    return f"the probe's DNS answer for {d} shares no address or network with the control's"


def elsewhere_words(f: WebFacts) -> str:
    """A sentence tail saying the site works through other resolvers' addresses, when it does."""
    if not f.up_elsewhere:
        return ""
    return "; the site answered on the addresses other resolvers gave, so it is up"
