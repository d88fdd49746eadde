"""Query-parameter parsing: every bad value becomes ``BadQuery`` (HTTP 400) naming the parameter."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from censorwatch.model.measurement import domain_of, normalize_asn
from censorwatch.model.verdict import STATUSES
from censorwatch.store.views import BadQuery

_CC = re.compile(r"^[A-Za-z]{2}$")
_ASN = re.compile(r"^(?:AS|as)?\d{1,10}$")
_TOKEN = re.compile(r"^[a-z0-9._-]{1,64}$")
_DOMAIN = re.compile(r"^[a-z0-9_.-]{1,253}$")
_UID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9_.-]+:\d{1,5}(?:/.*)?$")
MAX_ASN = 2**32 - 1
MIN_YEAR, MAX_YEAR = 1990, 2200


def cc(v: str | None, name: str = "cc") -> str | None:
    if v is None or v == "":
        return None
    if not _CC.match(v):
        raise BadQuery(f"{name}: expected a two-letter country code like PK, got {v[:40]!r}")
    return v.upper()


def asn(v: str | None) -> str | None:
    """``AS12345`` or ``12345``: an AS number is 32 bits (RFC 6793), so at most 4294967295."""
    if v is None or v == "":
        return None
    if not _ASN.match(v.strip()) or int(v.strip().upper().removeprefix("AS")) > MAX_ASN:
        raise BadQuery(f"asn: expected a network number like AS12345 (0-{MAX_ASN}), got {v[:40]!r}")
    return normalize_asn(v.strip())


def target(v: str | None, name: str = "target") -> str | None:
    """A domain (``x.com``, ``x.com:443``) or an http(s) URL; its host, lower case. Anything else
    (``javascript:...``, ``data:...``, ``ftp://...``, non-ASCII or control characters) is refused."""
    if v is None or v == "":
        return None
    s = v.strip()[:2048]
    if "://" in s:
        if s.split("://", 1)[0].lower() not in ("http", "https"):
            raise BadQuery(f"{name}: only http(s) URLs or domains, got {v[:60]!r}")
    elif ":" in s and not _HOST_PORT.match(s):
        raise BadQuery(f"{name}: expected a domain like x.com (or an http(s) URL), got {v[:60]!r}")
    d = domain_of(s)
    if d is None or not _DOMAIN.match(d) or ".." in d or d.strip(".") != d:
        raise BadQuery(f"{name}: expected a domain like x.com (or a URL), got {v[:60]!r}")
    return d


def when(v: str | None, name: str) -> datetime | None:
    """ISO 8601 date or date-time; naive values are UTC. Returned naive UTC (the store's convention),
    years 1990-2200; anything else (``0001-01-01T00:00:00+01:00`` included) is a 400 naming it."""
    if v is None or v == "":
        return None
    s = v.strip().replace(" ", "T")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is not None:
            dt = dt.astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        raise BadQuery(f"{name}: expected an ISO 8601 date or time like 2024-02-17 or 2024-02-17T10:00Z, got {v[:40]!r}") from None
    except OverflowError:
        raise BadQuery(f"{name}: {v[:40]!r} is outside the years 1-9999 once in UTC") from None
    if not MIN_YEAR <= dt.year <= MAX_YEAR:
        raise BadQuery(f"{name}: year {dt.year} is outside {MIN_YEAR}-{MAX_YEAR}")
    return dt


def status(v: str | None) -> str | None:
    if v is None or v == "":
        return None
    if v not in STATUSES:
        raise BadQuery(f"status: one of {', '.join(STATUSES)}, got {v[:40]!r}")
    return v


def token(v: str | None, name: str) -> str | None:
    if v is None or v == "":
        return None
    if not _TOKEN.match(v):
        raise BadQuery(f"{name}: unexpected value {v[:40]!r}")
    return v


def uid(v: str, name: str = "measurement_uid") -> str:
    if not _UID.match(v):
        raise BadQuery(f"{name}: not a valid identifier")
    return v
