"""OONI's named Web Connectivity QA scenarios (probe-cli webconnectivityqa), each rebuilt as raw
observations, with the (blocking, accessible) OONI expects and the status we give.

Where we deliberately differ from OONI (CDN bot checks), the test says so; everything else must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from wc_builder import control, query, request, tcp, wc

from censorwatch.analysis import classify
from censorwatch.analysis.fingerprints import builtin_fingerprints
from censorwatch.model.measurement import Measurement

IP, BAD = "93.184.216.34", "198.51.200.9"  # the site; an address a censor answers with (other network)
OTHER = "203.0.114.8"


def _tls(ip: str, failure: str | None, sni: str = "example.org") -> dict[str, Any]:
    return {"address": f"{ip}:443", "server_name": sni, "failure": failure}


def _redirected(to: str, failure: str) -> list[dict[str, Any]]:
    """``requests``, newest first, of a fetch of http://example.org/ redirected (302) to ``to``,
    where the second request failed with ``failure``."""
    return [request(to, failure=failure),
            request("http://example.org/", code=302, body="", headers={"Location": to})]


def _https(**kw: Any) -> Measurement:
    return wc("https://example.org/", **kw)


SCENARIOS: dict[str, tuple[Callable[[], Measurement], object, object, str]] = {
    "successWithHTTP": (lambda: wc(), False, True, "ok"),
    "successWithHTTPS": (lambda: _https(tcp_connect=[tcp(IP, 443)], tls_handshakes=[_tls(IP, None)],
                                        requests=[request("https://example.org/")]), False, True, "ok"),
    "dnsBlockingNXDOMAIN": (lambda: wc(queries=[query("example.org", failure="dns_nxdomain_error")], tcp_connect=[],
                                       requests=[request("http://example.org/", failure="dns_nxdomain_error")]),
                            "dns", False, "anomaly"),
    "dnsBlockingAndroidDNSCacheNoData": (lambda: wc(queries=[query("example.org", failure="android_dns_cache_no_data")],
                                                    tcp_connect=[], requests=[]), "dns", False, "anomaly"),
    "dnsBlockingBOGON": (lambda: wc(queries=[query("example.org", "10.10.34.35")], tcp_connect=[], requests=[]),
                         "dns", False, "anomaly"),
    "dnsHijackingToProxyWithHTTPURL": (lambda: wc(queries=[query("example.org", BAD, asn=64999)],
                                                  tcp_connect=[tcp(BAD, 80)]), False, True, "ok"),
    "dnsHijackingToProxyWithHTTPSURL": (lambda: _https(queries=[query("example.org", BAD, asn=64999)],
                                                       tcp_connect=[tcp(BAD, 443)], tls_handshakes=[_tls(BAD, None)],
                                                       requests=[request("https://example.org/")]), False, True, "ok"),
    "ghostDNSBlockingWithHTTP": (lambda: wc(queries=[query("example.org", BAD, asn=64999)],
                                            tcp_connect=[tcp(BAD, 80, "generic_timeout_error")],
                                            requests=[request("http://example.org/", failure="generic_timeout_error")]),
                                 "dns", False, "anomaly"),
    "tcpBlockingConnectTimedOut": (lambda: wc(tcp_connect=[tcp(IP, 80, "generic_timeout_error")],
                                              requests=[request("http://example.org/", failure="generic_timeout_error")]),
                                   "tcp_ip", False, "anomaly"),
    "tcpBlockingConnectionRefusedWithInconsistentDNS": (
        lambda: wc(queries=[query("example.org", BAD, asn=64999)], tcp_connect=[tcp(BAD, 80, "connection_refused")],
                   requests=[request("http://example.org/", failure="connection_refused")]), "dns", False, "anomaly"),
    "tlsBlockingConnectionResetWithConsistentDNS": (
        lambda: _https(tcp_connect=[tcp(IP, 443)], tls_handshakes=[_tls(IP, "connection_reset")],
                       requests=[request("https://example.org/", failure="connection_reset")],
                       ctrl=control(tcp_ok={f"{IP}:443": True})), "http-failure", False, "anomaly"),
    "tlsBlockingConnectionResetWithInconsistentDNS": (
        lambda: _https(queries=[query("example.org", BAD, asn=64999)], tcp_connect=[tcp(BAD, 443)],
                       tls_handshakes=[_tls(BAD, "connection_reset")],
                       requests=[request("https://example.org/", failure="connection_reset")]), "dns", False, "anomaly"),
    "httpBlockingConnectionReset": (lambda: wc(requests=[request("http://example.org/", failure="connection_reset")]),
                                    "http-failure", False, "anomaly"),
    "httpDiffWithConsistentDNS": (lambda: wc(requests=[request("http://example.org/", body="<title>Blocked</title>",
                                                               headers={"Server": "censor"})]),
                                  "http-diff", False, "anomaly"),
    "httpDiffWithInconsistentDNS": (lambda: wc(queries=[query("example.org", BAD, asn=64999)], tcp_connect=[tcp(BAD, 80)],
                                               requests=[request("http://example.org/", body="<title>Blocked</title>",
                                                                 headers={"Server": "censor"})]), "dns", False, "anomaly"),
    "redirectWithConsistentDNSAndThenConnectionRefusedForHTTP": (
        lambda: wc(tcp_connect=[tcp(IP, 80), tcp(OTHER, 80, "connection_refused")],
                   requests=_redirected("http://www.example.org/", "connection_refused")), "http-failure", False, "anomaly"),
    "redirectWithConsistentDNSAndThenConnectionResetForHTTPS": (
        lambda: wc(tcp_connect=[tcp(IP, 80), tcp(OTHER, 443)], tls_handshakes=[_tls(OTHER, "connection_reset",
                                                                                  "www.example.org")],
                   requests=_redirected("https://www.example.org/", "connection_reset")), "http-failure", False, "anomaly"),
    "redirectWithConsistentDNSAndThenNXDOMAIN": (
        lambda: wc(requests=_redirected("http://www.example.org/", "dns_nxdomain_error")), "dns", False, "anomaly"),
    "redirectWithConsistentDNSAndThenEOFForHTTP": (
        lambda: wc(requests=_redirected("http://www.example.org/", "eof_error")), "http-failure", False, "anomaly"),
    "redirectWithConsistentDNSAndThenTimeoutForHTTPS": (
        lambda: wc(tcp_connect=[tcp(IP, 80), tcp(OTHER, 443)],
                   tls_handshakes=[_tls(OTHER, "generic_timeout_error", "www.example.org")],
                   requests=_redirected("https://www.example.org/", "generic_timeout_error")), "http-failure", False, "anomaly"),
    "websiteDownNXDOMAIN": (lambda: wc(queries=[query("example.org", failure="dns_nxdomain_error")], tcp_connect=[],
                                       requests=[request("http://example.org/", failure="dns_nxdomain_error")],
                                       ctrl=control(addrs=[], dns_failure="dns_name_error",
                                                    http_failure="dns_lookup_error")), False, False, "down"),
    "websiteDownTCPConnect": (lambda: wc(tcp_connect=[tcp(IP, 80, "connection_refused")],
                                         requests=[request("http://example.org/", failure="connection_refused")],
                                         ctrl=control(tcp_ok={f"{IP}:80": False}, http_failure="connection_refused")),
                              False, False, "down"),
    "badSSLWithExpiredCertificate": (lambda: _https(tcp_connect=[tcp(IP, 443)],
                                                    tls_handshakes=[_tls(IP, "ssl_invalid_certificate")],
                                                    requests=[request("https://example.org/",
                                                                      failure="ssl_invalid_certificate")],
                                                    ctrl=control(tcp_ok={f"{IP}:443": True},
                                                                 http_failure="ssl_invalid_certificate")),
                                     False, False, "down"),
    "badSSLWithUnknownAuthorityWithInconsistentDNS": (
        lambda: _https(queries=[query("example.org", BAD, asn=64999)], tcp_connect=[tcp(BAD, 443)],
                       tls_handshakes=[_tls(BAD, "ssl_unknown_authority")],
                       requests=[request("https://example.org/", failure="ssl_unknown_authority")]), "dns", False, "anomaly"),
    "controlFailureWithSuccessfulHTTPSWebsite": (lambda: _https(tcp_connect=[tcp(IP, 443)], tls_handshakes=[_tls(IP, None)],
                                                                requests=[request("https://example.org/")],
                                                                control_failure="generic_timeout_error"),
                                                 False, True, "ok"),
    "controlFailureWithSuccessfulHTTPWebsite": (lambda: wc(control_failure="generic_timeout_error"), None, None, "failure"),
    # The site's own bad certificate: the control's fetch fails the same way (rule 5: down).
    "badSSLWithWrongServerName": (lambda: _https(tcp_connect=[tcp(IP, 443)], tls_handshakes=[_tls(IP, "ssl_invalid_hostname")],
                                                 requests=[request("https://example.org/", failure="ssl_invalid_hostname")],
                                                 ctrl=control(tcp_ok={f"{IP}:443": True},
                                                              http_failure="ssl_invalid_hostname")), False, False, "down"),
    "badSSLWithUnknownAuthorityWithConsistentDNS": (
        lambda: _https(tcp_connect=[tcp(IP, 443)], tls_handshakes=[_tls(IP, "ssl_unknown_authority")],
                       requests=[request("https://example.org/", failure="ssl_unknown_authority")],
                       ctrl=control(tcp_ok={f"{IP}:443": True}, http_failure="ssl_unknown_authority")), False, False, "down"),
    # DNS answering localhost: a bogon only the probe got is DNS blocking (newer probes do not connect).
    "dnsHijackingToLocalhostWithHTTP": (lambda: wc(queries=[query("example.org", "127.0.0.1", asn=0)], tcp_connect=[],
                                                   requests=[]), "dns", False, "anomaly"),
    "dnsHijackingToLocalhostWithHTTPS": (lambda: _https(queries=[query("example.org", "127.0.0.1", asn=0)], tcp_connect=[],
                                                        requests=[], ctrl=control(tcp_ok={f"{IP}:443": True})),
                                         "dns", False, "anomaly"),
    # ... but when the control gets localhost too the site is misconfigured, not censored.
    "localhostWithHTTP": (lambda: wc(queries=[query("example.org", "127.0.0.1", asn=0)], tcp_connect=[], requests=[],
                                     ctrl=control(addrs=["127.0.0.1"], tcp_ok={}, http_failure="connection_refused")),
                          False, False, "down"),
    "localhostWithHTTPS": (lambda: _https(queries=[query("example.org", "127.0.0.1", asn=0)], tcp_connect=[], requests=[],
                                          ctrl=control(addrs=["127.0.0.1"], tcp_ok={}, http_failure="connection_refused")),
                           False, False, "down"),
    "ghostDNSBlockingWithHTTPS": (lambda: _https(queries=[query("example.org", BAD, asn=64999)],
                                                 tcp_connect=[tcp(BAD, 443, "generic_timeout_error")],
                                                 requests=[request("https://example.org/", failure="generic_timeout_error")],
                                                 ctrl=control(tcp_ok={f"{IP}:443": True})), "dns", False, "anomaly"),
    "idnaWithoutCensorshipWithFirstLetterUppercase": (
        lambda: wc("http://Яндекс.рф/", queries=[query("xn--d1acpjx3f.xn--p1ai", IP)],
                   requests=[request("http://Яндекс.рф/")]), False, True, "ok"),
    # An 8 MiB body is cut at 512 KiB: no body comparison, but status and headers match.
    "largeFileWithHTTP": (lambda: wc(requests=[{"request": {"url": "http://example.org/"}, "failure": None,
                                                "response": {"code": 200, "body": "x" * 1000, "body_is_truncated": True,
                                                             "headers": {"Content-Type": "application/octet-stream",
                                                                         "X-Site-Id": "abc"}}}],
                                     ctrl=control(body_length=8 << 20, title="", headers={"Content-Type": "a",
                                                                                          "X-Site-Id": "abc"})),
                          False, True, "ok"),
    "redirectWithBrokenLocationForHTTP": (
        lambda: wc(requests=[request("http://example.org/", failure="unknown_failure: http: no Host in request URL"),
                             request("http://example.org/", code=302, body="", headers={"Location": "http://"})],
                   ctrl=control(http_failure="unknown_failure: http: no Host in request URL")), False, False, "down"),
    "redirectWithMoreThanTenRedirectsAndHTTP": (
        lambda: wc(requests=[request("http://example.org/", failure="unknown_failure: stopped after 10 redirects")],
                   ctrl=control(http_failure="unknown_failure: stopped after 10 redirects")), False, False, "down"),
    "redirectWithConsistentDNSAndThenConnectionRefusedForHTTPS": (
        lambda: wc(tcp_connect=[tcp(IP, 80), tcp(OTHER, 443, "connection_refused")],
                   requests=_redirected("https://www.example.org/", "connection_refused")), "http-failure", False, "anomaly"),
    "redirectWithConsistentDNSAndThenConnectionResetForHTTP": (
        lambda: wc(requests=_redirected("http://www.example.org/", "connection_reset")), "http-failure", False, "anomaly"),
    "redirectWithConsistentDNSAndThenEOFForHTTPS": (
        lambda: wc(tcp_connect=[tcp(IP, 80), tcp(OTHER, 443)], tls_handshakes=[_tls(OTHER, "eof_error", "www.example.org")],
                   requests=_redirected("https://www.example.org/", "eof_error")), "http-failure", False, "anomaly"),
    "redirectWithConsistentDNSAndThenTimeoutForHTTP": (
        lambda: wc(requests=_redirected("http://www.example.org/", "generic_timeout_error")), "http-failure", False, "anomaly"),
    # A CAPTCHA over HTTPS: the final HTTPS request succeeded (rule 1), whatever the page says.
    "cloudflareCAPTCHAWithHTTPS": (lambda: _https(tcp_connect=[tcp(IP, 443)], tls_handshakes=[_tls(IP, None)],
                                                  requests=[request("https://example.org/", code=403,
                                                                    body="<title>Just a moment...</title>",
                                                                    headers={"CF-RAY": "1", "Server": "cloudflare"})]),
                                   False, True, "ok"),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_ooni_scenario(name: str) -> None:
    build, blocking, accessible, status = SCENARIOS[name]
    v = classify(build(), builtin_fingerprints())
    assert (v.blocking, v.accessible, v.status) == (blocking, accessible, status), f"{v.rule}: {v.explanation}"


def test_cloudflare_captcha_with_http_is_where_we_differ_from_ooni() -> None:
    """OONI's QA expects http-diff here; a CDN's bot check is the site's own protection, so we say ok."""
    page = "<html><title>Just a moment...</title></html>"
    m = wc(requests=[request("http://example.org/", code=503, body=page, headers={"Server": "cloudflare", "CF-RAY": "1"})])
    v = classify(m, builtin_fingerprints())
    assert (v.status, v.blocking, v.rule) == ("ok", False, "wc.http.cdn_challenge")
