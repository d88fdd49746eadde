"""Edge cases of the methodology's Web Connectivity rules (methodology §3-§4), each asserted from the
text of the methodology, on whole measurements (the comparison helpers have unit tests of their own
in test_comparisons.py)."""

from __future__ import annotations

from typing import Any

import pytest
from wc_builder import BODY, HEADERS, control, query, request, tcp, wc

from censorwatch.analysis import classify
from censorwatch.analysis.fingerprints import builtin_fingerprints
from censorwatch.model.verdict import Verdict

IP = "93.184.216.34"
URL = "http://example.org/"


def v(m: Any) -> Verdict:
    return classify(m, builtin_fingerprints())


def page(body: str, headers: dict[str, str] | None = None, code: int = 200) -> Any:
    return wc(requests=[request(URL, body=body, code=code, headers=headers or {"X-Other": "1"})],
              ctrl=control(body_length=1000, title="Unrelated Heading Words"))


# --- body_proportion: shorter / longer, body_length_match = proportion > 0.7 (strictly) ---------------

@pytest.mark.parametrize(
    ("probe_len", "proportion", "match", "status"),
    [(700, 0.7, False, "anomaly"),  # exactly 0.7 is not a match
     (701, 0.701, True, "ok"),
     (1428, 1000 / 1428, True, "ok"),  # the probe's body the longer one: 0.70028 > 0.7
     (1430, 1000 / 1430, False, "anomaly")],
)
def test_body_proportion_threshold(probe_len: int, proportion: float, match: bool, status: str) -> None:
    r = v(page("a" * probe_len))
    assert r.body_proportion == pytest.approx(proportion) and r.body_length_match is match
    assert r.status_code_match is True and r.headers_match is False and r.title_match is None  # no <title>
    assert r.status == status and r.blocking == (False if match else "http-diff")


def test_truncated_or_empty_bodies_have_no_proportion() -> None:
    cut = wc(requests=[{"request": {"url": URL}, "failure": None,
                        "response": {"code": 200, "body": BODY, "headers": HEADERS, "body_is_truncated": True}}])
    r = v(cut)
    assert r.body_proportion is None and r.body_length_match is None and r.title_match is None
    assert r.headers_match is True and (r.status, r.blocking) == ("ok", False)  # headers carry the match
    empty = v(wc(requests=[request(URL, body="", headers={"X-Other": "1"})]))
    assert empty.body_proportion is None and empty.body_length_match is None


# --- status_code_match ----------------------------------------------------------------------------

def test_control_5xx_makes_status_unknown_and_rule7_then_says_http_diff() -> None:
    """status_code_match is null when the TH got a 5xx and the codes differ; rule 7 needs the codes to
    match, so even an identical body is http-diff (OONI's behaviour, kept)."""
    r = v(wc(ctrl=control(code=503)))
    assert r.status_code_match is None and r.body_length_match is True
    assert (r.status, r.blocking, r.accessible) == ("anomaly", "http-diff", False)


def test_status_codes_differ_is_http_diff_even_when_everything_else_matches() -> None:
    r = v(wc(ctrl=control(code=403)))
    assert r.status_code_match is False and r.body_length_match and r.headers_match and r.title_match
    assert (r.rule, r.blocking) == ("wc.http.diff", "http-diff")


def test_probe_3xx_not_followed_while_control_got_200_is_http_diff() -> None:
    r = v(wc(requests=[request(URL, code=302, body="", headers={"Location": "http://filter.example/"})]))
    assert r.status_code_match is False and (r.status, r.blocking) == ("anomaly", "http-diff")


# --- headers_match: same name sets, or one shared uncommon name; names are case-insensitive ---------

@pytest.mark.parametrize(
    ("ours", "theirs", "match"),
    [({"x-site-id": "1"}, {"X-SITE-ID": "2", "Date": "d"}, True),  # shared uncommon name, any case
     ({"SERVER": "a", "date": "b"}, {"server": "c", "Date": "d"}, True),  # equal sets of common names
     ({"Server": "a", "Date": "b"}, {"Server": "c", "Date": "d", "X-Only-There": "1"}, False),  # only common shared
     ({"Via": "a", "CF-RAY": "b"}, {"via": "c", "cf-ray": "d", "Age": "1"}, False)],
)
def test_headers_match_on_names(ours: dict[str, str], theirs: dict[str, str], match: bool) -> None:
    r = v(wc(requests=[request(URL, body="short", headers=ours)], ctrl=control(headers=theirs, title="zzzzz")))
    assert r.headers_match is match
    assert (r.status, r.blocking) == (("ok", False) if match else ("anomaly", "http-diff"))


# --- title_match: words of 5+ bytes, all in both, order and case ignored --------------------------

@pytest.mark.parametrize(
    ("title", "control_title", "match"),
    [("EXAMPLE domain", "example DOMAIN", True),
     ("Domain Example", "Example Domain", True),  # order ignored
     ("Example", "Example Domain", False),  # a long word missing on one side
     ("A b cd", "Nope", True),  # no word of 5+ bytes on either side: nothing disagrees
     ("Café Über", "café über", True)],  # 5 bytes in UTF-8 ("Café" is 4 letters)
)
def test_title_match_words(title: str, control_title: str, match: bool) -> None:
    r = v(wc(requests=[request(URL, body=f"<html><TiTlE>{title}</tItLe></html>", headers={"X-Other": "1"})],
             ctrl=control(title=control_title)))
    assert r.title_match is match and r.status == ("ok" if match else "anomaly")


def test_no_title_in_the_probes_page_means_unknown() -> None:
    assert v(page("<html><body>no title</body></html>")).title_match is None
    assert v(page('<title lang="en">x</title>')).title_match is None  # OONI's regex: a bare <title> only


# --- DNS consistency ------------------------------------------------------------------------------

def test_ipv6_answers_compare_by_address_not_spelling() -> None:
    six = "2606:2800:220:1:248:1893:25c8:1946"
    m = wc(queries=[{"hostname": "example.org", "query_type": "AAAA", "engine": "system", "failure": None,
                     "answers": [{"answer_type": "AAAA", "ipv6": six.upper()}]}],
           tcp_connect=[tcp(six, 80)],
           ctrl=control(addrs=["2606:2800:0220:0001:0248:1893:25c8:1946"], tcp_ok={f"[{six}]:80": True}))
    r = v(m)
    assert (r.dns_consistency, r.details["dns"], r.status) == ("consistent", "ip_overlap", "ok")


def test_cname_only_answer_is_a_failed_lookup() -> None:
    """A CNAME with no address is no answer: the probe failed where the control resolved -> "dns"."""
    m = wc(queries=[{"hostname": "example.org", "query_type": "A", "engine": "system", "failure": None,
                     "answers": [{"answer_type": "CNAME", "hostname": "edge.example.net"}]}],
           tcp_connect=[], requests=[request(URL, failure="dns_no_answer")])
    r = v(m)
    assert (r.dns_consistency, r.blocking, r.accessible, r.method) == ("inconsistent", "dns", False, "dns.failure")


@pytest.mark.parametrize("spelling", ["dns_nxdomain_error", "dns_name_error", "dns_lookup_error", "DNS_NXDOMAIN_ERROR"])
def test_nxdomain_spellings(spelling: str) -> None:
    """§3: legacy spellings mean NXDOMAIN; the TH spells it dns_name_error (§4)."""
    kw: dict[str, Any] = {"queries": [query("example.org", failure=spelling)], "tcp_connect": [],
                          "requests": [request(URL, failure=spelling)]}
    alone = v(wc(**kw))
    assert (alone.blocking, alone.accessible, alone.method) == ("dns", False, "dns.nxdomain")
    both = v(wc(**kw, ctrl=control(addrs=[], dns_failure="dns_name_error", http_failure="dns_name_error")))
    assert (both.status, both.blocking, both.accessible, both.dns_consistency) == ("down", False, False, "consistent")


def test_legacy_probe_with_only_dns_experiment_failure() -> None:
    m = wc(queries=[], tcp_connect=[], requests=[], dns_experiment_failure="dns_lookup_error")
    assert (v(m).blocking, v(m).method) == ("dns", "dns.nxdomain")


def test_nxdomain_for_the_probe_and_another_failure_for_the_control_is_inconsistent() -> None:
    """Both failed: consistent only when both are NXDOMAIN."""
    m = wc(queries=[query("example.org", failure="dns_nxdomain_error")], tcp_connect=[], requests=[],
           ctrl=control(addrs=[], dns_failure="dns_server_failure", http_failure="dns_server_failure"))
    r = v(m)
    assert (r.dns_consistency, r.blocking, r.status) == ("inconsistent", "dns", "anomaly")


@pytest.mark.parametrize("bogon", ["10.10.34.35", "127.0.0.1", "0.0.0.0", "169.254.3.4", "100.64.0.1", "172.16.5.5",
                                   "192.168.1.1", "198.18.0.5", "::1", "fe80::1", "fd00::5", "::ffff:10.0.0.1"])
def test_bogon_answers_only_the_probe_got_are_dns_blocking(bogon: str) -> None:
    m = wc(queries=[query("example.org", bogon, asn=0)], tcp_connect=[tcp(bogon, 80, "connection_refused")],
           requests=[request(URL, failure="connection_refused")])
    r = v(m)
    assert (r.dns_consistency, r.blocking, r.accessible, r.method) == ("inconsistent", "dns", False, "dns.bogon")


def test_a_bogon_even_beside_a_good_address_makes_dns_inconsistent() -> None:
    m = wc(queries=[query("example.org", "10.0.0.1", IP)], tcp_connect=[tcp("10.0.0.1", 80, "connection_refused"),
                                                                         tcp(IP, 80)])
    r = v(m)
    assert r.dns_consistency == "inconsistent" and r.details["dns"] == "bogon"
    assert (r.status, r.blocking) == ("ok", False)  # the page still matched (rule 7)


def test_198_18_is_a_bogon_outside_the_lab_but_not_when_the_control_saw_it_too() -> None:
    """198.18.0.0/15 (benchmarking) is on OONI's bogon list; the lab's simulated internet uses it, so
    lab measurements treat it as public. Unannotated, the rule "bogons not seen by the TH" still keeps
    a site both sides resolve there consistent."""
    lab_ip = "198.18.1.1"
    same = wc(queries=[query("example.org", lab_ip, asn=0)], tcp_connect=[tcp(lab_ip, 80)],
              ctrl=control(addrs=[lab_ip], tcp_ok={f"{lab_ip}:80": True}))
    assert (v(same).dns_consistency, v(same).status) == ("consistent", "ok")
    other = wc(queries=[query("example.org", "198.18.66.66", asn=0)], tcp_connect=[tcp("198.18.66.66", 80)],
               requests=[request(URL, body="<title>Blocked</title>", headers={"X": "1"}, code=403)],
               ctrl=control(addrs=[lab_ip], tcp_ok={f"{lab_ip}:80": True}))
    assert (v(other).blocking, v(other).method) == ("dns", "dns.bogon")


def test_asn_overlap_needs_a_non_zero_asn() -> None:
    near = wc(queries=[query("example.org", "93.184.216.99", asn=15133)], tcp_connect=[tcp("93.184.216.99", 80)],
              ctrl=control(ip_info={IP: {"asn": 15133, "flags": 2}}))
    assert (v(near).dns_consistency, v(near).details["dns"]) == ("consistent", "asn_overlap")
    zero = wc(queries=[query("example.org", "93.184.216.99", asn=0)], tcp_connect=[tcp("93.184.216.99", 80)],
              ctrl=control(ip_info={IP: {"asn": 0, "flags": 2}}))
    assert v(zero).dns_consistency == "inconsistent"


def test_control_dns_failure_with_a_probe_answer_is_inconsistent() -> None:
    r = v(wc(ctrl=control(addrs=[], dns_failure="dns_server_failure")))
    assert r.dns_consistency == "inconsistent"


@pytest.mark.parametrize("handshake", [
    {"address": "198.51.200.1:443", "server_name": "example.org", "failure": None, "no_tls_verify": True},
    {"address": "198.51.200.1:443", "server_name": "other.example", "failure": None},
    {"address": "198.51.200.1:443", "server_name": "example.org", "failure": "ssl_unknown_authority"},
])
def test_tls_validation_needs_a_verified_certificate_for_the_right_name(handshake: dict[str, Any]) -> None:
    bad = "198.51.200.1"
    m = wc("https://example.org/", queries=[query("example.org", bad, asn=64999)], tcp_connect=[tcp(bad, 443)],
           tls_handshakes=[handshake], requests=[request("https://example.org/", failure="connection_reset")],
           ctrl=control(tcp_ok={f"{bad}:443": True}))
    r = v(m)
    assert (r.dns_consistency, r.blocking) == ("inconsistent", "dns")


def test_an_address_the_control_validated_keeps_oonis_consistency_and_the_page_decides() -> None:
    """ip_info flag 8 (valid for the domain) or the TH's own TLS handshake on the probe's address does not
    change ``dns_consistency`` (OONI's meaning: address or ASN overlap); the matching page makes it ok."""
    cdn = "198.51.200.1"
    for ctrl in (control(tcp_ok={f"{cdn}:80": True}, ip_info={IP: {"asn": 1, "flags": 2}, cdn: {"asn": 2, "flags": 9}}),
                 control(tcp_ok={f"{cdn}:80": True},
                         tls={f"{cdn}:443": {"server_name": "example.org", "status": True, "failure": None}})):
        r = v(wc(queries=[query("example.org", cdn, asn=2)], tcp_connect=[tcp(cdn, 80)], ctrl=ctrl))
        assert (r.dns_consistency, r.details["dns"], r.status) == ("inconsistent", "no_overlap", "ok")


# --- control failures -----------------------------------------------------------------------------

@pytest.mark.parametrize("ctrl", [{}, None])
def test_missing_or_empty_control_gives_null_verdict(ctrl: Any) -> None:
    m = wc(ctrl={} if ctrl is None else ctrl, requests=[request(URL, failure="connection_reset")])
    if ctrl is None:
        m.test_keys["control"] = None  # type: ignore[index]
    r = v(m)
    assert (r.status, r.blocking, r.accessible, r.rule) == ("failure", None, None, "wc.control_failure")


def test_control_failure_wins_over_probe_evidence_without_a_fingerprint() -> None:
    """Rule 2: without the TH only a successful HTTPS fetch (rule 1) still gives a verdict."""
    for kw in ({"queries": [query("example.org", failure="dns_nxdomain_error")], "tcp_connect": [], "requests": []},
               {"queries": [query("example.org", "10.0.0.7")], "tcp_connect": [], "requests": []},
               {"tcp_connect": [tcp(IP, 80, "generic_timeout_error")]}):
        r = v(wc(control_failure="generic_timeout_error", **kw))
        assert (r.blocking, r.accessible) == (None, None)


def test_the_probes_own_failure_that_is_not_interference_gives_no_blocking() -> None:
    """Rule 6 lists the failures that count; any other (with consistent DNS) is no evidence. OONI leaves
    blocking null but sets accessible false; we leave both null: such an error (a probe's decoding bug)
    says nothing about the site either way (docs/classification.md, "Where we differ")."""
    r = v(wc(requests=[request(URL, failure="unknown_failure: malformed chunked encoding")]))
    assert (r.status, r.blocking, r.rule) == ("failure", None, "wc.http.unknown_failure")


@pytest.mark.parametrize("failure", ["ssl_invalid_hostname", "ssl_unknown_authority", "ssl_invalid_certificate",
                                     "ssl_failed_handshake", "connection_refused", "connection_reset", "eof_error",
                                     "generic_timeout_error"])
def test_rule6_failures_are_http_failure_with_consistent_dns(failure: str) -> None:
    m = wc("https://example.org/", tcp_connect=[tcp(IP, 443)],
           tls_handshakes=[{"address": f"{IP}:443", "server_name": "example.org", "failure": failure}],
           requests=[request("https://example.org/", failure=failure)], ctrl=control(tcp_ok={f"{IP}:443": True}))
    r = v(m)
    assert (r.status, r.blocking, r.accessible) == ("anomaly", "http-failure", False)


@pytest.mark.parametrize("legacy", ["connection_refused_error", "connection_lost_error", "tcp_timed_out_error",
                                    "response_never_received", "deferred_timeout_error", "task_timed_out"])
def test_legacy_http_failure_spellings_count_as_interference(legacy: str) -> None:
    r = v(wc(requests=[request(URL, failure=legacy)]))
    assert (r.blocking, r.accessible) == ("http-failure", False)


# --- HTTPS inputs, redirects ----------------------------------------------------------------------

def test_https_success_is_accessible_even_if_the_page_differs() -> None:
    """Rule 1: a valid certificate rules out tampering; the comparison keys are still reported."""
    m = wc("https://example.org/", tcp_connect=[tcp(IP, 443)],
           tls_handshakes=[{"address": f"{IP}:443", "server_name": "example.org", "failure": None}],
           requests=[request("https://example.org/", body="<title>Something Different</title>", code=200)],
           ctrl=control(tcp_ok={f"{IP}:443": True}))
    r = v(m)
    assert (r.status, r.blocking, r.accessible) == ("ok", False, True) and r.title_match is False


def test_http_redirected_to_https_that_loads_is_accessible() -> None:
    m = wc(tcp_connect=[tcp(IP, 80), tcp(IP, 443)],
           requests=[request("https://example.org/"),
                     request(URL, code=301, body="", headers={"Location": "https://example.org/"})])
    assert (v(m).rule, v(m).blocking, v(m).accessible) == ("wc.https_ok", False, True)


def test_https_tcp_blocking_and_tls_reset() -> None:
    ctrl = control(tcp_ok={f"{IP}:443": True})
    tcp_blocked = wc("https://example.org/", tcp_connect=[tcp(IP, 443, "generic_timeout_error")],
                     requests=[request("https://example.org/", failure="generic_timeout_error")], ctrl=ctrl)
    assert (v(tcp_blocked).blocking, v(tcp_blocked).method) == ("tcp_ip", "tcp.timeout")
    reset = wc("https://example.org/", tcp_connect=[tcp(IP, 443)],
               tls_handshakes=[{"address": f"{IP}:443", "server_name": "example.org", "failure": "connection_reset"}],
               requests=[], ctrl=ctrl)  # a v0.5 probe makes no request after a failed handshake
    assert (v(reset).blocking, v(reset).method) == ("http-failure", "tls.reset")


# --- the probe's own conclusions are never read ----------------------------------------------------

PROBE_KEYS = {"blocking": False, "accessible": True, "dns_consistency": "consistent", "body_length_match": True,
              "status_code_match": True, "headers_match": True, "title_match": True, "body_proportion": 1.0,
              "x_status": 1, "x_dns_flags": 0, "x_blocking_flags": 0, "x_null_null_flags": 0}


def test_probe_keys_saying_accessible_do_not_hide_blocking() -> None:
    m = wc(tcp_connect=[tcp(IP, 80, "generic_timeout_error")],
           requests=[request(URL, failure="generic_timeout_error")], **PROBE_KEYS)
    assert (v(m).blocking, v(m).accessible, v(m).rule) == ("tcp_ip", False, "wc.tcp.blocked")


def test_ipv6_only_site_from_a_network_without_ipv6_is_no_verdict() -> None:
    """Deliberate difference: OONI says "tcp_ip"; every connect failing with network_unreachable to
    IPv6-only addresses is the probe's network lacking IPv6 routing, not a block."""
    six = "2606:2800:220:1::1"
    m = wc(queries=[{"hostname": "example.org", "query_type": "AAAA", "engine": "system", "failure": None,
                     "answers": [{"answer_type": "AAAA", "ipv6": six}]}],
           tcp_connect=[tcp(six, 80, "network_unreachable")], requests=[request(URL, failure="network_unreachable")],
           ctrl=control(addrs=[six], tcp_ok={f"[{six}]:80": True}))
    r = v(m)
    assert (r.status, r.rule, r.blocking, r.accessible) == ("failure", "wc.tcp.no_ipv6", None, None)
    # an IPv4 address failing the same way is TCP/IP blocking as OONI says
    m4 = wc(tcp_connect=[tcp(IP, 80, "host_unreachable")], requests=[request(URL, failure="host_unreachable")])
    assert (v(m4).blocking, v(m4).rule) == ("tcp_ip", "wc.tcp.blocked")


def test_control_fetch_failed_while_the_probe_loaded_the_page_is_unknown() -> None:
    """Methodology rule 5: "site down (false, not accessible), or null when unknown". The probe loaded a
    page, so the site is not down for it, and without the control's page nothing says whether it is the
    real one: the unknown case, null/null. When both fail it is down (false/false)."""
    r = v(wc(ctrl=control(http_failure="generic_timeout_error")))
    assert (r.status, r.blocking, r.accessible, r.rule) == ("failure", None, None, "wc.http.control_failed")
    both = v(wc(requests=[request(URL, failure="generic_timeout_error")], ctrl=control(http_failure="generic_timeout_error")))
    assert (both.status, both.blocking, both.accessible) == ("down", False, False)
