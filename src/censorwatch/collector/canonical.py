"""Canonical bytes of a measurement, and the signed statements (receipts, tree heads) of the log.

Canonical bytes = ``orjson.dumps(value, option=OPT_SORT_KEYS)``: UTF-8, object keys sorted by code
point, no whitespace, numbers as orjson prints them (integers exactly, floats in shortest round-trip
form). Decoding with orjson and re-encoding is idempotent, so anyone can recompute the leaf of a
measurement file: ``leaf_hash(canonical_bytes(json.loads(file)))``.

A receipt and a signed tree head (STH) are JSON objects; the Ed25519 signature covers a domain tag
plus the canonical bytes of every other field (``signed_bytes``), so one kind can never be replayed as
the other.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

RECEIPT_TAG = b"censorwatch/receipt/v1\n"
STH_TAG = b"censorwatch/sth/v1\n"
# every ASCII digit -> "0", every other byte -> " ": a run of 19 zeros marks a possibly-big integer
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19
_I64_MIN, _U64_MAX = -(2**63), 2**64 - 1


class NotCanonicalisable(ValueError):
    """The JSON cannot be represented exactly in canonical form (the message says why)."""


def _exact_int(text: str) -> int:
    v = int(text)
    if not _I64_MIN <= v <= _U64_MAX:
        raise NotCanonicalisable(f"integer {text[:40]} is outside the 64-bit range")
    return v


def decode(body: bytes) -> Any:
    """Decode JSON exactly: orjson (rejects NaN/Infinity, invalid UTF-8, nesting over 1024), plus a
    check that no integer silently becomes a float (orjson turns >64-bit integers into floats)."""
    value = orjson.loads(body)
    if _LONG_RUN in body.translate(_DIGITS):
        import json

        try:
            json.loads(body, parse_int=_exact_int)
        except RecursionError:  # orjson read it (at most 1,024 levels); the pure-Python parser cannot
            raise NotCanonicalisable(f"nesting deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:  # e.g. an integer of more digits than int() converts
            if isinstance(exc, NotCanonicalisable):
                raise
            raise NotCanonicalisable(f"a number cannot be read exactly: {str(exc)[:80]}") from None
    return value


MAX_DEPTH = 254  # orjson encodes at most this many nested containers


def canonical_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        if "ecursion" in str(exc):
            raise NotCanonicalisable(f"nesting deeper than {MAX_DEPTH} levels") from None
        raise NotCanonicalisable(str(exc)) from None


def signed_bytes(tag: bytes, statement: dict[str, Any]) -> bytes:
    """What a signature covers: the tag, then the canonical statement without its ``signature``."""
    body = {k: v for k, v in statement.items() if k != "signature"}
    return tag + canonical_bytes(body)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
