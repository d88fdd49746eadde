"""Every rule id a verdict can carry, with one line saying what it decides.

Ids are stable: a rule that changes meaning gets a new id, and ``RULES_VERSION`` changes whenever any
rule's behaviour does (stored with every verdict, so ``censorwatch analyze`` knows what to redo).
docs/classification.md explains each rule in plain words; a test checks both lists agree.
"""

from __future__ import annotations

from typing import Final

RULES_VERSION: Final = "2026.11.29-1"

RULES: Final[dict[str, str]] = {
    # common
    "unknown_test": "a test this version has no rules for",
    "no_data": "the measurement has no test_keys",
    "classify_error": "the measurement is malformed in a way the rules did not expect",
    # web_connectivity
    "wc.no_data": "no test_keys",
    "wc.no_input": "no URL to judge",
    "wc.https_ok": "the final HTTPS request succeeded (valid certificate): not blocked",
    "wc.fingerprint.dns": "a DNS answer matched a confirming blocking fingerprint",
    "wc.fingerprint.http": "a response matched a confirming blockpage fingerprint",
    "wc.control_failure": "the control could not be reached: no verdict",
    "wc.dns.nxdomain_down": "NXDOMAIN for probe and control: the site does not exist",
    "wc.dns.nxdomain": "NXDOMAIN for the probe only: DNS blocking",
    "wc.dns.failure_down": "DNS failed for probe and control: the site's DNS is broken",
    "wc.dns.failure": "DNS failed for the probe only: DNS blocking",
    "wc.dns.failure_unknown": "DNS failed for the probe and the control has no DNS result",
    "wc.tcp.down": "no TCP connection for probe nor control: site down",
    "wc.tcp.no_ipv6": "only IPv6 addresses, unreachable from an IPv6-less network",
    "wc.tcp.dns": "no TCP connection, DNS inconsistent: DNS blocking",
    "wc.tcp.blocked": "no TCP connection, DNS consistent, control connected: TCP/IP blocking",
    "wc.http.down": "the control's fetch failed and so did the probe's: site down",
    "wc.http.control_failed": "the control's fetch failed, the probe's did not: no comparison",
    "wc.no_requests": "no HTTP request was made and no failure explains why",
    "wc.http.redirect_nxdomain": "a redirect target did not resolve for the probe: DNS blocking",
    "wc.http.dns": "the probe's fetch failed and DNS was inconsistent: DNS blocking",
    "wc.http.failure": "the probe's fetch failed (reset, timeout, EOF, refused, TLS): http-failure",
    "wc.http.redirect_filter": "the fetch failed after a redirect to a filter's page (fingerprint or private IP)",
    "wc.http.unknown_failure": "the probe's fetch failed with an error that is not interference",
    "wc.http.no_control": "the control has no page to compare with",
    "wc.http.match": "status code and body/headers/title match the control's: not blocked",
    "wc.http.cdn_challenge": "a CDN bot check (Cloudflare) shown to the probe only: not censorship",
    "wc.http.diff_dns": "the page differs and DNS was inconsistent: DNS blocking",
    "wc.http.diff": "the page differs from the control's: http-diff",
    # instant messaging (no control: anomaly at most)
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
    # circumvention tools
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
    # middleboxes
    "hirl.no_data": "sent/received missing",
    "hirl.tampering": "a request line did not come back unchanged",
    "hirl.ok": "every request line came back unchanged",
    "hhfm.no_data": "the echo helper could not be reached",
    "hhfm.not_echoed": "the reply was not the echo helper's",
    "hhfm.tampering": "header names were changed on the way",
    "hhfm.ok": "headers arrived unchanged",
    # legacy tests
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
