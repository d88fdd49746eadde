"""OONI's HTTP comparisons between the probe's final response and the control's (methodology §4).

Each function returns ``None`` when the data cannot support the comparison, exactly as OONI's
``body_length_match``/``status_code_match``/``headers_match``/``title_match`` keys do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

BODY_PROPORTION_FACTOR: Final = 0.7
TITLE_MIN_WORD_BYTES: Final = 5

#: Header names too common to say anything about which server answered (OONI's list).
COMMON_HEADERS: Final[frozenset[str]] = frozenset(
    {
        "date", "content-type", "server", "cache-control", "vary", "set-cookie", "location",
        "expires", "x-powered-by", "content-encoding", "last-modified", "accept-ranges", "pragma",
        "x-frame-options", "etag", "x-content-type-options", "age", "via", "p3p", "x-xss-protection",
        "content-language", "cf-ray", "strict-transport-security", "link", "x-varnish",
    }
)

_TITLE_RE: Final = re.compile(r"<title>([^<]{1,512})</title>", re.IGNORECASE)


def extract_title(body: str | None) -> str:
    """The text of the first ``<title>`` (OONI's regex: no nested tags, at most 512 characters)."""
    if not body:
        return ""
    m = _TITLE_RE.search(body)
    return m.group(1) if m else ""


def body_proportion(probe_length: int | None, control_length: int | None, truncated: bool) -> float | None:
    """Shorter length / longer length; ``None`` if either is unknown/empty or the probe's body was cut."""
    if truncated or not probe_length or not control_length or probe_length < 0 or control_length < 0:
        return None
    if probe_length >= control_length:
        return control_length / probe_length
    return probe_length / control_length


def body_length_match(proportion: float | None) -> bool | None:
    return None if proportion is None else proportion > BODY_PROPORTION_FACTOR


def status_code_match(probe_code: int | None, control_code: int | None) -> bool | None:
    """Equal codes match; differing codes do not, unless the control got a 5xx (then unknown)."""
    if not probe_code or not control_code or probe_code <= 0 or control_code <= 0:
        return None
    if probe_code == control_code:
        return True
    if control_code // 100 == 5:
        return None
    return False


def headers_match(
    probe_names: Iterable[str], control_names: Iterable[str], probe_code: int | None, control_code: int | None
) -> bool | None:
    """Same set of header names, or at least one shared *uncommon* name."""
    if not probe_code or probe_code <= 0 or not control_code or control_code <= 0:
        return None
    ours = {n.lower() for n in probe_names}
    theirs = {n.lower() for n in control_names}
    if not ours or not theirs:
        return None
    if ours == theirs:
        return True
    return bool((ours & theirs) - COMMON_HEADERS)


def _words(title: str) -> set[str]:
    return {w.lower() for w in title.split(" ") if len(w.encode("utf-8", "replace")) >= TITLE_MIN_WORD_BYTES}


def title_match(
    probe_body: str | None, control_title: str | None, probe_code: int | None, control_code: int | None,
    truncated: bool,
) -> bool | None:
    """Every word of 5+ bytes in either ``<title>`` must appear in both (OONI's rule, order ignored)."""
    if not probe_code or probe_code <= 0 or truncated or not control_code or control_code <= 0:
        return None
    ours = extract_title(probe_body)
    if not ours:
        return None
    return _words(ours) == _words(control_title or "")
