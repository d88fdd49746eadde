"""http_requests, dns_n_http, browser_web: every rule."""

from __future__ import annotations

from typing import Any

from msmt_builder import q, req, run

from censorwatch.analysis.fingerprints import FingerprintRule, Fingerprints

PAGE = "<html><title>An ordinary page</title>" + "x" * 900 + "</html>"
FPS = Fingerprints.from_rules([
    FingerprintRule(id="test.nat_page", scope="nat", location="body", pattern_type="contains",
                    pattern="blocked by order of the test authority"),
    FingerprintRule(id="test.nat_ip", scope="nat", location="dns", pattern_type="full", pattern="203.0.113.9"),
])


def _tor(r: dict[str, Any], is_tor: bool) -> dict[str, Any]:
    r["request"]["tor"] = {"is_tor": is_tor}
    return r


def _hr(direct: dict[str, Any], via_tor: dict[str, Any] | None) -> dict[str, Any]:
    reqs = [_tor(direct, False)] + ([_tor(via_tor, True)] if via_tor else [])
    return {"requests": reqs}


def test_http_requests_rules() -> None:
    u = "http://example.org/"
    assert run("http_requests", _hr(req(u, body=PAGE), req(u, body=PAGE)), input=u).rule == "http_requests.match"
    assert run("http_requests", _hr(req(u, body="short"), req(u, body=PAGE)), input=u).rule == "http_requests.diff"
    assert run("http_requests", _hr(req(u, "connection_reset"), req(u, body=PAGE)), input=u).rule == "http_requests.failure"
    assert run("http_requests", _hr(req(u, "generic_timeout_error"), req(u, "generic_timeout_error")),
               input=u).rule == "http_requests.down"
    assert run("http_requests", _hr(req(u, body=PAGE), None), input=u).rule == "http_requests.no_control"
    assert run("http_requests", {"requests": []}, input=u).rule == "http_requests.no_data"
    bp = run("http_requests", _hr(req(u, body="<p>blocked by order of the test authority</p>"), None), input=u, fps=FPS)
    assert (bp.status, bp.rule) == ("confirmed", "http_requests.blockpage")


def test_yaml_era_http_requests_spellings() -> None:
    """``tor: true`` / ``shttp://`` for the Tor fetch, header lists of [name, [values]]."""
    u = "http://example.org/"
    direct = {"request": {"url": u, "tor": False, "headers": [["User-Agent", ["x"]]]},
              "response": {"code": 200, "body": PAGE, "headers": [["Server", ["nginx"]], ["X-A", ["1"]]]}}
    via_tor = {"request": {"url": "shttp://example.org/", "headers": []},
               "response": {"code": 200, "body": PAGE, "headers": [["Server", ["nginx"]], ["X-A", ["1"]]]}}
    v = run("http_requests", {"requests": [direct, via_tor]}, input=u)
    assert (v.status, v.rule, v.headers_match) == ("ok", "http_requests.match", True)


def test_dns_n_http_rules() -> None:
    u = "http://example.org/"
    ok = run("dns_n_http", {"queries": [q("example.org", "93.184.216.34")], "requests": [req(u, body=PAGE)]}, input=u)
    assert (ok.status, ok.rule) == ("ok", "dns_n_http.ok")
    nx = run("dns_n_http", {"queries": [q("example.org", failure="dns_nxdomain_error")], "requests": []}, input=u)
    assert (nx.status, nx.rule, nx.method) == ("anomaly", "dns_n_http.dns", "dns.nxdomain")
    cut = run("dns_n_http", {"queries": [q("example.org", "93.184.216.34")],
                             "requests": [req(u, "connection_reset")]}, input=u)
    assert (cut.status, cut.rule, cut.method) == ("anomaly", "dns_n_http.http", "http.reset")
    ip = run("dns_n_http", {"queries": [q("example.org", "203.0.113.9")], "requests": []}, input=u, fps=FPS)
    assert (ip.status, ip.rule, ip.method) == ("confirmed", "dns_n_http.blockpage", "dns.blockpage")
    assert run("dns_n_http", {}, input=u).rule == "dns_n_http.no_data"


def test_yaml_era_dns_answers() -> None:
    """ooniprobe-legacy's DNS records: ``query`` and RR strings instead of hostname and answer objects."""
    yaml_q = {"query": "[Query('example.org', 1, 1)]", "query_type": "A", "resolver": ["8.8.8.8", 53],
              "answers": [["<RR name=example.org type=A class=IN ttl=300s auth=False>",
                           "<A address=93.184.216.34 ttl=300>"]], "addrs": ["93.184.216.34"]}
    v = run("dns_n_http", {"queries": [yaml_q], "requests": [req("http://example.org/", body=PAGE)]},
            input="http://example.org/")
    assert (v.status, v.rule) == ("ok", "dns_n_http.ok")


def test_browser_web() -> None:
    assert run("browser_web", {"result": "ok", "load_time_ms": 300}, input="https://x.org/").rule == "browser_web.ok"
    assert run("browser_web", {"result": "error"}, input="https://x.org/").rule == "browser_web.error"
    assert run("browser_web", {}, input="https://x.org/").rule == "browser_web.no_data"
