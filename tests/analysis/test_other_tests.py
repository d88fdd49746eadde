"""Rules of the non-web tests on hand-built test keys (both outcomes of each), beside the real samples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from censorwatch.analysis import classify
from censorwatch.analysis.fingerprints import builtin_fingerprints
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict


def run(test: str, tk: dict[str, Any] | None, **env: Any) -> Verdict:
    raw = {"test_name": test, "measurement_start_time": "2024-02-17 10:00:00", "probe_cc": "PK",
           "probe_asn": "AS17557", "input": env.pop("input", None), "test_keys": tk, **env}
    return classify(Measurement.from_raw(raw, source="t.jsonl:1"), builtin_fingerprints())


def q(host: str, *ips: str, failure: str | None = None, asn: int | None = None, qt: str = "A") -> dict[str, Any]:
    return {"hostname": host, "query_type": qt, "failure": failure,
            "answers": [{"answer_type": qt, "ipv4": ip, "asn": asn} for ip in ips]}


def tcp(ip: str, port: int, failure: str | None = None) -> dict[str, Any]:
    return {"ip": ip, "port": port, "status": {"success": failure is None, "failure": failure}}


def req(url: str, failure: str | None = None, code: int = 200, body: str = "", headers: Any = None) -> dict[str, Any]:
    return {"request": {"url": url, "headers": headers or {}}, "failure": failure,
            "response": None if failure else {"code": code, "body": body, "headers": {}}}


def test_whatsapp_all_endpoints_failing_is_anomaly_but_one_working_is_ok() -> None:
    queries = [q("e1.whatsapp.net", "3.33.221.48"), q("e2.whatsapp.net", "3.33.252.61")]
    dead = [tcp("3.33.221.48", 5222, "generic_timeout_error"), tcp("3.33.252.61", 443, "generic_timeout_error")]
    v = run("whatsapp", {"queries": queries, "tcp_connect": dead, "whatsapp_endpoints_status": "ok"})
    assert (v.status, v.rule, v.method) == ("anomaly", "whatsapp.blocked", "tcp.timeout")
    v = run("whatsapp", {"queries": queries, "tcp_connect": [*dead, tcp("3.33.221.48", 443)],
                         "whatsapp_endpoints_status": "blocked"})
    assert (v.status, v.rule) == ("ok", "whatsapp.ok")


def test_whatsapp_registration_failure() -> None:
    v = run("whatsapp", {"tcp_connect": [tcp("1.2.3.4", 5222)],
                         "requests": [req("https://v.whatsapp.net/v2/register", "connection_reset")]})
    assert (v.status, v.details["blocked_parts"]) == ("anomaly", ["registration"])


def test_telegram_dcs() -> None:
    dcs = ["149.154.175.50", "149.154.167.51"]
    v = run("telegram", {"tcp_connect": [tcp(ip, 443, "connection_reset") for ip in dcs], "telegram_tcp_blocking": False})
    assert (v.status, v.rule) == ("anomaly", "telegram.blocked")
    v = run("telegram", {"tcp_connect": [tcp(dcs[0], 443), tcp(dcs[1], 80, "connection_reset")],
                         "requests": [req("https://web.telegram.org/", "ssl_invalid_hostname")]})
    assert v.status == "anomaly" and "web.telegram.org" in v.explanation
    v = run("telegram", {"tcp_connect": [tcp(dcs[0], 443)], "requests": [req("https://web.telegram.org/")]})
    assert v.status == "ok"
    # OONI's telegram_web_status: any failed fetch of web.telegram.org (older probes fetch http and https)
    v = run("telegram", {"tcp_connect": [tcp(dcs[0], 443)],
                         "requests": [req("https://web.telegram.org/"), req("http://web.telegram.org/", "connection_reset")]})
    assert (v.status, v.rule, v.method) == ("anomaly", "telegram.blocked", "http.failure")
    assert "http://web.telegram.org/" in v.explanation


def test_signal_first_failing_step_and_expected_localhost() -> None:
    base = [q("uptime.signal.org", "127.0.0.1"), q("chat.signal.org", "76.223.92.165")]
    ok = run("signal", {"queries": base, "tcp_connect": [tcp("76.223.92.165", 443)],
                        "tls_handshakes": [{"server_name": "chat.signal.org", "failure": None}]},
             software_version="3.20.0")
    assert ok.status == "ok"
    bad = run("signal", {"queries": base, "tcp_connect": [tcp("76.223.92.165", 443)],
                         "tls_handshakes": [{"server_name": "chat.signal.org", "failure": "connection_reset"}]},
              software_version="3.20.0")
    assert (bad.status, bad.method) == ("anomaly", "tls.reset")
    bogon = run("signal", {"queries": [q("chat.signal.org", "10.0.0.1")]}, software_version="3.20.0")
    assert bogon.method == "dns.bogon"
    pin = run("signal", {"queries": base, "tls_handshakes": [{"server_name": "chat.signal.org",
                                                               "failure": "ssl_unknown_authority"}]},
              software_version="3.20.0")
    assert (pin.status, pin.method) == ("anomaly", "tls.mitm")  # a current probe: not the outdated pin


def test_facebook_messenger() -> None:
    good = run("facebook_messenger", {"queries": [q("b-api.facebook.com", "157.240.1.1", asn=32934)],
                                      "tcp_connect": [tcp("157.240.1.1", 443)]})
    assert good.status == "ok"
    other = run("facebook_messenger", {"queries": [q("b-api.facebook.com", "1.2.3.4", asn=4837)],
                                       "tcp_connect": [tcp("1.2.3.4", 443)]})
    assert (other.status, other.method) == ("anomaly", "dns.injection")
    down = run("facebook_messenger", {"queries": [q("b-api.facebook.com", "157.240.1.1", asn=32934)],
                                      "tcp_connect": [tcp("157.240.1.1", 443, "generic_timeout_error")]})
    assert (down.status, down.method) == ("anomaly", "tcp.timeout")


def test_tor_kind_fully_blocked() -> None:
    targets = {
        "a": {"target_protocol": "or_port", "failure": "connection_reset", "tcp_connect": []},
        "b": {"target_protocol": "or_port", "failure": None, "tcp_connect": [tcp("1.1.1.1", 9001, "generic_timeout_error")]},
        "c": {"target_protocol": "obfs4", "failure": None, "tcp_connect": [tcp("2.2.2.2", 80)]},
    }
    v = run("tor", {"targets": targets})
    assert (v.status, v.rule) == ("anomaly", "tor.blocked") and v.details == {"or_port": "0/2", "obfs4": "1/1"}


@pytest.mark.parametrize("test", ["torsf", "vanilla_tor", "psiphon"])
def test_bootstrap(test: str) -> None:
    assert run(test, {"failure": None, "bootstrap_time": 12.0, "success": False}).status == "ok"
    assert run(test, {"failure": "generic_timeout_error", "bootstrap_time": 0, "success": True}).status == "anomaly"
    assert run(test, {}).status == "failure"


def test_openvpn_stages() -> None:
    assert run("openvpn", {"tcp_connect": tcp("1.2.3.4", 1194, "connection_refused")}).rule == "openvpn.tcp"
    assert run("openvpn", {"tcp_connect": tcp("1.2.3.4", 1194), "failure": "generic_timeout_error",
                           "success_handshake": True}).rule == "openvpn.handshake"
    v = run("openvpn", {"tcp_connect": [tcp("1.2.3.4", 1194)], "failure": None,
                        "requests": [req("https://example.org/", "generic_timeout_error")]})
    assert (v.rule, v.method) == ("openvpn.tunnel", "vpn.blocked")


def test_meek_failure() -> None:
    v = run("meek_fronted_requests_test", {"requests": [req("https://ajax.aspnetcdn.com", "connection_reset")]})
    assert (v.status, v.rule) == ("anomaly", "meek.failed")


def test_hhfm_echo() -> None:
    sent = {"AcCePt": "text/html", "hOST": "x.com"}
    echo = json.dumps({"headers_dict": {"AcCePt": ["text/html"], "hOST": ["x.com"]}})
    ok = run("http_header_field_manipulation", {"requests": [{"request": {"url": "http://h/", "headers": sent},
                                                              "failure": None, "response": {"code": 200, "body": echo}}]})
    assert ok.status == "ok"
    changed = json.dumps({"headers_dict": {"Accept": ["text/html"], "Host": ["x.com"]}})
    bad = run("http_header_field_manipulation", {"requests": [{"request": {"url": "http://h/", "headers": sent},
                                                               "failure": None, "response": {"code": 200, "body": changed}}],
                                                 "tampering": {"total": False}})
    assert (bad.status, bad.rule) == ("anomaly", "hhfm.tampering")


def test_hirl_unchanged_is_ok() -> None:
    lines = ["GET / HTTP/1.1\n\r", "XXX / HTTP/1.1\n\r"]
    assert run("http_invalid_request_line", {"sent": lines, "received": lines, "tampering": True}).status == "ok"


def test_dns_consistency_and_dnscheck() -> None:
    tk = {"control_resolver": "8.8.8.8:53", "queries": [
        {**q("x.org", "1.2.3.4"), "resolver_hostname": "8.8.8.8"},
        {**q("x.org", "10.0.0.1"), "resolver_hostname": "192.168.1.1"}]}
    assert run("dns_consistency", tk, input="x.org").rule == "dns_consistency.failed"
    tk["queries"][1]["answers"][0]["ipv4"] = "1.2.3.4"
    assert run("dns_consistency", tk, input="x.org").status == "ok"
    ok = run("dnscheck", {"lookups": {"u": {"queries": [q("example.org", "93.184.216.34")]}}}, input="dot://1.1.1.1")
    bad = run("dnscheck", {"lookups": {"u": {"queries": [q("example.org", failure="generic_timeout_error")]}}},
              input="dot://1.1.1.1")
    assert (ok.status, bad.status, bad.method) == ("ok", "anomaly", "dns.failure")


def test_unknown_test_and_null_keys_are_failures() -> None:
    assert run("ndt", {"x": 1}).rule == "unknown_test"
    for test in ("stunreachability", "urlgetter", "whatsapp", "telegram", "signal", "facebook_messenger", "tor", "openvpn", "riseupvpn", "dnscheck",
                 "http_requests", "dns_consistency", "browser_web", "http_invalid_request_line",
                 "http_header_field_manipulation", "meek_fronted_requests_test", "torsf"):
        v = run(test, None)
        assert v.status == "failure" and v.explanation, test


TESTS = ("web_connectivity", "whatsapp", "telegram", "signal", "facebook_messenger", "tor", "torsf", "vanilla_tor",
         "psiphon", "openvpn", "riseupvpn", "meek_fronted_requests_test", "http_invalid_request_line",
         "http_header_field_manipulation", "http_requests", "dns_consistency", "browser_web", "dnscheck",
         "stunreachability", "urlgetter")
ODD_KEYS: list[Any] = [
    None, {},
    {"queries": "x", "requests": [1, None, {"response": "x"}], "tcp_connect": {"a": 1}, "targets": 5, "sent": [1],
     "received": "x", "lookups": [], "control": [], "tls_handshakes": [{"address": 7}]},
    {"queries": [{"answers": [{"ipv4": 5}, "x"]}], "control": {"dns": {"addrs": [1, None]}, "tcp_connect": [],
     "http_request": {"status_code": "200", "headers": []}}, "requests": [{"request": "x", "response": {"body": 5}}]},
]


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("tk", range(len(ODD_KEYS)))
def test_odd_keys_give_a_verdict_not_an_internal_error(test: str, tk: int) -> None:
    v = run(test, ODD_KEYS[tk], input="http://x.org/")
    assert v.rule != "classify_error", v.explanation
    assert v.status in ("ok", "anomaly", "failure", "down")


def test_dns_consistency_with_queries_not_a_list() -> None:
    """Found by the property test: ``queries: true`` once crashed the legacy dns_consistency rules."""
    assert run("dns_consistency", {"queries": True, "control_resolver": "8.8.8.8:53"}).rule == "dns_consistency.no_data"


def test_stunreachability_and_urlgetter() -> None:
    """Methodology §7 names both; one recorded failure each, no control: anomaly at most."""
    ok = run("stunreachability", {"endpoint": "stun.l.google.com:19302", "failure": None})
    assert (ok.status, ok.rule) == ("ok", "stunreachability.ok")
    dead = run("stunreachability", {"endpoint": "stun.l.google.com:19302", "failure": "generic_timeout_error"})
    assert (dead.status, dead.rule, dead.method) == ("anomaly", "stunreachability.failed", "unreachable")
    nx = run("stunreachability", {"endpoint": "stun.l.google.com:19302", "failure": "dns_nxdomain_error"})
    assert nx.method == "dns.nxdomain"
    assert run("stunreachability", {}).rule == "stunreachability.no_data"
    url = "https://www.example.org/"
    assert run("urlgetter", {"failure": None, "requests": [req(url)]}, input=url).status == "ok"
    tls = run("urlgetter", {"failure": "connection_reset", "failed_operation": "tls_handshake"}, input=url)
    assert (tls.status, tls.rule, tls.method) == ("anomaly", "urlgetter.failed", "tls.reset")
    dns = run("urlgetter", {"failure": "dns_nxdomain_error", "failed_operation": "resolve"}, input=url)
    assert dns.method == "dns.nxdomain" and dns.blocking is None
    assert run("urlgetter", None, input=url).rule == "urlgetter.no_data"
