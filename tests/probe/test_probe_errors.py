"""Every error a network step can catch maps to a canonical failure string (and keeps its raw text)."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

import dns.exception
import dns.message
import pytest

from censorwatch.model import failures as F
from censorwatch.probe import errors


def _canonical(f: str) -> bool:
    return f in F.CANONICAL or (f.startswith(F.UNKNOWN_PREFIX + ": ") and len(f) > len(F.UNKNOWN_PREFIX) + 2)


def _ssl_error(reason: str) -> ssl.SSLError:
    e = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower()}")
    e.reason = reason  # type: ignore[misc]
    return e


def _verify_error(code: int) -> ssl.SSLCertVerificationError:
    e = ssl.SSLCertVerificationError(1, "certificate verify failed")
    e.verify_code = code  # type: ignore[misc]
    return e


#: one representative instance per caught type, with the failure it must map to
EXAMPLES: list[tuple[BaseException, str]] = [
    (TimeoutError(), F.GENERIC_TIMEOUT),
    (asyncio.IncompleteReadError(b"ab", 10), F.EOF_ERROR),
    (asyncio.LimitOverrunError("too long", 10), "unknown_failure: malformed HTTP response: line too long (too long)"),
    (_ssl_error("TLSV1_ALERT_PROTOCOL_VERSION"), F.SSL_FAILED_HANDSHAKE),
    (_ssl_error("UNEXPECTED_EOF_WHILE_READING"), F.EOF_ERROR),
    (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), F.EOF_ERROR),
    (ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"), F.EOF_ERROR),
    (_verify_error(10), F.SSL_INVALID_CERTIFICATE),
    (_verify_error(20), F.SSL_UNKNOWN_AUTHORITY),
    (_verify_error(62), F.SSL_INVALID_HOSTNAME),
    (ssl.CertificateError("hostname 'a' doesn't match 'b'"), F.SSL_INVALID_HOSTNAME),
    (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), F.CONNECTION_REFUSED),
    (ConnectionResetError(errno.ECONNRESET, "reset"), F.CONNECTION_RESET),
    (BrokenPipeError(errno.EPIPE, "broken pipe"), F.CONNECTION_RESET),
    (ConnectionAbortedError(errno.ECONNABORTED, "aborted"), F.CONNECTION_ABORTED),
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), F.DNS_NXDOMAIN),
    (socket.gaierror(socket.EAI_AGAIN, "Temporary failure"), F.DNS_TEMPORARY_FAILURE),
    (EOFError("closed"), F.EOF_ERROR),
    (dns.message.ShortHeader(), F.DNS_SERVER_MISBEHAVING),
    (dns.message.TrailingJunk(), F.DNS_SERVER_MISBEHAVING),
    (dns.exception.FormError(), F.DNS_SERVER_MISBEHAVING),
    (dns.exception.Timeout(), F.GENERIC_TIMEOUT),
    (dns.exception.SyntaxError("bad"), F.DNS_SERVER_MISBEHAVING),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
     "unknown_failure: malformed data: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
    (ValueError("Invalid IPv6 URL"), "unknown_failure: ValueError: Invalid IPv6 URL"),
    (errors.DNSFailure(F.DNS_NXDOMAIN, "rcode NXDOMAIN"), F.DNS_NXDOMAIN),
    (errors.HTTPProtocolError("bad status line"), "unknown_failure: malformed HTTP response: bad status line"),
    (errors.TooManyRedirects(10), "unknown_failure: stopped after 10 redirects"),
    (errors.InvalidRedirect("no host"), F.HTTP_INVALID_REDIRECT_LOCATION_HOST),
    (errors.DestinationRefused("127.0.0.1", "loopback"), "unknown_failure: destination refused: 127.0.0.1 is loopback"),
    (errors.TLSValidationError(F.SSL_UNKNOWN_AUTHORITY, "x"), F.SSL_UNKNOWN_AUTHORITY),
    (OSError(errno.EHOSTUNREACH, "No route to host"), F.HOST_UNREACHABLE),
]


@pytest.mark.parametrize("exc,expected", EXAMPLES, ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else "")
def test_example_maps_exactly(exc: BaseException, expected: str) -> None:
    assert errors.classify(exc) == expected
    failure, raw = errors.failure_of(exc)
    assert failure == expected and raw.startswith(type(exc).__name__)


def test_every_caught_type_has_an_example() -> None:
    """Adding a type to CAUGHT without a mapping example fails here."""
    covered = {t for t in errors.CAUGHT if any(isinstance(e, t) for e, _ in EXAMPLES)}
    assert covered == set(errors.CAUGHT)
    for exc, _ in EXAMPLES:
        assert isinstance(exc, errors.CAUGHT)


@pytest.mark.parametrize("code", sorted(errors.ERRNO))
def test_every_errno_maps_to_its_canonical_string(code: int) -> None:
    f = errors.classify(OSError(code, "x"))
    assert f == errors.ERRNO[code] and f in F.CANONICAL


def test_every_verify_code_is_canonical() -> None:
    for code, expected in errors.VERIFY_CODES.items():
        assert errors.classify(_verify_error(code)) == expected in F.CANONICAL


def test_all_examples_are_canonical_or_unknown_with_text() -> None:
    for exc, _ in EXAMPLES:
        assert _canonical(errors.classify(exc))


def test_wrapped_errors_are_found_through_cause_and_context() -> None:
    try:
        try:
            raise ConnectionResetError(errno.ECONNRESET, "reset by peer")
        except ConnectionResetError as inner:
            raise RuntimeError("") from inner
    except RuntimeError as outer:
        assert errors.classify(outer) == F.CONNECTION_RESET
    try:
        try:
            raise ssl.SSLEOFError(8, "eof")
        except ssl.SSLEOFError:
            raise KeyError("wrapper") from None
    except KeyError as outer:
        # ``from None`` hides the context from printing, not from the chain we walk
        assert errors.classify(outer) == F.EOF_ERROR


def test_ssl_errno_is_not_taken_for_an_os_errno() -> None:
    # SSLError.errno 1 is OpenSSL's, not EPERM; 104 would look like ECONNRESET if misread
    e = ssl.SSLError(104, "[SSL] something")
    assert errors.classify(e) == F.SSL_FAILED_HANDSHAKE


def test_unmapped_exception_keeps_its_text() -> None:
    assert errors.classify(RuntimeError("odd")) == "unknown_failure: RuntimeError: odd"
