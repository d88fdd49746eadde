"""urlgetter, stunreachability, tcp_connect and the ping tests: every rule."""

from __future__ import annotations

import pytest
from msmt_builder import req, run, tcp, tls

URL = "https://www.example.org/"


def test_stunreachability_both_spellings() -> None:
    for name in ("stunreachability", "stun_reachability"):
        ok = run(name, {"endpoint": "stun.l.google.com:19302", "failure": None})
        assert (ok.status, ok.rule) == ("ok", "stunreachability.ok")
        dead = run(name, {"endpoint": "stun.l.google.com:19302", "failure": "generic_timeout_error"})
        assert (dead.status, dead.rule, dead.method) == ("anomaly", "stunreachability.failed", "unreachable")
    assert run("stunreachability", {"failure": "dns_nxdomain_error"}).method == "dns.nxdomain"
    assert run("stunreachability", {}).rule == "stunreachability.no_data"
    odd = run("stunreachability", {"failure": "unknown_failure: stun: bad message"})
    assert (odd.status, odd.rule) == ("failure", "stunreachability.probe_error")


def test_urlgetter() -> None:
    assert run("urlgetter", {"failure": None, "requests": [req(URL)]}, input=URL).rule == "urlgetter.ok"
    t = run("urlgetter", {"failure": "connection_reset", "failed_operation": "tls_handshake"}, input=URL)
    assert (t.status, t.rule, t.method) == ("anomaly", "urlgetter.failed", "tls.reset")
    d = run("urlgetter", {"failure": "dns_nxdomain_error", "failed_operation": "resolve"}, input=URL)
    assert d.method == "dns.nxdomain" and d.blocking is None
    assert run("urlgetter", None, input=URL).rule == "urlgetter.no_data"


def test_urlgetter_usage_error_is_not_censorship() -> None:
    v = run("urlgetter", {"failure": "unknown_failure: unknown targetURL scheme", "failed_operation": "top_level"},
            input="stun://stun.example:3478")
    assert (v.status, v.rule, v.method) == ("failure", "urlgetter.probe_error", None)
    assert "unknown targetURL scheme" in v.explanation


def test_tcp_connect_legacy_connection_key() -> None:
    ok = run("tcp_connect", {"connection": "success"}, input="1.2.3.4:443\n")
    assert (ok.status, ok.rule) == ("ok", "tcp_connect.ok") and "1.2.3.4:443 was" in ok.explanation
    refused = run("tcp_connect", {"connection": "connection_refused_error"}, input="1.2.3.4:443")
    assert (refused.status, refused.rule, refused.method) == ("anomaly", "tcp_connect.failed", "tcp.refused")
    assert run("tcp_connect", {"connection": "generic_timeout_error"}).method == "tcp.timeout"
    assert run("tcp_connect", {}).rule == "tcp_connect.no_data"
    assert run("tcp_connect", {"connection": "unknown_failure: bad input"}).rule == "tcp_connect.probe_error"


def _tcpping(*failures: str | None) -> dict[str, object]:
    return {"pings": [{"tcp_connect": tcp("8.8.8.8", 443, f, t0=1.0, t=1.02)} for f in failures]}


def test_tcpping() -> None:
    ok = run("tcpping", _tcpping(None, None, "generic_timeout_error"), input="tcpconnect://8.8.8.8:443")
    assert (ok.status, ok.rule, ok.details["answered"], ok.details["median_rtt_ms"]) == ("ok", "ping.ok", 2, 20.0)
    assert "1 failed" in ok.explanation
    dead = run("tcpping", _tcpping("generic_timeout_error", "generic_timeout_error"))
    assert (dead.status, dead.rule, dead.method) == ("anomaly", "ping.failed", "tcp.timeout")
    assert run("tcpping", {"pings": []}).rule == "ping.no_data"


def test_tlsping_measures_the_handshake_after_the_connect() -> None:
    pings = [{"tcp_connect": tcp("8.8.8.8", 443, None, t=0.02), "tls_handshake": tls("dns.google", None, t=0.06)}]
    ok = run("tlsping", {"pings": pings})
    assert (ok.rule, ok.details["median_rtt_ms"]) == ("ping.ok", 40.0)
    reset = [{"tcp_connect": tcp("8.8.8.8", 443), "tls_handshake": tls("blocked.example", "connection_reset")}]
    v = run("tlsping", {"pings": reset})
    assert (v.status, v.rule, v.method) == ("anomaly", "ping.failed", "tls.reset")


@pytest.mark.parametrize("failure", [None, "generic_timeout_error"])
def test_quic_pings(failure: str | None) -> None:
    simple = run("simplequicping", {"pings": [{"quic_handshake": tls("dns.google", failure, t0=0.1, t=0.14)}]})
    quic = run("quicping", {"pings": [{"conn_id_dst": "ab", "failure": failure, "t": 1.0,
                                       "responses": [] if failure else [{"failure": None, "t": 1.05}]}]})
    for v in (simple, quic):
        if failure is None:
            assert (v.status, v.rule) == ("ok", "ping.ok") and "QUIC" in v.explanation
        else:
            assert (v.status, v.rule, v.method) == ("anomaly", "ping.failed", "quic.timeout")


def test_ping_probe_error() -> None:
    v = run("tcpping", _tcpping("unknown_failure: invalid endpoint", "unknown_failure: invalid endpoint"))
    assert (v.status, v.rule) == ("failure", "ping.probe_error")
