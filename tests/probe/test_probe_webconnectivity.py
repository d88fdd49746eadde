"""Web Connectivity end to end on loopback: censoring resolver and sites that misbehave only towards
the probe's address, the real control server, and the verdict from the analyser's classify."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from controlnet import probe_config, running_control
from probenet import CENSOR_TLS, HTTP_SITE, NOTHING, PROBE_SRC, Net

from censorwatch.analysis import classify
from censorwatch.model.measurement import Measurement
from censorwatch.probe import RunStats, Timeouts, run
from censorwatch.probe.webconnectivity import SUMMARY_KEYS
from censorwatch.store.reader import read_paths

#: url (host, path, https) -> (blocking, accessible) as OONI's rules (methodology section 4) decide
CASES: dict[tuple[str, str, bool], tuple[Any, Any]] = {
    ("ok.test", "/", False): (False, True),
    ("valid.test", "/", True): (False, True),
    ("censored-dns.test", "/", False): ("dns", False),
    ("censored-nx.test", "/", False): ("dns", False),
    ("nx.test", "/", False): (False, False),  # NXDOMAIN for the control too: the site is down
    ("httpreset.test", "/", False): ("http-failure", False),
    ("httpdiff.test", "/", False): ("http-diff", False),
    ("tlsblock.test", "/", True): ("http-failure", False),
    ("expired.test", "/", True): (False, False),  # the control fails the same way: not censorship
}


@pytest.fixture
async def measured(net: Net, tmp_path: Path) -> dict[str, dict[str, Any]]:
    urls = [net.url(h, p, s) for (h, p, s) in CASES]
    out = tmp_path / "m.jsonl"
    with out.open("wb") as f:
        async with running_control(net, lab=True) as ctl:
            cfg = probe_config(net, ctl.url, urls, concurrency=8,
                               on_measurement=lambda m: f.write(orjson.dumps(m) + b"\n"))
            results = await run(cfg)
    assert len(results) == len(urls)
    return {m["input"]: m for m in results} | {"__file__": {"path": str(out)}}


async def test_verdicts_and_test_keys(net: Net, measured: dict[str, dict[str, Any]]) -> None:
    for (host, path, https), (blocking, accessible) in CASES.items():
        m = measured[net.url(host, path, https)]
        tk = m["test_keys"]
        assert (tk["blocking"], tk["accessible"]) == (blocking, accessible), (host, tk["x_rule"])
        assert tk["control_failure"] is None and tk["control"]["http_request"], host
        assert m["data_format_version"] == "0.2.0" and m["test_name"] == "web_connectivity"
        assert m["probe_ip"] == "127.0.0.1" and m["input"] == net.url(host, path, https)
        for key in ("queries", "tcp_connect", "tls_handshakes", "requests", "network_events"):
            assert isinstance(tk[key], list), key
        assert all(q["engine"] == "system" for q in tk["queries"])


async def test_exact_steps(net: Net, measured: dict[str, dict[str, Any]]) -> None:
    ok = measured[net.url("ok.test")]["test_keys"]
    assert ok["queries"][0]["answers"][0]["ipv4"] == HTTP_SITE and ok["dns_consistency"] == "consistent"
    assert ok["tcp_connect"][0]["status"] == {"success": True, "failure": None, "blocked": None}
    assert ok["requests"][0]["response"]["code"] == 200 and ok["status_code_match"] is True
    assert ok["body_length_match"] is True and ok["title_match"] is True
    nx = measured[net.url("censored-nx.test")]["test_keys"]
    assert nx["dns_experiment_failure"] == "dns_nxdomain_error" and nx["queries"][0]["rcode"] == 3
    assert nx["requests"][0]["failure"] == "dns_nxdomain_error" and nx["tcp_connect"] == []
    assert nx["control"]["dns"]["addrs"] == [HTTP_SITE] and nx["dns_consistency"] == "inconsistent"
    reset = measured[net.url("httpreset.test")]["test_keys"]
    assert reset["http_experiment_failure"] == "connection_reset"
    assert reset["tcp_connect"][0]["status"]["success"] is True  # the connect worked, the request was reset
    tlsb = measured[net.url("tlsblock.test", https=True)]["test_keys"]
    assert tlsb["tls_handshakes"][0]["failure"] == "connection_reset"
    assert tlsb["control"]["tls_handshake"][f"{CENSOR_TLS}:{net.https_port}"]["status"] is True
    diff = measured[net.url("httpdiff.test")]["test_keys"]
    assert "Blocked by the lab censor" in diff["requests"][0]["response"]["body"]
    assert diff["status_code_match"] is True and diff["title_match"] is False
    exp = measured[net.url("expired.test", https=True)]["test_keys"]
    assert exp["tls_handshakes"][0]["failure"] == "ssl_invalid_certificate"
    assert exp["control"]["http_request"]["failure"] == "ssl_invalid_certificate"


async def test_round_trip_through_the_reader_and_classify(measured: dict[str, dict[str, Any]]) -> None:
    """What the probe wrote, read back by our reader and classified again, gives the same verdict."""
    path = Path(measured["__file__"]["path"])
    items = list(read_paths([path]))
    assert len(items) == len(CASES)
    for item in items:
        assert isinstance(item, Measurement), item
        v = classify(item)
        tk = item.test_keys or {}
        for key in SUMMARY_KEYS:
            assert getattr(v, key) == tk[key], (item.input, key)
        assert (v.status, v.rule) == (tk["x_status"], tk["x_rule"])


async def test_probe_address_is_scrubbed_everywhere(net: Net) -> None:
    async with running_control(net, lab=True) as ctl:
        results = await run(probe_config(net, ctl.url, [net.url("ok.test", "/echo-ip")]))
    m = results[0]
    blob = orjson.dumps(m).decode()
    assert PROBE_SRC not in blob  # the control told the probe its address; the site echoed it
    assert "you are [scrubbed]" in m["test_keys"]["requests"][0]["response"]["body"]
    assert m["test_keys"]["control"]["client"]["ip"] == "[scrubbed]" and m["probe_ip"] == "127.0.0.1"


async def test_network_from_the_control_or_pinned(net: Net, tmp_path: Path) -> None:
    from censorwatch.control.asnmap import ASNMap

    amap = tmp_path / "asn.csv"
    amap.write_text(f"network,asn,cc,as_name\n{PROBE_SRC}/32,17557,PK,PTCL\n")
    async with running_control(net, lab=True, asn_map=ASNMap.load(amap)) as ctl:
        learnt = (await run(probe_config(net, ctl.url, [net.url("ok.test")])))[0]
        pinned = (await run(probe_config(net, ctl.url, [net.url("ok.test")], probe_cc="IR",
                                         probe_asn="58224")))[0]
        hidden = (await run(probe_config(net, ctl.url, [net.url("ok.test")], no_asn=True)))[0]
    assert (learnt["probe_cc"], learnt["probe_asn"], learnt["probe_network_name"]) == ("PK", "AS17557", "PTCL")
    assert (pinned["probe_cc"], pinned["probe_asn"]) == ("IR", "AS58224")
    assert (hidden["probe_cc"], hidden["probe_asn"], hidden["probe_network_name"]) == ("PK", "AS0", None)


async def test_control_unreachable(net: Net) -> None:
    cfg = probe_config(net, f"https://{NOTHING}:{net.https_port}/", [net.url("ok.test"),
                                                                     net.url("valid.test", https=True)])
    by_url = {m["input"]: m["test_keys"] for m in await run(cfg)}
    plain, tls_ok = by_url[net.url("ok.test")], by_url[net.url("valid.test", https=True)]
    assert plain["control_failure"] == "connection_refused" and plain["control"] == {}
    assert (plain["blocking"], plain["accessible"]) == (None, None)
    # a validated HTTPS fetch needs no control to say "not blocked"
    assert (tls_ok["blocking"], tls_ok["accessible"]) == (False, True)


async def test_lab_annotation(net: Net) -> None:
    async with running_control(net, lab=True) as ctl:
        m = (await run(probe_config(net, ctl.url, [net.url("ok.test")], lab=True)))[0]
    assert m["annotations"]["censorwatch_lab"] is True
    assert Measurement.from_raw(m).is_lab


async def test_deadlines(net: Net) -> None:
    cfg = probe_config(net, None, [net.url("ok.test", "/hang")], url_deadline=0.5)
    m = (await run(cfg))[0]
    tk = m["test_keys"]
    assert tk["x_deadline_exceeded"] is True and tk["requests"][0]["failure"] == "generic_timeout_error"
    assert m["test_runtime"] < 3.0
    stats = RunStats()
    t0 = asyncio.get_running_loop().time()
    quick = net.url("valid.test", https=True)
    slow = Timeouts(dns=5, tcp=5, tls=5, http_headers=30, http_body=30, control=30)
    cfg = probe_config(net, None, [net.url("ok.test", "/hang"), net.url("ok.test", "/hang?2"), quick],
                       run_deadline=3.0, url_deadline=60, timeouts=slow)
    done = await run(cfg, stats)
    assert [d["input"] for d in done] == [quick]  # the hanging ones were cut by the run deadline
    assert asyncio.get_running_loop().time() - t0 < 10 and stats.done == 1


async def test_at_most_two_connections_per_host(net: Net) -> None:
    urls = [net.url("ok.test", f"/slow{i}") for i in range(10)]
    stats = RunStats()
    done = await run(probe_config(net, None, urls, concurrency=10), stats)
    assert len(done) == 10 and stats.done == 10
    assert net.max_active.get((HTTP_SITE, PROBE_SRC)) == 2, (net.max_active, [d["test_keys"]["requests"][0]["failure"] for d in done])


#: (host, path, https) -> (dns_experiment_failure, http_experiment_failure) without a control server
MISBEHAVIOUR: dict[tuple[str, str, bool], tuple[str | None, str | None]] = {
    ("ok.test", "/reset", False): (None, "connection_reset"),
    ("ok.test", "/close", False): (None, "eof_error"),
    ("ok.test", "/hang", False): (None, "generic_timeout_error"),
    ("ok.test", "/loop", False): (None, "unknown_failure: stopped after 10 redirects"),
    ("ok.test", "/huge", False): (None, None),
    ("refused.test", "/", False): (None, "connection_refused"),
    ("tlshang.test", "/", True): (None, "generic_timeout_error"),
    ("wronghost.test", "/", True): (None, "ssl_invalid_hostname"),
    ("unknownca.test", "/", True): (None, "ssl_unknown_authority"),
    ("expired.test", "/", True): (None, "ssl_invalid_certificate"),
    ("servfail.test", "/", False): ("dns_servfail_error", "dns_servfail_error"),
    ("dnstimeout.test", "/", False): ("generic_timeout_error", "generic_timeout_error"),
    ("garbage.test", "/", False): ("dns_server_misbehaving", "dns_server_misbehaving"),
    ("wrongid.test", "/", False): ("dns_reply_with_wrong_query_id", "dns_reply_with_wrong_query_id"),
}


def _failures(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        found = [v for k, v in obj.items() if k == "failure" and isinstance(v, str)]
        return found + [f for v in obj.values() for f in _failures(v)]
    if isinstance(obj, list):
        return [f for v in obj for f in _failures(v)]
    return []


async def test_every_misbehaviour_has_its_exact_failure(net: Net) -> None:
    from censorwatch.model import failures as F

    urls = {net.url(h, p, s): v for (h, p, s), v in MISBEHAVIOUR.items()}
    done = {m["input"]: m for m in await run(probe_config(net, None, list(urls), concurrency=16))}
    for url, (dns_failure, http_failure) in urls.items():
        tk = done[url]["test_keys"]
        assert (tk["dns_experiment_failure"], tk["http_experiment_failure"]) == (dns_failure, http_failure), url
        assert tk["requests"] and tk["requests"][0]["failure"] == http_failure, url
        assert tk["control_failure"] == "unknown_failure: no control server configured"
        # no control and no successful HTTPS fetch: OONI's rule 2 says nothing can be concluded
        assert (tk["blocking"], tk["accessible"]) == (None, None), url
        for f in _failures(tk):
            assert f in F.CANONICAL or f.startswith("unknown_failure: "), (url, f)
    huge = done[net.url("ok.test", "/huge")]["test_keys"]["requests"][0]["response"]
    assert huge["body_is_truncated"] is True and len(huge["body"]) == 512 * 1024
    refused = done[net.url("refused.test")]["test_keys"]
    assert refused["tcp_connect"][0]["status"] == {"success": False, "failure": "connection_refused", "blocked": None}
    loop = done[net.url("ok.test", "/loop")]["test_keys"]["requests"]
    assert len(loop) == 11 and loop[-1]["request"]["url"] == net.url("ok.test", "/loop")
    wrong = done[net.url("wronghost.test", https=True)]["test_keys"]["tls_handshakes"][0]
    assert wrong["peer_certificates"] and wrong["validation"]["failure"] == "ssl_invalid_hostname"


async def test_each_resolver_is_recorded_under_its_engine_and_only_the_system_one_is_the_users(net: Net) -> None:
    """OONI's shape: every resolver in ``queries`` (``system``, ``udp``, ``doh``), tagged ``depth=0``; the
    addresses only the comparison resolvers gave get a connectivity check (``tcptls_experiment``,
    ``fetch_body=false``), which proves the site is up but not that the user can reach it."""
    from probenet import BLOCKPAGE_SITE, HTTPS_VALID

    doh = f"https://{HTTPS_VALID}:{net.https_port}/dns-query"
    async with running_control(net, lab=True) as ctl:
        m = (await run(probe_config(net, ctl.url, [net.url("censored-dns.test")],
                                    public_resolver=net.th_dns_addr, doh_url=doh)))[0]
    tk = m["test_keys"]
    by_engine = {(q["engine"], q["query_type"]): q for q in tk["queries"]}
    assert set(by_engine) == {(e, t) for e in ("system", "udp", "doh") for t in ("A", "AAAA")}
    assert all("depth=0" in q["tags"] for q in tk["queries"])
    assert by_engine[("system", "A")]["answers"][0]["ipv4"] == BLOCKPAGE_SITE
    assert by_engine[("udp", "A")]["answers"][0]["ipv4"] == HTTP_SITE == by_engine[("doh", "A")]["answers"][0]["ipv4"]
    assert by_engine[("udp", "A")]["resolver_address"] == net.th_dns_addr
    assert by_engine[("doh", "A")]["resolver_address"] == doh
    checks = [t for t in tk["tcp_connect"] if "tcptls_experiment" in t["tags"] and "classic" not in t["tags"]]
    assert [(t["ip"], t["status"]["success"], "fetch_body=false" in t["tags"]) for t in checks] == [(HTTP_SITE, True, True)]
    assert all(r["tags"][0] == "classic" for r in tk["requests"])
    assert tk["blocking"] == "dns"  # the verdict reads the system resolver only
    assert m["test_keys"]["x_rule"] != "wc.https_ok"
