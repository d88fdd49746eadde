"""The scenario schema: what parses, and errors that name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from censorwatch.lab import scenario
from censorwatch.lab.errors import ScenarioError

FULL = """
name: tls-reset-x
description: free text
probe: {test: web_connectivity, input: "https://x.com/", network: ptcl}
resolvers_everywhere: {remove: [www.example.org], add: {www.example.net: ["@badssl"]}}
networks:
  - name: ptcl
    cc: pk
    asn: 17557
    resolver:
      remove: [www.example.com]
      add: {яндекс.рф: ["@blockpage"], twitter.com: [x.com]}
    censor:
      - {dns: www.example.com, answer: ["@blockpage"]}
      - {dns: "@control", answer: []}
      - {sni: x.com, action: reset}
      - {host: www.example.com, port: 80, action: blockpage}
      - {endpoint: "www.example.com:443", action: drop}
      - {endpoint: "198.18.0.53:53/udp", action: refuse}
      - {endpoint: "@isp_proxy:443", action: close}
      - {sni: largefile.com, action: throttle, delay_ms: 300, loss: 0.1, rate_kbps: 150}
      - {shutdown: true}
  - {name: jazz, cc: PK, asn: AS45669}
timeline:
  - {at: 2m, network: jazz, censor: [{shutdown: true}]}
  - {at: 60s, network: ptcl, censor: []}
  - {at: 90, resolver: {remove: [x.com]}}
"""


def test_full_schema_parses(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(FULL)
    sc = scenario.load(p)
    assert sc.name == "tls-reset-x" and sc.probe is not None and sc.probe.network == "ptcl"
    ptcl, jazz = sc.networks
    assert (ptcl.cc, ptcl.asn, jazz.asn) == ("PK", "AS17557", "AS45669")
    assert ptcl.resolver.remove == ("www.example.com",)
    assert ptcl.resolver.add["xn--d1acpjx3f.xn--p1ai"] == ("@blockpage",)
    assert [r.matcher for r in ptcl.censor] == ["dns", "dns", "sni", "host", "endpoint", "endpoint", "endpoint",
                                               "sni", "shutdown"]
    assert ptcl.censor[5].target == "198.18.0.53:53/udp"
    assert ptcl.censor[7].rate_kbps == 150.0 and ptcl.censor[7].loss == 0.1
    assert [t.at for t in sc.timeline] == [60.0, 90.0, 120.0]
    assert sc.timeline[1].network is None
    assert jazz.censor == ()


def test_single_network_default() -> None:
    sc = scenario.parse({"name": "x", "probe": {"test": "web_connectivity", "input": "https://x.com/"},
                         "censor": [{"sni": "x.com", "action": "reset"}]})
    assert [n.name for n in sc.networks] == ["isp"] and sc.probe is not None and sc.probe.network == "isp"
    assert sc.networks[0].censor[0].action == "reset"


@pytest.mark.parametrize(
    ("doc", "where", "reason"),
    [
        ({"name": "a", "colour": 1}, "colour", "unknown key"),
        ({}, "name", "required"),
        ({"name": "a", "censor": [{"sni": "x.com", "action": "explode"}]}, "censor[0].action", "unknown action"),
        ({"name": "a", "censor": [{"sni": "x.com", "action": "refuse"}]}, "censor[0].action", "before any sni"),
        ({"name": "a", "censor": [{"host": "x.com"}]}, "censor[0].action", "required"),
        ({"name": "a", "censor": [{"sni": "x.com", "host": "x.com", "action": "reset"}]}, "censor[0]", "exactly one"),
        ({"name": "a", "censor": [{"sni": "x.com", "action": "reset", "delay_ms": 5}]}, "censor[0].delay_ms",
         "only meaningful"),
        ({"name": "a", "censor": [{"sni": "x.com", "action": "throttle"}]}, "censor[0]", "at least one"),
        ({"name": "a", "censor": [{"sni": "x.com", "action": "throttle", "loss": 1.5}]}, "censor[0].loss",
         "fraction"),
        ({"name": "a", "censor": [{"endpoint": "1.2.3.4:53/udp", "action": "blockpage"}]}, "censor[0].action",
         "TCP stream"),
        ({"name": "a", "censor": [{"endpoint": "x.com", "action": "drop"}]}, "censor[0].endpoint", "address:port"),
        ({"name": "a", "censor": [{"endpoint": "x.com:443", "port": 1, "action": "drop"}]}, "censor[0].port",
         "unknown key"),
        ({"name": "a", "censor": [{"dns": "x.com"}]}, "censor[0]", "answer"),
        ({"name": "a", "censor": [{"dns": "x.com", "answer": ["@nowhere"]}]}, "censor[0].answer[0]",
         "unknown alias"),
        ({"name": "a", "censor": [{"shutdown": False}]}, "censor[0].shutdown", "must be true"),
        ({"name": "a", "resolver": {"add": {"x.com": ["x.org", "1.2.3.4"]}}}, "resolver.add.x.com", "CNAME"),
        ({"name": "a", "resolver": {"delete": []}}, "resolver.delete", "unknown key"),
        ({"name": "a", "resolvers_everywhere": {"add": {"x.com": ["@isp_proxy"]}}},
         "resolvers_everywhere.add.x.com[0]", "only inside an ISP"),
        ({"name": "a", "probe": {"test": "web_connectivity"}}, "probe.input", "needs an input"),
        ({"name": "a", "probe": {"test": "web_connectivity", "input": "http://a/", "network": "zz"}},
         "probe.network", "no network named"),
        ({"name": "a", "networks": [{"name": "a"}, {"name": "a"}]}, "networks", "used twice"),
        ({"name": "a", "networks": [{"name": "a", "asn": "ASX"}]}, "networks[0].asn", "AS number"),
        ({"name": "a", "timeline": [{"at": "soon", "censor": []}]}, "timeline[0].at", "duration"),
        ({"name": "a", "timeline": [{"at": 5, "network": "nope", "censor": []}]}, "timeline[0].network",
         "no network"),
        ({"name": "a", "timeline": [{"at": 5}]}, "timeline[0]", "neither"),
    ],
)
def test_errors_name_the_key(doc: dict, where: str, reason: str) -> None:
    with pytest.raises(ScenarioError) as ei:
        scenario.parse(doc, "f.yaml")
    assert where in ei.value.location, ei.value.location
    assert reason in ei.value.reason, ei.value.reason
    assert str(ei.value).startswith("f.yaml")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: a\ncensor: [\n")
    with pytest.raises(ScenarioError) as ei:
        scenario.load(p)
    assert ei.value.location.startswith(f"{p}:") and "invalid YAML" in ei.value.reason


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    for n in ("a", "b"):
        (tmp_path / f"{n}.yaml").write_text("name: same\n")
    with pytest.raises(ScenarioError, match="already used"):
        scenario.load_many([tmp_path / "a.yaml", tmp_path / "b.yaml"])
