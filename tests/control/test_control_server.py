"""The control server speaks OONI's test-helper protocol (schema-checked), refuses private
destinations outside lab mode, and answers bad requests with 4xx and a reason."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from controlnet import running_control
from probenet import BLOCKPAGE_SITE, HTTP_SITE, HTTPS_EXPIRED, HTTPS_VALID, PAGE, Net

from censorwatch.control.asnmap import ASNMap
from censorwatch.control.protocol import RESPONSE_SCHEMA, BadRequest, parse_request
from censorwatch.model.addresses import AddressPolicy, why_not_public
from censorwatch.probe import control_client, http, tls
from censorwatch.probe.timeouts import Timeouts

ERROR_SCHEMA = {
    "type": "object", "required": ["error", "reason"], "additionalProperties": False,
    "properties": {"error": {"type": "string"}, "reason": {"type": "string", "minLength": 10}},
}


async def _post(url: str, ca: Path, body: Any, *, raw: bytes | None = None) -> httpx.Response:
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(ca)), timeout=15) as c:
        if raw is not None:
            return await c.post(url, content=raw, headers={"content-type": "application/json"})
        return await c.post(url, json=body)


def _req(url: str, endpoints: list[str] | None = None) -> dict[str, Any]:
    return {"http_request": url, "http_request_headers": {"User-Agent": ["test"], "X-Evil": ["no"]},
            "tcp_connect": endpoints or []}


async def test_http_site(net: Net, tmp_path: Path) -> None:
    amap = tmp_path / "asn.csv"
    amap.write_text("network,asn,cc,as_name\n127.0.0.0/8,64500,PK,Test Loopback Net\n")
    async with running_control(net, lab=True, asn_map=ASNMap.load(amap)) as ctl:
        ep = f"{HTTP_SITE}:{net.http_port}"
        r = await _post(ctl.url, ctl.ca_file, _req(net.url("ok.test"), [ep]))
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    out = r.json()
    jsonschema.validate(out, RESPONSE_SCHEMA)
    assert out["dns"] == {"addrs": [HTTP_SITE], "failure": None}
    assert out["tcp_connect"] == {ep: {"status": True, "failure": None}}
    assert out["tls_handshake"] == {}
    h = out["http_request"]
    assert (h["status_code"], h["failure"], h["body_length"]) == (200, None, len(PAGE))
    assert h["title"] == "Welcome to the censorwatch test site" and h["headers"]["X-Censorwatch-Test"] == "1"
    assert out["ip_info"] == {HTTP_SITE: {"asn": 64500, "flags": 1 | 2 | 4}}
    assert out["client"] == {"ip": "127.0.0.1", "asn": 64500, "cc": "PK", "as_name": "Test Loopback Net"}


async def test_https_valid_and_expired(net: Net) -> None:
    async with running_control(net, lab=True) as ctl:
        ok = (await _post(ctl.url, ctl.ca_file, _req(net.url("valid.test", https=True)))).json()
        bad = (await _post(ctl.url, ctl.ca_file, _req(net.url("expired.test", https=True)))).json()
    for out in (ok, bad):
        jsonschema.validate(out, RESPONSE_SCHEMA)
    ep = f"{HTTPS_VALID}:{net.https_port}"
    assert ok["tls_handshake"] == {ep: {"server_name": "valid.test", "status": True, "failure": None}}
    assert ok["ip_info"][HTTPS_VALID]["flags"] & 8 and ok["http_request"]["status_code"] == 200
    ep = f"{HTTPS_EXPIRED}:{net.https_port}"
    assert bad["tls_handshake"][ep] == {"server_name": "expired.test", "status": False,
                                        "failure": "ssl_invalid_certificate"}
    assert bad["http_request"] == {"body_length": -1, "discovered_h3_endpoint": "",
                                   "failure": "ssl_invalid_certificate", "title": "", "headers": {},
                                   "status_code": -1}
    assert not bad["ip_info"][HTTPS_EXPIRED]["flags"] & 8


async def test_nxdomain_and_probe_only_endpoint(net: Net) -> None:
    async with running_control(net, lab=True) as ctl:
        nx = (await _post(ctl.url, ctl.ca_file, _req(net.url("nx.test")))).json()
        refused = (await _post(ctl.url, ctl.ca_file, _req(net.url("refused.test")))).json()
        # the probe's (censored) resolver answered the blockpage address; the TH resolves the real one
        bogus = f"{BLOCKPAGE_SITE}:{net.http_port}"
        cmp_ = (await _post(ctl.url, ctl.ca_file, _req(net.url("censored-dns.test"), [bogus]))).json()
    jsonschema.validate(nx, RESPONSE_SCHEMA)
    assert nx["dns"] == {"addrs": [], "failure": "dns_name_error"}
    assert nx["http_request"]["failure"] == "dns_nxdomain_error" and nx["tcp_connect"] == {}
    jsonschema.validate(refused, RESPONSE_SCHEMA)
    assert refused["tcp_connect"] == {f"127.0.0.9:{net.http_port}": {"status": False, "failure": "connection_refused"}}
    assert refused["http_request"]["failure"] == "connection_refused" and refused["http_request"]["status_code"] == -1
    assert cmp_["dns"]["addrs"] == [HTTP_SITE]
    assert set(cmp_["tcp_connect"]) == {bogus, f"{HTTP_SITE}:{net.http_port}"}
    assert cmp_["ip_info"][BLOCKPAGE_SITE]["flags"] == 1 | 4 and cmp_["ip_info"][HTTP_SITE]["flags"] == 2 | 4


async def test_ssrf_refused_outside_lab_mode(net: Net) -> None:
    before = dict(net.accepted)
    async with running_control(net, lab=False) as ctl:
        literal = await _post(ctl.url, ctl.ca_file, _req(f"http://{HTTP_SITE}:{net.http_port}/"))
        v6 = await _post(ctl.url, ctl.ca_file, _req(f"http://[::1]:{net.http_port}/"))
        by_name = await _post(ctl.url, ctl.ca_file,
                              _req(net.url("ok.test"), [f"{HTTP_SITE}:{net.http_port}", f"[::1]:{net.http_port}"]))
    for r in (literal, v6):
        assert r.status_code == 403
        jsonschema.validate(r.json(), ERROR_SCHEMA)
        assert r.json()["error"] == "destination_refused" and "loopback" in r.json()["reason"]
    out = by_name.json()
    jsonschema.validate(out, RESPONSE_SCHEMA)
    assert out["tcp_connect"] == {}  # nothing was reached
    assert out["x_refused"] == {f"{HTTP_SITE}:{net.http_port}": "loopback", f"[::1]:{net.http_port}": "loopback"}
    assert out["http_request"]["failure"] == "unknown_failure: destination refused: 127.0.0.2 is loopback"
    assert net.accepted == before  # the site never saw a connection


@pytest.mark.parametrize("ip,why", [
    ("10.1.2.3", "private"), ("192.168.1.1", "private"), ("172.16.0.1", "private"),
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("100.64.0.1", "shared address space"), ("240.0.0.1", "reserved"), ("198.18.0.1", "benchmarking"),
    ("::ffff:10.0.0.1", "private"), ("fc00::1", "private"), ("8.8.8.8", None), ("2001:4860::1", None),
])
def test_address_policy_table(ip: str, why: str | None) -> None:
    assert why_not_public(ip) == why
    assert AddressPolicy().refusal(ip) == why


def test_lab_mode_makes_the_lab_net_public_only_there() -> None:
    assert why_not_public("198.18.5.5", lab=True) is None and why_not_public("198.19.255.1", lab=True) is None
    assert why_not_public("198.18.5.5") == "benchmarking" and why_not_public("198.20.0.1", lab=True) is None
    lab = AddressPolicy(lab=True, allow_loopback=True, allow_private=True)
    assert lab.refusal("169.254.169.254") == "link-local" and lab.refusal("10.0.0.1") is None


@pytest.mark.parametrize("body,reason", [
    (b"{not json", "body is not JSON"),
    (b"[]", "body must be a JSON object, got list"),
    (b"{}", "'http_request' must be a non-empty URL string"),
    (b'{"http_request": "ftp://x.org/"}', "'http_request' must be an http:// or https:// URL with a host"),
    (b'{"http_request": "http://x.org:99999/"}', "'http_request': Port out of range 0-65535"),
    (b'{"http_request": "http://x.org/", "tcp_connect": "1.2.3.4:80"}', "'tcp_connect' must be a list"),
    (b'{"http_request": "http://x.org/", "tcp_connect": ["foo"]}', "'tcp_connect'[0] 'foo' is not ip:port"),
    (b'{"http_request": "http://x.org/", "tcp_connect": ["1.2.3.4:0"]}', "port out of range"),
    (b'{"http_request": "http://x.org/", "http_request_headers": {"A": "b"}}', "must be a list of strings"),
])
async def test_malformed_requests_get_400_with_a_reason(net: Net, body: bytes, reason: str) -> None:
    async with running_control(net, lab=False) as ctl:
        r = await _post(ctl.url, ctl.ca_file, None, raw=body)
    assert r.status_code == 400
    jsonschema.validate(r.json(), ERROR_SCHEMA)
    assert r.json()["error"] == "bad_request" and reason in r.json()["reason"]


async def test_size_method_and_concurrency_limits(net: Net) -> None:
    slow = Timeouts(dns=2, tcp=2, tls=2, http_headers=5, http_body=5, control=20)
    async with running_control(net, lab=True, max_concurrency=1, queue_wait=0.2, timeouts=slow) as ctl:
        big = await _post(ctl.url, ctl.ca_file, None, raw=b'{"http_request": "' + b"a" * 70_000 + b'"}')
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(ctl.ca_file)), timeout=30) as c:
            get = await c.get(ctl.url)
            slow_req = asyncio.create_task(c.post(ctl.url, json=_req(net.url("ok.test", "/hang"))))
            for _ in range(200):  # until the helper is inside the hanging fetch (holding the only slot)
                if net.active.get((HTTP_SITE, "127.0.0.1")):
                    break
                await asyncio.sleep(0.05)
            busy = await c.post(ctl.url, json=_req(net.url("ok.test")))
            first = await slow_req
    assert big.status_code == 413 and big.json()["error"] == "request_too_large"
    assert get.status_code == 405 and get.json()["error"] == "method_not_allowed"
    assert busy.status_code == 503 and busy.json()["error"] == "busy"
    assert first.status_code == 200 and first.json()["http_request"]["failure"] == "generic_timeout_error"


async def test_probe_client_speaks_to_it(net: Net) -> None:
    async with running_control(net, lab=True) as ctl:
        settings = http.HTTPSettings(policy=AddressPolicy(allow_loopback=True),
                                     trust=tls.TrustStore((net.ca_file,), system=False))
        control, failure, _ = await control_client.ask(ctl.url, net.url("ok.test"), [], settings=settings,
                                                       resolver=None, timeout=10)
        assert failure is None and control is not None
        jsonschema.validate(control, RESPONSE_SCHEMA)
        # a control whose certificate is not trusted is a control failure with the TLS reason
        untrusted = http.HTTPSettings(policy=AddressPolicy(allow_loopback=True),
                                      trust=tls.TrustStore((), system=True))
        control, failure, _ = await control_client.ask(ctl.url, net.url("ok.test"), [], settings=untrusted,
                                                       resolver=None, timeout=10)
        assert control is None and failure == "ssl_unknown_authority"


def test_parse_request_filters_headers() -> None:
    req = parse_request({"http_request": "https://Example.org/x",
                         "http_request_headers": {"User-Agent": ["ua", "second"], "Cookie": ["secret"]},
                         "tcp_connect": ["[2001:db8::1]:443", "192.0.2.1:443"]})
    assert req.host == "example.org" and req.port == 443 and req.headers == [("User-Agent", "ua")]
    assert req.endpoints == [("2001:db8::1", 443), ("192.0.2.1", 443)]
    with pytest.raises(BadRequest, match="at most 32"):
        parse_request({"http_request": "http://a.org/", "tcp_connect": [f"192.0.2.{i}:80" for i in range(33)]})


def test_asn_map_errors(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("network,asn\n10.0.0.0/8,AS65000\n10.1.0.0/16,65001\n")
    m = ASNMap.load(p)
    assert m.lookup("10.1.2.3").asn == 65001 and m.lookup("10.2.0.1").asn == 65000  # most specific wins
    assert m.lookup("192.0.2.1") is None
    p.write_text("network,asn\n10.0.0.0/8,AS65000\nnot-a-net,1\n")
    with pytest.raises(ValueError, match=r"m.csv:3: "):
        ASNMap.load(p)
    p.write_text("ip,number\n")
    with pytest.raises(ValueError, match=r"m.csv:1: expected the header"):
        ASNMap.load(p)


ODD_TARGETS = [
    "http://exa mple.test/", "http://пример.рф/", "http://a..b/", "http://" + "a" * 300 + ".test/",
    "http://0x7f000001/", "http://127.1/", "https://ok.test:1/", "http://ok.test/\r\nX: y",
]


async def test_odd_targets_never_crash_the_server(net: Net) -> None:
    async with running_control(net, lab=False) as ctl:
        for url in ODD_TARGETS:
            r = await _post(ctl.url, ctl.ca_file, _req(url))
            assert r.status_code in (200, 400), (url, r.text)
            if r.status_code == 200:
                out = r.json()
                jsonschema.validate(out, RESPONSE_SCHEMA)
                assert not any(v["status"] for v in out["tcp_connect"].values()), url
                assert out["http_request"]["failure"] is not None, url
            else:
                jsonschema.validate(r.json(), ERROR_SCHEMA)


async def test_resolves_through_doh(net: Net) -> None:
    doh = f"https://{HTTPS_VALID}:{net.https_port}/dns-query"
    async with running_control(net, lab=True, doh_url=doh) as ctl:
        assert ctl.cfg.resolver is None and ctl.cfg.doh_url == doh
        ok = (await _post(ctl.url, ctl.ca_file, _req(net.url("censored-dns.test")))).json()
        nx = (await _post(ctl.url, ctl.ca_file, _req(net.url("nx.test")))).json()
    assert ok["dns"] == {"addrs": [HTTP_SITE], "failure": None} and ok["http_request"]["status_code"] == 200
    assert nx["dns"] == {"addrs": [], "failure": "dns_name_error"}


async def test_answers_are_cached_for_their_ttl_only_on_success(net: Net) -> None:
    assert net.th_dns is not None
    async with running_control(net, lab=True) as ctl:
        for _ in range(3):
            ok = (await _post(ctl.url, ctl.ca_file, _req(net.url("ok.test")))).json()
            nx = (await _post(ctl.url, ctl.ca_file, _req(net.url("nx.test")))).json()
    assert ok["dns"]["addrs"] == [HTTP_SITE] and nx["dns"]["failure"] == "dns_name_error"
    asked = [q for q in net.th_dns.queries if q[1] == "A"]
    assert asked.count(("ok.test", "A")) == 1  # TTL 60 s: answered from the cache twice
    assert asked.count(("nx.test", "A")) == 3  # failures are never cached
