"""The platform experiment on loopback: the probe's test network (censoring resolver, sites that
misbehave only towards the probe, the real control server), a catalogue with every kind of part."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "probe"))

from controlnet import probe_config, running_control
from probenet import Net, start_net

from censorwatch.analysis import classify
from censorwatch.model.measurement import Measurement
from censorwatch.probe import build_context
from censorwatch.probe import platforms as catalogue
from censorwatch.probe.platforms import experiment


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Net]:
    n = await start_net(tmp_path)
    try:
        yield n
    finally:
        await n.close()


def _catalogue(net: Net) -> dict[str, catalogue.Platform]:
    h, s = net.http_port, net.https_port
    return catalogue.parse({"platforms": {
        "testplat": {"endpoints": [
            {"part": "web", "url": f"https://tlsblock.test:{s}/"},  # TLS reset towards the probe only
            {"part": "web", "url": f"http://httpreset.test:{h}/"},  # HTTP request reset
            {"part": "api", "url": f"http://censored-nx.test:{h}/"},  # NXDOMAIN from the probe's resolver
            {"part": "media", "url": f"https://valid.test:{s}/"},
            {"part": "media", "url": f"http://ok.test:{h}/"},
            {"part": "app", "tcp": f"valid.test:{s}"},
            {"part": "app", "tcp": f"refused.test:{s}"},  # nothing listens, for the control neither: down
            {"part": "app", "tcp": f"censored-nx.test:{s}"},  # NXDOMAIN for the probe, resolves for the control
        ]},
        "telegram": {"ooni_test": "telegram", "endpoints": [
            {"part": "web", "url": f"https://valid.test:{s}/"},
            {"part": "app", "tcp": f"censored-nx.test:{h}"},
            {"part": "app", "tcp": f"censored-nx.test:{s}"},
        ]},
        "gone": {"endpoints": [  # nothing answers anyone: down, not blocked
            {"part": "app", "tcp": f"refused.test:{s}"},
            {"part": "app", "tcp": f"nx.test:{s}"},
        ]},
    }})


async def _run(net: Net, name: str) -> tuple[dict[str, Any], Any]:
    async with running_control(net, lab=True) as ctl:
        ctx = build_context(probe_config(net, ctl.url, []))
        m = await experiment.run(_catalogue(net)[name], ctx)
    return m, classify(Measurement.from_raw(m, "test"))


async def test_parts_are_judged_one_by_one(net: Net) -> None:
    m, v = await _run(net, "testplat")
    assert m["test_name"] == "platform" and m["input"] == "testplat"
    parts = v.details["part_details"]
    assert parts["web"]["status"] == "blocked" and set(parts["web"]["methods"]) == {"tls.reset", "http.reset"}
    assert parts["api"]["status"] == "blocked" and parts["api"]["methods"] == {"dns.nxdomain": 1}
    assert parts["media"]["status"] == "ok"
    assert parts["app"]["status"] == "partial" and parts["app"]["methods"] == {"dns.nxdomain": 1}
    rules = {e["target"].split(":")[0]: e["rule"] for e in v.details["endpoints"] if e["part"] == "app"}
    assert rules == {"valid.test": "platform.tcp.ok", "refused.test": "platform.tcp.down",
                     "censored-nx.test": "platform.tcp.dns"}
    assert (v.status, v.rule) == ("anomaly", "platform.blocked")
    assert "web blocked by" in v.explanation and "media reachable (2/2)" in v.explanation
    assert m["test_keys"]["parts"] == {"web": "blocked", "api": "blocked", "media": "ok", "app": "partial"}
    # every endpoint's own web_connectivity keys, and the flat OONI lists over all of them
    tk = m["test_keys"]
    assert len(tk["endpoints"]) == 8 and all(e["test_keys"] for e in tk["endpoints"])
    assert {q["hostname"] for q in tk["queries"]} >= {"tlsblock.test", "valid.test", "refused.test"}
    assert tk["tls_handshakes"] and tk["requests"]


async def test_an_ooni_named_platform_carries_ooni_keys(net: Net) -> None:
    m, v = await _run(net, "telegram")
    tk = m["test_keys"]
    assert m["test_name"] == "telegram"
    assert tk["telegram_tcp_blocking"] is True and tk["telegram_web_status"] == "ok"
    # our shape goes to the platform rules, not OONI's telegram rules
    assert v.rule == "platform.blocked" and v.details["parts"] == {"web": "ok", "app": "blocked"}


async def test_endpoints_down_for_the_control_too_are_down(net: Net) -> None:
    m, v = await _run(net, "gone")
    assert (v.status, v.rule) == ("down", "platform.down"), v.explanation
    rules = sorted(e["rule"] for e in v.details["endpoints"])
    assert rules == ["platform.tcp.dns_down", "platform.tcp.down"]
    assert all(e["test_keys"]["control"] for e in m["test_keys"]["endpoints"])


def test_the_shipped_catalogue() -> None:
    cat = catalogue.load()
    assert set(cat) == {"x", "tiktok", "youtube", "facebook", "instagram", "whatsapp", "telegram", "signal"}
    x_hosts = {e.host for e in cat["x"].endpoints}
    assert {"x.com", "twitter.com", "api.x.com", "t.co", "abs.twimg.com", "pbs.twimg.com", "video.twimg.com"} <= x_hosts
    wa = [e for e in cat["whatsapp"].endpoints if e.kind == "tcp"]
    assert len(wa) == 32 and {e.port for e in wa} == {443, 5222}  # e1..e16 on 443 and 5222
    assert {e.host for e in cat["telegram"].endpoints if e.kind == "tcp"} >= {"149.154.175.50", "95.161.76.100"}
    assert {p.test_name for p in cat.values()} == {"platform", "whatsapp", "telegram", "signal", "facebook_messenger"}
    for p in cat.values():
        assert {"web", "api"} & set(p.parts()) or p.name == "signal"


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"platforms": {"a": {"endpoints": [{"part": "cdn", "url": "https://a/"}]}}}, "endpoints[0].part"),
        ({"platforms": {"a": {"endpoints": [{"part": "web"}]}}}, "exactly one of url or tcp"),
        ({"platforms": {"a": {"endpoints": [{"part": "app", "tcp": "host"}]}}}, "endpoints[0].tcp"),
        ({"platforms": {"a": {"endpoints": [{"part": "web", "url": "ftp://a/"}]}}}, "endpoints[0].url"),
        ({"platforms": {"a": {"endpoints": [{"part": "web", "url": "https://a/", "x": 1}]}}}, "unknown key"),
        ({"platforms": {"a": {"endpoints": []}}}, "platforms.a"),
        ({"nope": 1}, "platforms"),
    ],
)
def test_bad_catalogues_say_where(doc: Any, where: str) -> None:
    with pytest.raises(catalogue.CatalogueError, match=where.replace("[", r"\[").replace("]", r"\]")):
        catalogue.parse(doc)
