"""Recognise a CDN's bot check (Cloudflare "Just a moment..." / "Attention Required!").

A CDN may show a CAPTCHA or JavaScript challenge to some clients (VPNs, shared mobile IPs, busy
networks) and not to others. Served to the probe but not to the control it *looks* like an
http-diff, but it is the site's own protection, not a censor: on its own it is no evidence of
censorship (a known OONI false positive).
"""

from __future__ import annotations

from typing import Final

from censorwatch.model.observations import HTTPResponse

CHALLENGE_CODES: Final = frozenset({403, 429, 503})
_BODY_MARKERS: Final = ("Just a moment...", "Attention Required! | Cloudflare", "Attention Required!",
                        "cf-chl-", "challenge-platform", "cf_chl_opt")
_HEADER_MARKERS: Final = ("cf-mitigated", "cf-ray", "cf-chl-bypass")


def is_cdn_challenge(response: HTTPResponse | None) -> bool:
    """True for a 403/429/503 carrying Cloudflare's challenge headers or page markers."""
    if response is None or response.code not in CHALLENGE_CODES:
        return False
    names = {k.lower() for k in response.headers}
    if any(h in names for h in _HEADER_MARKERS):
        return True
    head = (response.body or "")[:65536]
    return any(m in head for m in _BODY_MARKERS)


def control_was_challenged(code: int | None, header_names: list[str], title: str | None) -> bool:
    """The control (a datacenter address, often challenged) got a CDN bot check instead of the page."""
    if code not in CHALLENGE_CODES:
        return False
    names = {h.lower() for h in header_names}
    return bool(names & set(_HEADER_MARKERS)) or any(m in (title or "") for m in _BODY_MARKERS)
