"""dns_consistency, dnscheck, doh, dnsping, dns_injection: every rule."""

from __future__ import annotations

from msmt_builder import q, run


def test_dns_consistency() -> None:
    tk = {"control_resolver": "8.8.8.8:53", "queries": [
        {**q("x.org", "1.2.3.4"), "resolver_hostname": "8.8.8.8"},
        {**q("x.org", "10.0.0.1"), "resolver_hostname": "192.168.1.1"}]}
    assert run("dns_consistency", tk, input="x.org").rule == "dns_consistency.failed"
    tk["queries"][1]["answers"][0]["ipv4"] = "1.2.3.4"
    assert run("dns_consistency", tk, input="x.org").rule == "dns_consistency.ok"
    tk["queries"][1]["answers"][0]["ipv4"] = "5.6.7.8"
    assert run("dns_consistency", tk, input="x.org").rule == "dns_consistency.differs"
    assert run("dnstamper", {"queries": True, "control_resolver": "8.8.8.8:53"}).rule == "dns_consistency.no_data"


def test_legacy_no_answer_failure_is_a_dns_failure() -> None:
    tk = {"control_resolver": "8.8.8.8:53", "queries": [
        {**q("x.org", "1.2.3.4"), "resolver_hostname": "8.8.8.8"},
        {**q("x.org", failure="no_answer"), "resolver_hostname": "192.168.1.1"}]}
    v = run("dns_consistency", tk, input="x.org")
    assert (v.rule, v.method) == ("dns_consistency.failed", "dns.failure") and "no usable answer" in v.explanation


def test_dnscheck() -> None:
    ok = run("dnscheck", {"lookups": {"u": {"queries": [q("example.org", "93.184.216.34")]}}}, input="dot://1.1.1.1")
    bad = run("dnscheck", {"lookups": {"u": {"queries": [q("example.org", failure="generic_timeout_error")]}}},
              input="dot://1.1.1.1")
    assert (ok.rule, bad.status, bad.rule, bad.method) == ("dnscheck.ok", "anomaly", "dnscheck.failed", "dns.failure")
    usage = run("dnscheck", {"bootstrap_failure": "unknown_failure: unsupported scheme", "lookups": {}}, input="foo://x")
    assert (usage.status, usage.rule) == ("failure", "dnscheck.probe_error")
    assert run("dnscheck", {"lookups": {}}, input="dot://1.1.1.1").rule == "dnscheck.no_data"


def test_doh() -> None:
    ok = run("doh", {"failure": "", "url": "https://doh.example/dns-query", "x-addresses": ["93.184.216.34"]},
             input="example.org")
    assert (ok.status, ok.rule) == ("ok", "doh.ok")  # an empty failure string is no failure
    bad = run("doh", {"failure": "connection_reset", "url": "https://doh.example/dns-query"}, input="example.org")
    assert (bad.status, bad.rule, bad.method) == ("anomaly", "doh.failed", "tls.reset")
    odd = run("doh", {"failure": "unknown_failure: json: cannot unmarshal"}, input="example.org")
    assert (odd.status, odd.rule) == ("failure", "doh.probe_error")
    assert run("doh", {"failure": None}, input="example.org").rule == "doh.no_data"


def _ping(ok: bool = True, late: int = 0) -> dict[str, object]:
    query = {**q("example.com", "93.184.216.34"), "t0": 0.10, "t": 0.13} if ok else \
        q("example.com", failure="generic_timeout_error")
    return {"query": query, "delayed_response": [{}] * late}


def test_dnsping() -> None:
    ok = run("dnsping", {"pings": [_ping(), _ping(), _ping(False)]}, input="udp://8.8.8.8:53")
    assert (ok.status, ok.rule, ok.details["answered"], ok.details["median_rtt_ms"]) == ("ok", "dnsping.ok", 2, 30.0)
    inj = run("dnsping", {"pings": [_ping(), _ping(late=1)]}, input="udp://8.8.8.8:53")
    assert (inj.status, inj.rule, inj.method) == ("anomaly", "dnsping.injection", "dns.injection")
    dead = run("dnsping", {"pings": [_ping(False), _ping(False)]}, input="udp://8.8.8.8:53")
    assert (dead.status, dead.rule) == ("anomaly", "dnsping.failed")
    assert run("dnsping", {"pings": []}).rule == "dnsping.no_data"


def test_dns_injection() -> None:
    hit = run("dns_injection", {"queries": [q("blocked.example", "10.10.34.35")]}, input="blocked.example")
    assert (hit.status, hit.rule, hit.method) == ("anomaly", "dns_injection.injected", "dns.injection")
    quiet = run("dns_injection", {"queries": [q("blocked.example", failure="generic_timeout_error")]},
                input="blocked.example")
    assert (quiet.status, quiet.rule) == ("ok", "dns_injection.ok")
    assert run("dns_injection", {"queries": []}).rule == "dns_injection.no_data"
