"""The families of the non-web tests: every OONI test name claimed once, every rule documented and
exercised, each verdict stamped with its family's version, and odd test keys never crash a rule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from msmt_builder import run

from censorwatch.analysis.experiments import CLASSIFIERS, FAMILIES, FAMILY_OF_TEST, by_test
from censorwatch.analysis.registry import Family

ROOT = Path(__file__).resolve().parents[2]
#: every test OONI Probe runs today (probe-cli's registry) and every older one in OONI's spec and
#: archive that has results to judge; web_connectivity belongs to its own module.
OONI_TESTS = (
    "dash", "dnscheck", "dnsping", "echcheck", "example", "facebook_messenger", "http_header_field_manipulation",
    "http_invalid_request_line", "http_host_header", "ndt", "openvpn", "portfiltering", "psiphon", "quicping",
    "riseupvpn", "signal", "simplequicping", "sni_blocking", "stunreachability", "tcpping", "telegram",
    "tlsmiddlebox", "tlsping", "tlstool", "tor", "torsf", "urlgetter", "vanilla_tor", "whatsapp",
    # older tests (ooni/spec nettests, the YAML era)
    "dns_consistency", "http_requests", "http_host", "tcp_connect", "multi_protocol_traceroute",
    "bridge_reachability", "dns_injection", "meek_fronted_requests_test", "openvpn_client_test",
    "lantern_circumvention_tool_test", "captive_portal", "browser_web", "dns_n_http",
    # the list, other spellings and research tests
    "stun_reachability", "doh", "ddr", "shadowsocks",
)


def test_no_test_name_is_claimed_twice() -> None:
    assert by_test(FAMILIES) == FAMILY_OF_TEST
    twin = Family(name="twin", tests=("tor",), version="x", rules={}, classify=FAMILIES[0].classify)
    with pytest.raises(ValueError, match="'tor' is claimed by both"):
        by_test([*FAMILIES, twin])


@pytest.mark.parametrize("name", OONI_TESTS)
def test_every_ooni_test_has_rules(name: str) -> None:
    assert name in CLASSIFIERS
    v = run(name, {"failure": None})
    assert v.rule != "unknown_test"


def test_family_names_and_versions_are_unique_and_namespaced() -> None:
    names = [f.name for f in FAMILIES]
    assert len(names) == len(set(names))
    for f in FAMILIES:
        assert f.version.startswith(f.name + "-"), f.version
        assert all(r.startswith(f.name + ".") for r in f.rules), f.name
        assert f.summary and f.tests


def test_every_family_rule_is_documented_and_exercised() -> None:
    doc = (ROOT / "docs" / "classification.md").read_text(encoding="utf-8")
    tests = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests" / "analysis").glob("test_*.py"))
    for f in FAMILIES:
        for rule in f.rules:
            assert f"`{rule}`" in doc, f"{rule} missing from docs/classification.md"
            assert f'"{rule}"' in tests or f"'{rule}'" in tests, f"no test names {rule}"


def test_every_rule_id_written_in_a_family_module_is_declared() -> None:
    src = ROOT / "src" / "censorwatch" / "analysis" / "experiments"
    declared = {r for f in FAMILIES for r in f.rules}
    used: set[str] = set()
    for path in src.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'make_verdict\(\s*m,\s*"[a-z]+",\s*"([a-z_]+\.[a-z_]+)"', text))
        used |= set(re.findall(r'_v\(m,\s*"([a-z_]+\.[a-z_]+)"', text))
    assert len(used) > 80 and not (used - declared), used - declared


ODD_KEYS: list[Any] = [
    None, {},
    {"queries": "x", "requests": [1, None, {"response": "x"}], "tcp_connect": {"a": 1}, "targets": 5, "sent": [1],
     "received": "x", "lookups": [], "control": [], "tls_handshakes": [{"address": 7}], "pings": [1, {"query": 3}],
     "summary": [], "simple": "x", "iterative_trace": [None, {"target_trace": 5}], "target": {"failure": 5},
     "experiment": {"vanilla": 1}, "test_icmp_traceroute": 3, "openvpn_handshake": [None]},
    {"queries": [{"answers": [{"ipv4": 5}, "x"]}], "control": {"dns": {"addrs": [1, None]}, "tcp_connect": [],
     "http_request": {"status_code": "200", "headers": []}}, "requests": [{"request": "x", "response": {"body": 5}}],
     "failure": False, "success": "yes", "connection": 7, "error": 3},
]


@pytest.mark.parametrize("test", sorted(FAMILY_OF_TEST))
@pytest.mark.parametrize("tk", range(len(ODD_KEYS)))
def test_odd_keys_give_a_verdict_not_an_internal_error(test: str, tk: int) -> None:
    v = run(test, ODD_KEYS[tk], input="http://x.org/")
    assert v.rule != "classify_error", v.explanation
    assert v.explanation.endswith(".") and "\n" not in v.explanation
    fam = FAMILY_OF_TEST[test]
    if v.rule in fam.rules:
        assert v.rules_version == fam.version


@pytest.mark.parametrize("name", sorted(FAMILY_OF_TEST))
def test_only_performance_and_diagnostics_say_measured(name: str) -> None:
    fam = FAMILY_OF_TEST[name]
    for tk in ODD_KEYS[2:]:
        v = run(name, tk, input="http://x.org/")
        if v.status == "measured":
            assert fam.name in ("ndt", "dash", "diagnostics"), name
