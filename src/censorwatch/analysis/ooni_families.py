"""Families for the OONI tests whose rules live in ``analysis/experiments``, for as long as that
package exports only its ``CLASSIFIERS`` table (the registry prefers ``experiments.FAMILIES`` when it
exists; this module is then unused and goes).

The rule ids and their meanings are the ones ``analysis/experiments`` emits (docs/classification.md,
"Other tests"); each group is one family with its own version.
"""

from __future__ import annotations

from typing import Final

from censorwatch.analysis.experiments import apps, circumvention, legacy, middlebox, primitives
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Classifier, Family
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

_APPS_RULES: Final[dict[str, str]] = {
    "whatsapp.no_data": "no network steps recorded",
    "whatsapp.blocked": "all chat-server connects failed, or the registration/web HTTPS fetch failed",
    "whatsapp.ok": "chat servers, registration and web app answered",
    "telegram.no_data": "no network steps recorded",
    "telegram.blocked": "no data-centre connect worked, every DC request failed, or web.telegram.org failed",
    "telegram.ok": "data centres (and web app) answered",
    "signal.no_data": "no network steps recorded",
    "signal.blocked": "a Signal host failed at DNS (incl. bogon), TCP, TLS or HTTP",
    "signal.outdated_pin": "only ssl_unknown_authority from a probe older than 3.16 (outdated pinned CA)",
    "signal.ok": "every Signal host answered",
    "facebook_messenger.no_data": "no network steps recorded",
    "facebook_messenger.dns": "a DNS answer outside AS32934, a bogon, or a DNS failure",
    "facebook_messenger.tcp": "a connect to a Messenger endpoint failed",
    "facebook_messenger.ok": "answers in AS32934 and every connect worked",
}
_CIRCUMVENTION_RULES: Final[dict[str, str]] = {
    "bootstrap.no_data": "torsf/vanilla_tor/psiphon: no failure or bootstrap_time recorded",
    "bootstrap.failed": "torsf/vanilla_tor/psiphon: the bootstrap failed",
    "bootstrap.ok": "torsf/vanilla_tor/psiphon: the bootstrap completed",
    "tor.no_data": "no targets listed",
    "tor.blocked": "every target of one kind (or_port, dir_port, obfs4, ...) failed",
    "tor.ok": "at least one target of every kind was reached",
    "openvpn.no_data": "no test_keys",
    "openvpn.tcp": "the gateway could not be reached",
    "openvpn.handshake": "the OpenVPN handshake failed",
    "openvpn.tunnel": "the tunnel came up but no fetch through it worked",
    "openvpn.ok": "the tunnel came up and carried traffic",
    "riseupvpn.no_data": "no network steps recorded",
    "riseupvpn.api": "a step towards Riseup's API failed",
    "riseupvpn.gateways": "gateways could not be reached",
    "riseupvpn.ok": "the API answered",
    "meek.no_data": "no request recorded",
    "meek.failed": "the fronted request failed",
    "meek.front_refused": "the CDN answered without reaching the meek server: the front is gone",
    "meek.ok": "the meek server's greeting came back",
}
_MIDDLEBOX_RULES: Final[dict[str, str]] = {
    "hirl.no_data": "sent/received missing",
    "hirl.tampering": "a request line did not come back unchanged",
    "hirl.ok": "every request line came back unchanged",
    "hhfm.no_data": "the echo helper could not be reached",
    "hhfm.not_echoed": "the reply was not the echo helper's",
    "hhfm.tampering": "header names were changed on the way",
    "hhfm.ok": "headers arrived unchanged",
}
_LEGACY_RULES: Final[dict[str, str]] = {
    "http_requests.no_data": "no direct request",
    "http_requests.no_control": "direct fetch worked, the Tor fetch failed: no comparison",
    "http_requests.down": "both the direct and the Tor fetch failed",
    "http_requests.failure": "the direct fetch failed, the Tor fetch worked",
    "http_requests.blockpage": "the direct fetch matched a blockpage fingerprint",
    "http_requests.match": "direct and Tor pages match",
    "http_requests.diff": "direct and Tor pages differ",
    "dns_consistency.no_data": "the control resolver's answer is missing",
    "dns_consistency.failed": "a tested resolver failed or answered a bogon",
    "dns_consistency.ok": "every tested resolver shares an address with the control",
    "dns_consistency.differs": "other public addresses than the control's: no verdict",
    "browser_web.no_data": "no result",
    "browser_web.error": "the browser reported an error (no detail, no control): no verdict",
    "browser_web.ok": "the browser loaded the page",
    "dnscheck.no_data": "no lookup recorded",
    "dnscheck.failed": "every lookup through the resolver failed",
    "dnscheck.ok": "the resolver answered",
}
_PRIMITIVES_RULES: Final[dict[str, str]] = {
    "stunreachability.no_data": "no STUN outcome recorded",
    "stunreachability.failed": "the STUN server could not be reached",
    "stunreachability.ok": "the STUN server answered",
    "urlgetter.no_data": "no fetch recorded",
    "urlgetter.failed": "the fetch failed (the failed operation names the step)",
    "urlgetter.ok": "the fetch worked",
}

_TABLE: Final[tuple[tuple[str, str, dict[str, str], bool, dict[str, Classifier]], ...]] = (
    ("apps", "Instant messaging: can the apps' servers, registration and web apps be reached?", _APPS_RULES,
     False, {"whatsapp": apps.classify_whatsapp, "telegram": apps.classify_telegram,
             "signal": apps.classify_signal, "facebook_messenger": apps.classify_facebook_messenger}),
    ("circumvention", "Circumvention tools: do Tor, Snowflake, Psiphon, OpenVPN, Riseup VPN and meek work?",
     _CIRCUMVENTION_RULES, False,
     {"tor": circumvention.classify_tor, "torsf": circumvention.classify_bootstrap,
      "vanilla_tor": circumvention.classify_bootstrap, "psiphon": circumvention.classify_bootstrap,
      "openvpn": circumvention.classify_openvpn, "riseupvpn": circumvention.classify_riseupvpn,
      "meek_fronted_requests_test": circumvention.classify_meek}),
    ("middlebox", "Middleboxes: is cleartext HTTP altered on the way?", _MIDDLEBOX_RULES, True,
     {"http_invalid_request_line": middlebox.classify_invalid_request_line,
      "http_header_field_manipulation": middlebox.classify_header_field_manipulation}),
    ("legacy", "Tests OONI retired: HTTP requests over Tor, DNS consistency, browser_web, dnscheck.",
     _LEGACY_RULES, True,
     {"http_requests": legacy.classify_http_requests, "dns_consistency": legacy.classify_dns_consistency,
      "browser_web": legacy.classify_browser_web, "dnscheck": legacy.classify_dnscheck}),
    ("primitives", "Single operations: STUN reachability and urlgetter.", _PRIMITIVES_RULES, False,
     {"stunreachability": primitives.classify_stunreachability, "urlgetter": primitives.classify_urlgetter}),
)


def _dispatch(table: dict[str, Classifier]) -> Classifier:
    def classify(m: Measurement, fps: Fingerprints) -> Verdict:
        return table[m.test_name](m, fps)

    return classify


FAMILIES: Final[list[Family]] = [
    Family(name=name, tests=tuple(table), version="1", rules=rules, classify=_dispatch(table),
           uses_fingerprints=fps, summary=summary)
    for name, summary, rules, fps, table in _TABLE
]
