"""Exceptions -> canonical failure strings, once, at the boundary of every network step.

``classify(exc)`` walks the exception and its ``__cause__``/``__context__`` chain and returns the first
specific canonical string it can derive; ``failure_of(exc)`` returns ``(failure, raw_text)``.
SSL errors are mapped by their OpenSSL *reason* and verify code, never by ``errno`` (which for
``ssl.SSLError`` is an OpenSSL library code, not an OS errno).

``CAUGHT`` is the tuple of exception types the probe's steps catch; ``tests/probe/test_errors.py``
proves each of them (and every errno in ``ERRNO``) maps to a canonical string.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from typing import Final

import dns.exception
import dns.message

from censorwatch.model import failures as F


class ProbeError(Exception):
    """Base of the probe's own errors; each subclass carries its canonical failure."""

    failure: str = F.unknown("probe error")


class DNSFailure(ProbeError):
    """A DNS answer that is an error in itself (rcode != NOERROR, empty answer, wrong id)."""

    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure = failure


class HTTPProtocolError(ProbeError):
    """The peer spoke something that is not HTTP/1.x (bad status line, bad chunk, bad headers)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.failure = F.unknown(f"malformed HTTP response: {text}")


class TooManyRedirects(ProbeError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"stopped after {limit} redirects")
        self.failure = F.unknown(f"stopped after {limit} redirects")


class InvalidRedirect(ProbeError):
    failure = F.HTTP_INVALID_REDIRECT_LOCATION_HOST


class DestinationRefused(ProbeError):
    """The address policy refused to connect (loopback/private target not allowed)."""

    def __init__(self, ip: str, why: str) -> None:
        super().__init__(f"destination refused: {ip} is {why}")
        self.failure = F.unknown(f"destination refused: {ip} is {why}")


class TLSValidationError(ProbeError):
    """Certificate validation (done apart from the handshake) failed; failure is ssl_*."""

    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure = failure


#: OS errno -> canonical failure.
ERRNO: Final[dict[int, str]] = {
    errno.ECONNREFUSED: F.CONNECTION_REFUSED,
    errno.ECONNRESET: F.CONNECTION_RESET,
    errno.EPIPE: F.CONNECTION_RESET,
    errno.ECONNABORTED: F.CONNECTION_ABORTED,
    errno.ETIMEDOUT: F.GENERIC_TIMEOUT,
    errno.EHOSTUNREACH: F.HOST_UNREACHABLE,
    errno.EHOSTDOWN: F.HOST_UNREACHABLE,
    errno.ENETUNREACH: F.NETWORK_UNREACHABLE,
    errno.ENETDOWN: F.NETWORK_DOWN,
    errno.ENETRESET: F.NETWORK_RESET,
    errno.EINTR: F.INTERRUPTED,
    errno.ENOTCONN: F.CONNECTION_ALREADY_CLOSED,
    errno.EBADF: F.CONNECTION_ALREADY_CLOSED,
    errno.EADDRNOTAVAIL: F.HOST_UNREACHABLE,
}

#: getaddrinfo error codes (never raised by our own resolver, but asyncio may surface them).
GAI: Final[dict[int, str]] = {
    socket.EAI_NONAME: F.DNS_NXDOMAIN,
    socket.EAI_AGAIN: F.DNS_TEMPORARY_FAILURE,
    socket.EAI_FAIL: F.DNS_NON_RECOVERABLE,
    socket.EAI_NODATA: F.DNS_NO_ANSWER,
}

#: OpenSSL verify codes (X509_V_ERR_*) -> canonical failure.
VERIFY_CODES: Final[dict[int, str]] = {
    9: F.SSL_INVALID_CERTIFICATE,  # not yet valid
    10: F.SSL_INVALID_CERTIFICATE,  # expired
    18: F.SSL_UNKNOWN_AUTHORITY,  # self-signed leaf
    19: F.SSL_UNKNOWN_AUTHORITY,  # self-signed in chain
    20: F.SSL_UNKNOWN_AUTHORITY,  # unable to get local issuer
    21: F.SSL_UNKNOWN_AUTHORITY,  # unable to verify leaf signature
    62: F.SSL_INVALID_HOSTNAME,  # hostname mismatch
    64: F.SSL_INVALID_HOSTNAME,  # IP address mismatch
}

#: OpenSSL reasons that mean the peer closed the stream during the handshake.
_EOF_REASONS: Final = frozenset({"UNEXPECTED_EOF_WHILE_READING", "EOF_OCCURRED_IN_VIOLATION_OF_PROTOCOL"})

#: The exception types every network step catches at its boundary.
CAUGHT: Final[tuple[type[BaseException], ...]] = (
    TimeoutError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
    ssl.SSLError,
    OSError,
    EOFError,
    dns.exception.DNSException,
    UnicodeError,
    ValueError,
    ProbeError,
)


def _one(exc: BaseException) -> str | None:
    """The canonical failure of this exception alone, or None when it says nothing specific."""
    if isinstance(exc, ProbeError):
        return exc.failure
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return F.GENERIC_TIMEOUT
    if isinstance(exc, asyncio.IncompleteReadError | EOFError):
        return F.EOF_ERROR
    if isinstance(exc, ssl.SSLCertVerificationError):  # ssl.CertificateError is the same class
        code = getattr(exc, "verify_code", None)
        if code is None:  # raised by hand (match_hostname style) without a verify code
            return F.SSL_INVALID_HOSTNAME if "hostname" in str(exc).lower() else F.SSL_INVALID_CERTIFICATE
        return VERIFY_CODES.get(code, F.SSL_INVALID_CERTIFICATE)
    if isinstance(exc, ssl.SSLZeroReturnError | ssl.SSLEOFError):
        return F.EOF_ERROR
    if isinstance(exc, ssl.SSLError):
        reason = getattr(exc, "reason", None) or ""
        if reason in _EOF_REASONS:
            return F.EOF_ERROR
        return F.SSL_FAILED_HANDSHAKE
    if isinstance(exc, socket.gaierror):
        return GAI.get(exc.errno or 0, F.DNS_TEMPORARY_FAILURE)
    if isinstance(exc, ConnectionRefusedError):
        return F.CONNECTION_REFUSED
    if isinstance(exc, ConnectionResetError) and exc.errno is None:
        # asyncio's TLS layer reports a FIN from the peer during the handshake (and a stream closed
        # under a pending write) as ConnectionResetError("Connection lost") without an errno; a real
        # RST always carries ECONNRESET from the kernel.
        return F.EOF_ERROR
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return F.CONNECTION_RESET
    if isinstance(exc, ConnectionAbortedError):
        return F.CONNECTION_ABORTED
    if isinstance(exc, OSError) and exc.errno in ERRNO:
        return ERRNO[exc.errno]
    if isinstance(exc, dns.message.ShortHeader | dns.message.TrailingJunk | dns.exception.FormError):
        return F.DNS_SERVER_MISBEHAVING
    if isinstance(exc, dns.exception.Timeout):
        return F.GENERIC_TIMEOUT
    if isinstance(exc, dns.exception.DNSException):
        return F.DNS_SERVER_MISBEHAVING
    if isinstance(exc, asyncio.LimitOverrunError):
        return F.unknown(f"malformed HTTP response: line too long ({exc})")
    if isinstance(exc, UnicodeError):
        return F.unknown(f"malformed data: {exc}")
    return None


def classify(exc: BaseException) -> str:
    """Map an exception (and whatever it wraps) to one canonical failure string."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        f = _one(e)
        if f is not None:
            return f
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None:
                todo.append(nxt)
    return F.unknown(raw_text(exc))


def raw_text(exc: BaseException) -> str:
    """The exception's own words, with its type, for the ``*_raw`` field beside the failure."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure_of(exc: BaseException) -> tuple[str, str]:
    return classify(exc), raw_text(exc)
