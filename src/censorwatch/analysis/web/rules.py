"""Every rule id a web_connectivity verdict can carry, with one line saying what it decides.

In the order the cascade (``cascade.py``) tries them; docs/classification.md explains each.
"""

from __future__ import annotations

from typing import Final

VERSION: Final = "web_connectivity-2026.12.01"

RULES: Final[dict[str, str]] = {
    "wc.no_data": "no test_keys",
    "wc.no_input": "no URL to judge",
    "wc.https_ok": "the user's redirect chain ended in a successful HTTPS response (valid certificate): not blocked",
    "wc.fingerprint.dns": "a system-resolver answer matched a confirming blocking fingerprint",
    "wc.fingerprint.http": "a response of the user's redirect chain matched a confirming blockpage fingerprint",
    "wc.control_failure": "the control could not be reached: no verdict",
    "wc.dns.inconsistent": "nothing was fetched and the system resolver's answer was inconsistent: DNS blocking",
    "wc.no_requests": "nothing was fetched and nothing explains why",
    "wc.dns.nxdomain_down": "NXDOMAIN for the probe and the control: the site does not exist",
    "wc.dns.failure_down": "the lookup failed (or came back empty) for the probe and the control: the site's DNS is broken",
    "wc.dns.nxdomain": "the system resolver said NXDOMAIN, the control did not: DNS blocking",
    "wc.dns.failure": "the system resolver failed, the control resolved the name: DNS blocking",
    "wc.dns.failure_unknown": "the system resolver failed and the control has no DNS result",
    "wc.dns.loopback_down": "the name resolves to loopback addresses for the control too: the site is misconfigured",
    "wc.dns.loopback": "the system resolver answered loopback addresses, the control did not: DNS blocking",
    "wc.dns.ghost": "the control cannot resolve the name, the system resolver gave an address that then failed or served a page: DNS blocking",
    "wc.dns.nxdomain_rewrite": "the control cannot resolve the name, the system resolver's address redirected to another site: down",
    "wc.redirect.dns": "a redirect's next hop did not resolve for the probe while the control loaded the page: DNS blocking",
    "wc.redirect.failure": "a redirect's next hop could not be fetched while the control loaded the page: http-failure",
    "wc.tcp.no_ipv6": "only IPv6 addresses, unreachable from an IPv6-less network",
    "wc.tcp.down": "no TCP connection for the probe, nor for the control on the same address: site down",
    "wc.tls.down": "the TLS handshake failed for the control too, on the same address: site down",
    "wc.http.down": "the control's own fetch failed as well: site down",
    "wc.tcp.dns": "no TCP connection, and the system resolver's answer was inconsistent: DNS blocking",
    "wc.tcp.blocked": "no TCP connection while the control connected to the same address: TCP/IP blocking",
    "wc.tcp.untested": "no TCP connection to an address the control did not test, while it loaded the page: http-failure",
    "wc.http.dns": "the TLS handshake or the fetch failed and the system resolver's answer was inconsistent: DNS blocking",
    "wc.http.failure": "the TLS handshake or the fetch failed (reset, timeout, EOF, refused, certificate) while the control loaded the page: http-failure",
    "wc.http.redirect_filter": "the fetch failed after a redirect to a filter's page (fingerprint or private address)",
    "wc.http.unknown_failure": "the fetch failed with an error that is not evidence of interference",
    "wc.http.control_failed": "the probe got a page, the control's fetch failed: no comparison",
    "wc.http.no_control": "the control has no page to compare with",
    "wc.http.no_response": "the fetch recorded neither an error nor a response",
    "wc.http.match": "status code and body/headers/title match the control's: not blocked",
    "wc.http.cdn_challenge": "a CDN bot check (Cloudflare) shown to the probe only: not censorship",
    "wc.http.control_challenged": "the control got a CDN bot check instead of the page: no comparison",
    "wc.http.diff_dns": "the page differs from the control's (or the control has none) and DNS was inconsistent: DNS blocking",
    "wc.http.diff": "the page differs from the control's: http-diff",
}
