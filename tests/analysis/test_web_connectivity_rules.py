"""Each Web Connectivity rule (methodology §4, rules 1-7) and our improvements, on hand-built keys."""

from __future__ import annotations

import pytest
from wc_builder import BODY, control, query, request, tcp, wc

from censorwatch.analysis import classify
from censorwatch.analysis.fingerprints import builtin_fingerprints

IP = "93.184.216.34"


def v(m):  # type: ignore[no-untyped-def]
    return classify(m, builtin_fingerprints())


def test_accessible_cleartext_page_is_ok() -> None:
    r = v(wc())
    assert (r.status, r.rule, r.blocking, r.accessible) == ("ok", "wc.http.match", False, True)
    assert r.dns_consistency == "consistent" and r.status_code_match and r.body_length_match
    assert r.body_proportion == 1.0 and r.headers_match and r.title_match


def test_rule1_https_success_rules_out_tampering_even_with_odd_dns() -> None:
    m = wc("https://example.org/", queries=[query("example.org", "203.0.113.9", asn=1)],
           tcp_connect=[tcp("203.0.113.9", 443)], requests=[request("https://example.org/")])
    r = v(m)
    assert (r.status, r.rule, r.blocking, r.accessible) == ("ok", "wc.https_ok", False, True)


def test_rule2_control_failure_gives_no_verdict() -> None:
    r = v(wc(control_failure="connection_refused", requests=[request("http://example.org/", failure="connection_reset")]))
    assert (r.status, r.rule, r.blocking, r.accessible) == ("failure", "wc.control_failure", None, None)


def test_rule3_nxdomain_for_probe_only_is_dns_blocking() -> None:
    m = wc(queries=[query("example.org", failure="dns_nxdomain_error")], tcp_connect=[],
           requests=[request("http://example.org/", failure="dns_nxdomain_error")])
    r = v(m)
    assert (r.status, r.method, r.blocking, r.dns_consistency) == ("anomaly", "dns.nxdomain", "dns", "inconsistent")


def test_rule3_nxdomain_for_both_is_down() -> None:
    m = wc(queries=[query("example.org", failure="dns_nxdomain_error")], tcp_connect=[],
           requests=[request("http://example.org/", failure="dns_nxdomain_error")],
           ctrl=control(addrs=[], dns_failure="dns_name_error", http_failure="dns_lookup_error"))
    r = v(m)
    assert (r.status, r.rule, r.blocking, r.accessible, r.dns_consistency) == (
        "down", "wc.dns.nxdomain_down", False, False, "consistent")


def test_android_dns_cache_no_data_counts_as_nxdomain() -> None:
    m = wc(queries=[query("example.org", failure="android_dns_cache_no_data")], tcp_connect=[], requests=[])
    assert v(m).method == "dns.nxdomain"


def test_rule4_tcp_blocked_with_consistent_dns() -> None:
    m = wc(tcp_connect=[tcp(IP, 80, "generic_timeout_error")],
           requests=[request("http://example.org/", failure="generic_timeout_error")])
    r = v(m)
    assert (r.status, r.rule, r.method, r.blocking, r.accessible) == (
        "anomaly", "wc.tcp.blocked", "tcp.timeout", "tcp_ip", False)


def test_rule4_tcp_failure_with_bogon_dns_is_dns() -> None:
    m = wc(queries=[query("example.org", "10.10.34.35")], tcp_connect=[tcp("10.10.34.35", 80, "connection_refused")],
           requests=[request("http://example.org/", failure="connection_refused")])
    r = v(m)
    assert (r.rule, r.method, r.blocking, r.dns_consistency) == ("wc.tcp.dns", "dns.bogon", "dns", "inconsistent")


def test_site_unreachable_for_control_too_is_down_not_tcp_blocking() -> None:
    m = wc(tcp_connect=[tcp(IP, 80, "generic_timeout_error")],
           requests=[request("http://example.org/", failure="generic_timeout_error")],
           ctrl=control(tcp_ok={f"{IP}:80": False}, http_failure="generic_timeout_error"))
    r = v(m)
    assert (r.status, r.rule, r.blocking, r.accessible) == ("down", "wc.tcp.down", False, False)


def test_rule5_control_http_failed_and_probe_failed_is_down() -> None:
    m = wc(requests=[request("http://example.org/", failure="connection_reset")],
           ctrl=control(http_failure="connection_reset"))
    assert (v(m).status, v(m).rule) == ("down", "wc.http.down")


def test_rule5_control_http_failed_probe_ok_is_no_verdict() -> None:
    r = v(wc(ctrl=control(http_failure="generic_timeout_error")))
    assert (r.status, r.rule, r.blocking) == ("failure", "wc.http.control_failed", None)


@pytest.mark.parametrize(
    ("failure", "method"),
    [("connection_reset", "http.reset"), ("generic_timeout_error", "http.timeout"), ("eof_error", "http.eof"),
     ("connection_refused", "tcp.refused")],
)
def test_rule6_http_failures_are_http_failure(failure: str, method: str) -> None:
    r = v(wc(requests=[request("http://example.org/", failure=failure)]))
    assert (r.status, r.rule, r.method, r.blocking) == ("anomaly", "wc.http.failure", method, "http-failure")


def test_rule6_tls_reset_is_tls_method() -> None:
    m = wc("https://example.org/", tcp_connect=[tcp(IP, 443)],
           tls_handshakes=[{"address": f"{IP}:443", "server_name": "example.org", "failure": "connection_reset"}],
           requests=[request("https://example.org/", failure="connection_reset")],
           ctrl=control(tcp_ok={f"{IP}:443": True}))
    r = v(m)
    assert (r.rule, r.method, r.blocking) == ("wc.http.failure", "tls.reset", "http-failure")


def test_rule6_tls_failure_without_request_newer_probes() -> None:
    m = wc("https://example.org/", tcp_connect=[tcp(IP, 443)],
           tls_handshakes=[{"address": f"{IP}:443", "server_name": "example.org", "failure": "ssl_unknown_authority"}],
           requests=[], ctrl=control(tcp_ok={f"{IP}:443": True}))
    assert (v(m).rule, v(m).method) == ("wc.http.failure", "tls.mitm")


def test_rule6_with_inconsistent_dns_is_dns() -> None:
    m = wc(queries=[query("example.org", "198.51.200.1", asn=999)], tcp_connect=[tcp("198.51.200.1", 80)],
           requests=[request("http://example.org/", failure="connection_reset")],
           ctrl=control(ip_info={IP: {"asn": 15133, "flags": 2}}))
    r = v(m)
    assert (r.rule, r.blocking, r.method, r.dns_consistency) == ("wc.http.dns", "dns", "dns.injection", "inconsistent")


def test_rule6_redirect_to_nxdomain_is_dns() -> None:
    r = v(wc(requests=[request("http://other.example/", failure="dns_nxdomain_error")]))
    assert (r.rule, r.blocking, r.method) == ("wc.redirect.dns", "dns", "dns.nxdomain")


def test_rule7_different_page_is_http_diff() -> None:
    m = wc(requests=[request("http://example.org/", body="<html><title>Nope</title>blocked</html>",
                             headers={"Content-Type": "text/html"})])
    r = v(m)
    assert (r.status, r.rule, r.method, r.blocking) == ("anomaly", "wc.http.diff", "http.diff", "http-diff")
    assert r.body_length_match is False and r.headers_match is False and r.title_match is False


def test_rule7_different_page_with_inconsistent_dns_is_dns() -> None:
    m = wc(queries=[query("example.org", "198.51.200.1", asn=999)], tcp_connect=[tcp("198.51.200.1", 80)],
           requests=[request("http://example.org/", body="<html>other</html>", headers={"A": "b"})])
    assert (v(m).rule, v(m).blocking) == ("wc.http.diff_dns", "dns")


def test_rule7_same_status_and_title_is_enough() -> None:
    m = wc(requests=[request("http://example.org/", body=BODY + "y" * 20000, headers={"Other": "1"})])
    r = v(m)
    assert r.body_length_match is False and r.headers_match is False and r.title_match is True
    assert r.status == "ok"


def test_dns_proxy_serving_the_real_page_is_ok() -> None:
    """DNS hijacked to a transparent proxy that serves the same page: OONI says accessible (rule 7)."""
    m = wc(queries=[query("example.org", "198.51.200.1", asn=999)], tcp_connect=[tcp("198.51.200.1", 80)])
    r = v(m)
    assert r.dns_consistency == "inconsistent" and (r.status, r.blocking) == ("ok", False)


def test_cloudflare_challenge_is_not_censorship() -> None:
    body = "<html><head><title>Just a moment...</title></head><body>challenge-platform</body></html>"
    m = wc(requests=[request("http://example.org/", code=403, body=body,
                             headers={"Server": "cloudflare", "CF-RAY": "8a1", "cf-mitigated": "challenge"})])
    r = v(m)
    assert (r.status, r.rule, r.blocking) == ("ok", "wc.http.cdn_challenge", False)
    assert "not evidence of censorship" in r.explanation


def test_cloudflare_challenge_with_inconsistent_dns_stays_anomalous() -> None:
    body = "<title>Attention Required! | Cloudflare</title>"
    m = wc(queries=[query("example.org", "198.51.200.1", asn=999)], tcp_connect=[tcp("198.51.200.1", 80)],
           requests=[request("http://example.org/", code=503, body=body, headers={"CF-RAY": "1"})])
    assert v(m).status == "anomaly"


def test_a_failure_inside_a_tls_session_the_probe_validated_is_not_blamed_on_dns() -> None:
    """A CDN answer sharing no address or ASN with the control's is inconsistent (OONI's meaning of the
    key), but the probe's own handshake on it validated a certificate for the host: the address is the
    site's, so the reset of the request inside that session is interference on the path, not DNS."""
    m = wc("https://example.org/", queries=[query("example.org", "198.51.200.1", asn=999)],
           tcp_connect=[tcp("198.51.200.1", 443)],
           tls_handshakes=[{"address": "198.51.200.1:443", "server_name": "example.org", "failure": None}],
           requests=[request("https://example.org/", failure="connection_reset")],
           ctrl=control(tcp_ok={"198.51.200.1:443": True}, ip_info={IP: {"asn": 15133, "flags": 2}}))
    r = v(m)
    assert (r.dns_consistency, r.details["dns"], r.details["tls_validated"]) == (
        "inconsistent", "no_overlap", ["198.51.200.1"])
    assert (r.rule, r.blocking, r.method) == ("wc.http.failure", "http-failure", "http.reset")
    # without the probe's own validated session the same failure is OONI's "dns"
    m.test_keys["tls_handshakes"] = []  # type: ignore[index]
    m._obs_cache = None
    assert (v(m).rule, v(m).blocking) == ("wc.http.dns", "dns")


def test_probe_failure_keys_are_not_read() -> None:
    m = wc(blocking="dns", accessible=False, dns_consistency="inconsistent", body_length_match=False,
           x_status=1234, x_blocking_flags=5)
    assert v(m).status == "ok"


def test_ip_literal_url_is_consistent() -> None:
    m = wc("http://93.184.216.34/", queries=[], requests=[request("http://93.184.216.34/")])
    assert v(m).dns_consistency == "consistent"


@pytest.mark.parametrize("bad", [None, {}, {"queries": "x", "requests": [1, 2], "control": []}])
def test_odd_input_never_raises(bad: object) -> None:
    m = wc()
    raw = dict(m.raw, test_keys=bad)
    from censorwatch.model.measurement import Measurement

    r = v(Measurement.from_raw(raw, source="x"))
    assert r.status == "failure" and r.explanation


def test_lab_range_is_public_only_in_lab() -> None:
    lab_ip = "198.18.1.10"
    kw = {"queries": [query("example.org", lab_ip)], "tcp_connect": [tcp(lab_ip, 80, "connection_refused")],
          "requests": [request("http://example.org/", failure="connection_refused")]}
    assert v(wc(lab=False, **kw)).method == "dns.bogon"
    assert v(wc(lab=True, **kw)).method == "dns.injection"  # public there: just an unexpected address
    same = {**kw, "ctrl": control(addrs=[lab_ip], tcp_ok={f"{lab_ip}:80": True})}
    assert v(wc(lab=True, **same)).method == "tcp.refused"


def test_bogon_answer_without_any_connect_is_dns() -> None:
    """Newer probes do not connect to bogons: no TCP, no request, only the DNS evidence."""
    m = wc(queries=[query("example.org", "10.10.34.35")], tcp_connect=[], requests=[])
    r = v(m)
    assert (r.status, r.rule, r.method, r.blocking) == ("anomaly", "wc.dns.inconsistent", "dns.bogon", "dns")


def test_idn_host_matches_its_punycode_lookup() -> None:
    url = "http://яндекс.рф/"
    m = wc(url, queries=[query("xn--d1acpjx3f.xn--p1ai", IP)], requests=[request(url)])
    r = v(m)
    assert r.dns_consistency == "consistent" and r.status == "ok"


def test_redirect_then_refused_on_https_is_http_failure_not_tcp() -> None:
    """The first hop connected; only the redirect target's port 443 connects were refused."""
    other = "198.51.200.7"
    m = wc(tcp_connect=[tcp(IP, 80), tcp(other, 443, "connection_refused")],
           requests=[request("https://www.example.org/", failure="connection_refused"),
                     request("http://example.org/", code=302, body="", headers={"Location": "https://www.example.org/"})],
           ctrl=control(tcp_ok={f"{IP}:80": True, f"{IP}:443": True}))
    r = v(m)
    assert (r.rule, r.blocking, r.method) == ("wc.redirect.failure", "http-failure", "tcp.refused")


def test_newer_probe_port80_blocked_while_443_works() -> None:
    """A v0.5 probe also connects to :443 for an http URL; the URL's own port decides."""
    m = wc(tcp_connect=[tcp(IP, 80, "generic_timeout_error"), tcp(IP, 443)], requests=[],
           ctrl=control(tcp_ok={f"{IP}:80": True, f"{IP}:443": True}))
    r = v(m)
    assert (r.rule, r.blocking, r.method) == ("wc.tcp.blocked", "tcp_ip", "tcp.timeout")


def test_control_failing_on_the_censors_addresses_does_not_make_the_site_down() -> None:
    """The TH also connects to the probe's addresses: a bogon or a ghost address fails there too, but
    the control's own fetch of the site worked, so this is DNS blocking, not an outage."""
    for bad in ("10.10.34.36", "198.51.200.9"):
        m = wc(queries=[query("example.org", bad, asn=64999)], tcp_connect=[tcp(bad, 80, "generic_timeout_error")],
               requests=[request("http://example.org/", failure="generic_timeout_error")],
               ctrl=control(tcp_ok={f"{bad}:80": False, f"{IP}:80": True}))
        r = v(m)
        assert (r.status, r.rule, r.blocking) == ("anomaly", "wc.tcp.dns", "dns"), bad
    dead = wc(queries=[query("example.org", "198.51.200.9", asn=64999)],
              tcp_connect=[tcp("198.51.200.9", 80, "generic_timeout_error")],
              requests=[request("http://example.org/", failure="generic_timeout_error")],
              ctrl=control(tcp_ok={"198.51.200.9:80": False, f"{IP}:80": False}, http_failure="generic_timeout_error"))
    # the site is dead for the control too, but the probe was steered elsewhere first: methodology
    # rule 4 ("no TCP connect succeeded ... inconsistent -> dns") comes before rule 5 (TH fetch failed)
    r = v(dead)
    assert (r.status, r.rule, r.blocking, r.accessible) == ("anomaly", "wc.tcp.dns", "dns", False)


def test_control_shown_a_cloudflare_challenge_is_no_comparison() -> None:
    ctrl = control(code=403, title="Just a moment...", headers={"Server": "cloudflare", "CF-RAY": "1"})
    r = v(wc(ctrl=ctrl))
    assert (r.status, r.rule, r.blocking) == ("failure", "wc.http.control_challenged", None)


def test_probe_dns_failure_other_than_nxdomain_with_the_controls_fetch_failing_is_down() -> None:
    """Methodology §4: rule 3 covers NXDOMAIN only; for a SERVFAIL/timeout the next rule that applies is
    rule 5 (the TH's own HTTP failed -> site down: blocking false, not accessible)."""
    for failure in ("dns_servfail_error", "generic_timeout_error", "dns_no_answer"):
        m = wc(queries=[query("example.org", failure=failure)], tcp_connect=[],
               requests=[request("http://example.org/", failure=failure)],
               ctrl=control(http_failure="connection_refused"))
        r = v(m)
        assert (r.status, r.blocking, r.accessible, r.rule) == ("down", False, False, "wc.http.down"), failure
        assert r.dns_consistency == "inconsistent"
    # NXDOMAIN for the probe alone stays DNS blocking even when the control's fetch failed (rule 3 first).
    nx = wc(queries=[query("example.org", failure="dns_nxdomain_error")], tcp_connect=[],
            requests=[request("http://example.org/", failure="dns_nxdomain_error")],
            ctrl=control(http_failure="connection_refused"))
    assert (v(nx).status, v(nx).blocking, v(nx).rule) == ("anomaly", "dns", "wc.dns.nxdomain")
    # ... and a non-NXDOMAIN failure with the control's fetch working is DNS blocking (rule 6 with
    # inconsistent DNS).
    ok = wc(queries=[query("example.org", failure="dns_servfail_error")], tcp_connect=[],
            requests=[request("http://example.org/", failure="dns_servfail_error")])
    assert (v(ok).status, v(ok).blocking, v(ok).accessible) == ("anomaly", "dns", False)
