"""The HTTP/1.1 client: redirects, cookies, body cap, chunked, and every misbehaviour, on loopback."""

from __future__ import annotations

import asyncio

import pytest
from probenet import HTTP_SITE, HTTPS_VALID, HUGE, NOTHING, PAGE, Net

from censorwatch.probe import http
from censorwatch.probe.trace import Trace


def _resolver(table: dict[str, list[str]]) -> http.Resolve:
    async def resolve(host: str) -> tuple[list[str], str | None]:
        if host in table:
            return table[host], None
        return [], "dns_nxdomain_error"

    return resolve


ZONE = _resolver({"ok.test": [HTTP_SITE], "valid.test": [HTTPS_VALID], "dual.test": [NOTHING, HTTP_SITE]})


async def _get(net: Net, settings: http.HTTPSettings, path: str, host: str = "ok.test",
               https: bool = False) -> tuple[http.FetchResult, Trace]:
    trace = Trace()
    res = await http.get(net.url(host, path, https), trace=trace, resolve=ZONE, settings=settings)
    return res, trace


async def test_plain_get(net: Net, settings: http.HTTPSettings) -> None:
    res, trace = await _get(net, settings, "/")
    assert res.failure is None and len(res.requests) == 1
    r = res.requests[0]
    assert r["failure"] is None and r["request"]["method"] == "GET"
    assert r["request"]["url"] == net.url("ok.test", "/")
    assert r["response"]["code"] == 200 and r["response"]["body"] == PAGE.decode()
    assert r["response"]["body_is_truncated"] is False
    assert r["response"]["headers"]["X-Censorwatch-Test"] == "1"
    assert ["X-Censorwatch-Test", "1"] in r["response"]["headers_list"]
    reads = [e for e in trace.network_events if e["operation"] == "read" and e["num_bytes"]]
    writes = [e for e in trace.network_events if e["operation"] == "write"]
    assert sum(e["num_bytes"] for e in reads) > len(PAGE)  # headers + body, byte-exact per read
    assert writes and writes[0]["num_bytes"] > 0 and all(e["t"] >= e["t0"] for e in reads)
    ops = [e["operation"] for e in trace.network_events]
    assert ops[:2] == ["connect_start", "connect_done"] and "http_transaction_done" in ops


async def test_https_get_with_validation(net: Net, settings: http.HTTPSettings) -> None:
    res, _ = await _get(net, settings, "/", host="valid.test", https=True)
    assert res.failure is None and res.requests[0]["response"]["code"] == 200
    assert res.tls_handshakes[0]["failure"] is None


async def test_chunked_body(net: Net, settings: http.HTTPSettings) -> None:
    res, _ = await _get(net, settings, "/chunked")
    assert res.failure is None and res.requests[0]["response"]["body"] == "hello chunked world"


@pytest.mark.parametrize("path", ["/huge", "/huge-close"])
async def test_body_cap(net: Net, settings: http.HTTPSettings, path: str) -> None:
    res, _ = await _get(net, settings, path)
    resp = res.requests[0]["response"]
    assert res.failure is None and HUGE > http.BODY_CAP
    assert resp["body_is_truncated"] is True and len(resp["body"]) == http.BODY_CAP


async def test_redirect_with_cookie_jar(net: Net, settings: http.HTTPSettings) -> None:
    res, _ = await _get(net, settings, "/redirect")
    assert res.failure is None
    assert [r["response"]["code"] for r in res.requests] == [200, 302]  # newest first
    assert res.requests[0]["request"]["headers"]["Cookie"] == "session=s3cret"
    assert res.requests[0]["response"]["body"] == "cookie ok"
    assert res.final_url == net.url("ok.test", "/cookie")


async def test_redirect_loop_stops_after_ten(net: Net, settings: http.HTTPSettings) -> None:
    res, _ = await _get(net, settings, "/loop")
    assert res.failure == "unknown_failure: stopped after 10 redirects"
    assert len(res.requests) == 11 and all(r["response"]["code"] == 302 for r in res.requests)
    assert res.requests[0]["failure"] == res.failure


@pytest.mark.parametrize("path,failure", [
    ("/reset", "connection_reset"),
    ("/close", "eof_error"),
    ("/hang", "generic_timeout_error"),
    ("/garbage", "unknown_failure: malformed HTTP response: bad status line b'SSH-2.0-OpenSSH_9.2\\r\\n'"),
])
async def test_misbehaving_server(net: Net, settings: http.HTTPSettings, path: str, failure: str) -> None:
    res, trace = await _get(net, settings, path)
    assert res.failure == failure
    r = res.requests[0]
    assert r["failure"] == failure and r["failure_raw"]
    assert r["response"]["code"] == 0 and r["response"]["body"] is None
    done = [e for e in trace.network_events if e["operation"] == "http_transaction_done"]
    assert done[0]["failure"] == failure


async def test_hang_respects_the_header_timeout(net: Net, settings: http.HTTPSettings) -> None:
    t0 = asyncio.get_running_loop().time()
    res, _ = await _get(net, settings, "/hang")
    took = asyncio.get_running_loop().time() - t0
    assert res.failure == "generic_timeout_error"
    assert settings.timeouts.http_headers * 0.9 <= took < settings.timeouts.http_headers + 2


async def test_dns_failure_and_fallback_address(net: Net, settings: http.HTTPSettings) -> None:
    res, _ = await _get(net, settings, "/", host="nx.test")
    assert res.failure == "dns_nxdomain_error" and res.requests[0]["failure"] == "dns_nxdomain_error"
    res, _ = await _get(net, settings, "/", host="dual.test")  # first address refuses, second works
    assert res.failure is None
    assert [c["status"]["failure"] for c in res.tcp_connect] == ["connection_refused", None]


async def test_redirect_to_a_refused_destination(net: Net, settings: http.HTTPSettings) -> None:
    res, _ = await _get(net, settings, "/offsite")  # Location: http://127.0.0.1:1/
    assert res.failure == "connection_refused" and len(res.requests) == 2


def test_invalid_redirect_location() -> None:
    with pytest.raises(http.errors.InvalidRedirect):
        http._target("ftp://example.org/")
    with pytest.raises(http.errors.InvalidRedirect):
        http._target("http:///nohost")
    assert http._target("https://Example.ORG/a?b=1") == ("https", "example.org", 443, "/a?b=1")


def test_cookie_jar_domain_and_path() -> None:
    jar = http.CookieJar()
    jar.store("a.example.org", "/x/y", ["s=1; Domain=example.org; Path=/", "t=2", "u=3; Domain=evil.com"])
    assert jar.header("b.example.org", "/") == "s=1"
    assert jar.header("a.example.org", "/x/z") == "s=1; t=2"
    jar.store("a.example.org", "/", ["s=1; Domain=example.org; Path=/; Max-Age=0"])
    assert jar.header("a.example.org", "/x/") == "t=2"


def test_binary_body_is_base64() -> None:
    assert http.body_field(b"\xff\x00") == {"format": "base64", "data": "/wA="}
    assert http.body_field("é".encode()) == "é"
