"""Invariants of every web_connectivity verdict over random but well-formed measurements."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from wc_builder import BODY, control, query, request, tcp, wc

from censorwatch.analysis import RULES, classify
from censorwatch.analysis.fingerprints import builtin_fingerprints
from censorwatch.model.verdict import METHODS

FAILURES = [None, "connection_reset", "generic_timeout_error", "connection_refused", "eof_error",
            "ssl_unknown_authority", "dns_nxdomain_error", "unknown_failure: x"]
ADDRS = ["93.184.216.34", "10.10.34.36", "198.51.200.9", "198.18.66.66"]
PAGES = [BODY, "<title>Blocked</title>", "<title>Blocked by the lab censor</title>", ""]


@st.composite
def measurements(draw):  # type: ignore[no-untyped-def]
    https = draw(st.booleans())
    url = "https://example.org/" if https else "http://example.org/"
    port = 443 if https else 80
    dns_fail = draw(st.sampled_from([None, None, "dns_nxdomain_error", "generic_timeout_error"]))
    addr = draw(st.sampled_from(ADDRS))
    q = query("example.org", failure=dns_fail) if dns_fail else query("example.org", addr, asn=draw(
        st.sampled_from([0, 64500, 64999])))
    conn = [] if dns_fail else [tcp(addr, port, draw(st.sampled_from([None, None, "generic_timeout_error",
                                                                       "connection_refused"])))]
    tls = [{"address": f"{addr}:443", "server_name": "example.org", "failure": draw(st.sampled_from(FAILURES[:6]))}] \
        if https and conn and conn[0]["status"]["success"] else []
    rfail = draw(st.sampled_from(FAILURES))
    req = request(url, failure=rfail, code=draw(st.sampled_from([200, 302, 403, 503])),
                  body=draw(st.sampled_from(PAGES)), headers=draw(st.sampled_from([None, {"Server": "x"}])))
    ctrl = control(
        addrs=draw(st.sampled_from([["93.184.216.34"], [], ["198.51.200.9"]])),
        dns_failure=draw(st.sampled_from([None, None, "dns_name_error"])),
        tcp_ok={f"{addr}:{port}": draw(st.booleans())},
        http_failure=draw(st.sampled_from([None, None, "generic_timeout_error"])),
        code=draw(st.sampled_from([200, 403, 503])),
    )
    return wc(url, queries=[q], tcp_connect=conn, tls_handshakes=tls, requests=draw(st.sampled_from([[req], []])),
              ctrl=ctrl, control_failure=draw(st.sampled_from([None, None, None, "connection_refused"])),
              lab=draw(st.booleans()), cc=draw(st.sampled_from(["IT", "IR", "ZZ"])))


@settings(max_examples=150, deadline=None)
@given(m=measurements())
def test_verdict_invariants(m) -> None:  # type: ignore[no-untyped-def]
    v = classify(m, builtin_fingerprints())
    assert v.rule in RULES and v.rule != "classify_error", v.explanation
    assert v.method is None or v.method in METHODS
    assert v.explanation.endswith(".") and "\n" not in v.explanation
    if v.status == "ok":
        assert v.blocking is False and v.accessible is True
    elif v.status == "down":
        assert v.blocking is False and v.accessible is False
    elif v.status in ("anomaly", "confirmed"):
        assert v.blocking in ("dns", "tcp_ip", "http-failure", "http-diff") and v.accessible is False
        assert v.method is not None
    else:
        assert v.blocking is None and v.accessible is None
    if v.status == "confirmed":
        assert v.fingerprint is not None and (
            v.fingerprint.scope in ("nat", "isp") or v.probe_cc in v.fingerprint.expected_countries)
    if v.blocking == "tcp_ip":
        assert v.dns_consistency == "consistent"
