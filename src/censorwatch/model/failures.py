"""The canonical failure vocabulary (OONI's strings) and the legacy spellings mapped onto it.

Failures are data: every network step records one of these strings (or ``None`` for success)
and keeps the raw error text beside it. Mapping from exceptions happens once, at the boundary
(``probe/errors.py``); everything else works with the strings defined here.
"""

from __future__ import annotations

from typing import Final

# connection
CONNECTION_REFUSED: Final = "connection_refused"
CONNECTION_RESET: Final = "connection_reset"
CONNECTION_ABORTED: Final = "connection_aborted"
CONNECTION_ALREADY_CLOSED: Final = "connection_already_closed"
# generic
GENERIC_TIMEOUT: Final = "generic_timeout_error"
EOF_ERROR: Final = "eof_error"
HOST_UNREACHABLE: Final = "host_unreachable"
NETWORK_UNREACHABLE: Final = "network_unreachable"
NETWORK_DOWN: Final = "network_down"
NETWORK_RESET: Final = "network_reset"
INTERRUPTED: Final = "interrupted"
JSON_PARSE_ERROR: Final = "json_parse_error"
UNKNOWN_PREFIX: Final = "unknown_failure"
# DNS
DNS_NXDOMAIN: Final = "dns_nxdomain_error"
DNS_NO_ANSWER: Final = "dns_no_answer"
DNS_REFUSED: Final = "dns_refused_error"
DNS_SERVFAIL: Final = "dns_servfail_error"
DNS_SERVER_MISBEHAVING: Final = "dns_server_misbehaving"
DNS_TEMPORARY_FAILURE: Final = "dns_temporary_failure"
DNS_NON_RECOVERABLE: Final = "dns_non_recoverable_failure"
DNS_BOGON: Final = "dns_bogon_error"
DNS_WRONG_QUERY_ID: Final = "dns_reply_with_wrong_query_id"
ANDROID_DNS_CACHE_NO_DATA: Final = "android_dns_cache_no_data"
# TLS
SSL_INVALID_HOSTNAME: Final = "ssl_invalid_hostname"
SSL_UNKNOWN_AUTHORITY: Final = "ssl_unknown_authority"
SSL_INVALID_CERTIFICATE: Final = "ssl_invalid_certificate"
SSL_FAILED_HANDSHAKE: Final = "ssl_failed_handshake"
# HTTP
HTTP_REQUEST_FAILED: Final = "http_request_failed"
HTTP_UNEXPECTED_STATUS_CODE: Final = "http_unexpected_status_code"
HTTP_UNEXPECTED_REDIRECT_URL: Final = "http_unexpected_redirect_url"
HTTP_INVALID_REDIRECT_LOCATION_HOST: Final = "http_invalid_redirect_location_host"

CANONICAL: Final[frozenset[str]] = frozenset(
    {
        CONNECTION_REFUSED, CONNECTION_RESET, CONNECTION_ABORTED, CONNECTION_ALREADY_CLOSED,
        GENERIC_TIMEOUT, EOF_ERROR, HOST_UNREACHABLE, NETWORK_UNREACHABLE, NETWORK_DOWN,
        NETWORK_RESET, INTERRUPTED, JSON_PARSE_ERROR,
        DNS_NXDOMAIN, DNS_NO_ANSWER, DNS_REFUSED, DNS_SERVFAIL, DNS_SERVER_MISBEHAVING,
        DNS_TEMPORARY_FAILURE, DNS_NON_RECOVERABLE, DNS_BOGON, DNS_WRONG_QUERY_ID,
        ANDROID_DNS_CACHE_NO_DATA,
        SSL_INVALID_HOSTNAME, SSL_UNKNOWN_AUTHORITY, SSL_INVALID_CERTIFICATE, SSL_FAILED_HANDSHAKE,
        HTTP_REQUEST_FAILED, HTTP_UNEXPECTED_STATUS_CODE, HTTP_UNEXPECTED_REDIRECT_URL,
        HTTP_INVALID_REDIRECT_LOCATION_HOST,
    }
)

#: Spellings found in the old archive (ooniprobe-legacy / measurement-kit / the TH) -> current string.
LEGACY: Final[dict[str, str]] = {
    "connection_refused_error": CONNECTION_REFUSED,
    # twisted's ConnectionLost: the peer went away mid-stream without a clean close.
    "connection_lost_error": CONNECTION_RESET,
    # measurement-kit's generic "connect() failed on every address"; refused is by far the usual cause.
    "connect_error": CONNECTION_REFUSED,
    # twisted's DNSLookupError / DNSNameError and the TH's spelling of NXDOMAIN.
    "dns_lookup_error": DNS_NXDOMAIN,
    "dns_name_error": DNS_NXDOMAIN,
    "tcp_timed_out_error": GENERIC_TIMEOUT,
    "deferred_timeout_error": GENERIC_TIMEOUT,
    "response_never_received": GENERIC_TIMEOUT,
    "task_timed_out": GENERIC_TIMEOUT,
    "generic_timeout": GENERIC_TIMEOUT,
    "ssl_error": SSL_FAILED_HANDSHAKE,
    # ooniprobe-legacy's DNS tests: a reply without the asked-for records.
    "no_answer": DNS_NO_ANSWER,
}

CONNECTION_FAILURES: Final[frozenset[str]] = frozenset(
    {CONNECTION_REFUSED, CONNECTION_RESET, CONNECTION_ABORTED, EOF_ERROR, GENERIC_TIMEOUT}
)
TLS_FAILURES: Final[frozenset[str]] = frozenset(
    {SSL_INVALID_HOSTNAME, SSL_UNKNOWN_AUTHORITY, SSL_INVALID_CERTIFICATE, SSL_FAILED_HANDSHAKE}
)
DNS_FAILURES: Final[frozenset[str]] = frozenset(
    {
        DNS_NXDOMAIN, DNS_NO_ANSWER, DNS_REFUSED, DNS_SERVFAIL, DNS_SERVER_MISBEHAVING,
        DNS_TEMPORARY_FAILURE, DNS_NON_RECOVERABLE, DNS_BOGON, DNS_WRONG_QUERY_ID,
        ANDROID_DNS_CACHE_NO_DATA,
    }
)


def unknown(text: str) -> str:
    """The catch-all spelling: ``unknown_failure: <text>``."""
    return f"{UNKNOWN_PREFIX}: {text}"


def normalize(failure: object) -> str | None:
    """Map any recorded failure (current, legacy, or odd) to a canonical string; ``None`` stays ``None``.

    Unknown strings come back as ``unknown_failure: <text>`` unless they already carry that prefix.
    Non-string values (seen in the archive: ``True``, numbers) become ``unknown_failure: <repr>``.
    """
    if failure is None or failure == "":
        return None
    if not isinstance(failure, str):
        return unknown(repr(failure))
    f = failure.strip()
    if f in CANONICAL:
        return f
    legacy = LEGACY.get(f)
    if legacy is not None:
        return legacy
    if f.startswith(UNKNOWN_PREFIX):
        return f
    lowered = f.lower()
    if lowered in CANONICAL:
        return lowered
    if lowered in LEGACY:
        return LEGACY[lowered]
    # measurement-kit appended detail: "ssl_error: error:14007086:...:certificate verify failed"
    head = lowered.split(":", 1)[0].strip()
    if head != lowered and head in CANONICAL:
        return head
    if head != lowered and head in LEGACY:
        return LEGACY[head]
    return unknown(f)


def is_timeout(failure: str | None) -> bool:
    return failure == GENERIC_TIMEOUT


def is_ssl(failure: str | None) -> bool:
    return failure is not None and failure.startswith("ssl_")
