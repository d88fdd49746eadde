"""Scrub the probe's own public address from a measurement before anything is written.

Every string in the measurement (fields, headers, bodies, and bodies/raw DNS answers carried as
base64) has each known probe address replaced by ``[scrubbed]``; ``probe_ip`` is ``127.0.0.1``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Any

SCRUBBED = "[scrubbed]"
_B64_KEYS = frozenset({"raw_response"})


def _pattern(ips: Iterable[str]) -> re.Pattern[str] | None:
    alts = sorted({ip for ip in ips if ip and ip != "127.0.0.1"}, key=len, reverse=True)
    if not alts:
        return None
    # an address must not be part of a longer address or number: 1.2.3.4 is not in 11.2.3.45
    return re.compile(r"(?<![0-9A-Fa-f.:])(?:" + "|".join(re.escape(a) for a in alts) + r")(?![0-9A-Fa-f:]|\.\d)")


def scrub(m: dict[str, Any], ips: Iterable[str]) -> dict[str, Any]:
    """Return ``m`` with every occurrence of ``ips`` replaced; ``probe_ip`` set to 127.0.0.1."""
    pat = _pattern(ips)
    out = _walk(m, pat) if pat is not None else m
    out["probe_ip"] = "127.0.0.1"
    return out


def _walk(v: Any, pat: re.Pattern[str], key: str | None = None) -> Any:
    if isinstance(v, str):
        if key in _B64_KEYS:
            return _b64(v, pat)
        return pat.sub(SCRUBBED, v)
    if isinstance(v, dict):
        if v.get("format") == "base64" and isinstance(v.get("data"), str) and len(v) == 2:
            return {"format": "base64", "data": _b64(v["data"], pat)}
        return {k: _walk(x, pat, k) for k, x in v.items()}
    if isinstance(v, list):
        return [_walk(x, pat, key) for x in v]
    return v


def _b64(data: str, pat: re.Pattern[str]) -> str:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return pat.sub(SCRUBBED, data)
    text = raw.decode("latin-1")
    new = pat.sub(SCRUBBED, text)
    if new == text:
        return data
    return base64.b64encode(new.encode("latin-1")).decode()
