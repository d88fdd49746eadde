"""Failure strings in words a journalist can read (for explanations; the raw string stays in details)."""

from __future__ import annotations

from typing import Final

from censorwatch.model import failures as F

_WORDS: Final = {
    F.CONNECTION_REFUSED: "connection refused",
    F.CONNECTION_RESET: "connection reset",
    F.CONNECTION_ABORTED: "connection aborted",
    F.CONNECTION_ALREADY_CLOSED: "connection already closed",
    F.GENERIC_TIMEOUT: "timed out",
    F.EOF_ERROR: "connection cut off",
    F.HOST_UNREACHABLE: "host unreachable",
    F.NETWORK_UNREACHABLE: "network unreachable",
    F.NETWORK_DOWN: "network down",
    F.DNS_NXDOMAIN: "the name does not exist",
    F.ANDROID_DNS_CACHE_NO_DATA: "the name does not exist",
    F.DNS_NO_ANSWER: "no address in the DNS answer",
    F.DNS_REFUSED: "the DNS server refused",
    F.DNS_SERVFAIL: "DNS server failure",
    F.DNS_SERVER_MISBEHAVING: "DNS server misbehaving",
    F.DNS_TEMPORARY_FAILURE: "temporary DNS failure",
    F.DNS_BOGON: "a non-public address",
    F.SSL_INVALID_HOSTNAME: "certificate for another name",
    F.SSL_UNKNOWN_AUTHORITY: "certificate from an unknown authority",
    F.SSL_INVALID_CERTIFICATE: "invalid certificate",
    F.SSL_FAILED_HANDSHAKE: "secure handshake failed",
    F.HTTP_REQUEST_FAILED: "request failed",
    "bogon": "a non-public address",
}


def say(failure: str | None) -> str:
    """``connection_reset`` -> ``connection reset``; anything unknown -> ``an unexplained error``."""
    if not failure:
        return "no error"
    return _WORDS.get(failure, "an unexplained error")


_SCOPES: Final = {"nat": "national", "isp": "internet provider's", "prod": "filtering product's",
                  "inst": "institution's", "vbw": "possible", "fp": "harmless"}


def scope_words(scope: str) -> str:
    """``nat`` -> ``national`` (for "a known national blockpage")."""
    return _SCOPES.get(scope, "known")
