"""Every rule id a verdict can carry, with one line saying what it decides.

Ids are stable: a rule that changes meaning gets a new id, and ``RULES_VERSION`` changes whenever any
rule's behaviour does (stored with every verdict, so ``censorwatch analyze`` knows what to redo).
These are the common rules and web_connectivity's; every other test family declares its own rules
and version (``analysis/experiments``). docs/classification.md explains each rule in plain words; a
test checks both lists agree.
"""

from __future__ import annotations

from typing import Final

RULES_VERSION: Final = "2026.11.29-4"

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
    "wc.dns.inconsistent": "no fetch was made and DNS was inconsistent (e.g. a bogon not connected to): DNS blocking",
    "wc.no_requests": "no HTTP request was made and no failure explains why",
    "wc.http.redirect_nxdomain": "a redirect target did not resolve for the probe: DNS blocking",
    "wc.http.dns": "the probe's fetch failed and DNS was inconsistent: DNS blocking",
    "wc.http.failure": "the probe's fetch failed (reset, timeout, EOF, refused, TLS): http-failure",
    "wc.http.redirect_filter": "the fetch failed after a redirect to a filter's page (fingerprint or private IP)",
    "wc.http.unknown_failure": "the probe's fetch failed with an error that is not interference",
    "wc.http.no_control": "the control has no page to compare with",
    "wc.http.no_response": "the fetch recorded neither an error nor a response",
    "wc.http.match": "status code and body/headers/title match the control's: not blocked",
    "wc.http.cdn_challenge": "a CDN bot check (Cloudflare) shown to the probe only: not censorship",
    "wc.http.control_challenged": "the control got a CDN bot check instead of the page: no comparison",
    "wc.http.diff_dns": "the page differs and DNS was inconsistent: DNS blocking",
    "wc.http.diff": "the page differs from the control's: http-diff",
}
