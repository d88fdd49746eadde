"""Pure parts of the censor: SNI/Host parsing of real client bytes, first-match, compiled iptables."""

from __future__ import annotations

import contextlib
import ssl

from censorwatch.lab import censor, scenario
from censorwatch.lab.world import DEFAULT_WORLD


def client_hello(name: str) -> bytes:
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=name)
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def rules(*docs: dict) -> list[dict]:
    sc = scenario.parse({"name": "t", "censor": list(docs)})
    return censor.compile_rules(sc.networks[0].censor, DEFAULT_WORLD, 0, "if0").proxy_rules


def test_sni_of_a_real_client_hello() -> None:
    assert censor.parse_sni(client_hello("www.example.com")) == "www.example.com"
    assert censor.parse_sni(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n") is None
    assert censor.parse_sni(client_hello("x.com")[:30]) is None


def test_host_header() -> None:
    assert censor.parse_host(b"GET / HTTP/1.1\r\nhOsT: WWW.Example.ORG:80\r\n\r\n") == "www.example.org"
    assert censor.parse_host(b"\x16\x03\x01garbage") is None


def test_first_match_wins() -> None:
    rs = rules({"sni": "x.com", "action": "throttle", "delay_ms": 5}, {"sni": "x.com", "action": "reset"},
               {"endpoint": "www.example.com:443", "action": "close"})
    assert censor.match(rs, "198.18.2.1", 443, client_hello("x.com"))["action"] == "throttle"
    assert censor.match(rs, "198.18.1.1", 443, client_hello("www.example.com"))["action"] == "close"
    assert censor.match(rs, "198.18.1.1", 80, b"GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n") is None
    # an SNI that merely contains the blocked name does not match
    assert censor.match(rs, "198.18.2.3", 443, client_hello("api.x.com")) is None


def test_port_restricts_sni_and_host_rules() -> None:
    rs = rules({"host": "www.example.org", "port": 8080, "action": "blockpage"})
    req = b"GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n"
    assert censor.match(rs, "198.18.1.2", 80, req) is None
    assert censor.match(rs, "198.18.1.2", 8080, req)["action"] == "blockpage"


def test_compiled_iptables() -> None:
    sc = scenario.parse({"name": "t", "censor": [
        {"dns": "x.com", "answer": ["@blockpage"]},
        {"sni": "x.com", "action": "reset"},
        {"endpoint": "www.example.com:443", "action": "refuse"},
        {"host": "www.example.org", "action": "blockpage"},
        {"shutdown": True},
    ]})
    c = censor.compile_rules(sc.networks[0].censor, DEFAULT_WORLD, 3, "cwabcdei3b")
    text = c.iptables
    wire = "|01 78 03 63 6f 6d 00|"  # x.com in DNS wire format, anchored right after the DNS header
    assert f"--from 40 --to 47 --hex-string \"{wire}\" -j NFQUEUE --queue-num 0\n" in text  # judged, no NAT
    assert "DNAT" not in text and "--queue-bypass" not in text  # per packet, and fail closed
    assert "|00 00 05 78 2e 63 6f 6d|" in text and "-j REJECT --reject-with tcp-reset" in text
    assert "--ctorigdst 198.18.1.1 --ctorigdstport 443 --syn -j REJECT" in text
    assert f"-j REDIRECT --to-ports {censor.PROXY_PORT}" in text
    assert text.index("--syn -j REJECT") < text.index("-A CW -j DROP")
    dns_rule = c.proxy_rules[0]  # what the packet judge answers with
    assert (dns_rule["matcher"], dns_rule["names"], dns_rule["addrs"]) == ("dns", ["x.com"], ["198.18.66.66"])
    assert c.queues


def test_scenarios_are_checked_against_the_world() -> None:
    import pytest

    from censorwatch.lab.errors import ScenarioError

    sc = scenario.parse({"name": "w", "networks": [
        {"name": "a"}, {"name": "b", "censor": [{"endpoint": "nowhere.test:443", "action": "drop"}]}]}, "w.yaml")
    with pytest.raises(ScenarioError) as ei:
        censor.check_scenario(sc, DEFAULT_WORLD)
    assert ei.value.location == "w.yaml: networks[1].censor[0].endpoint"
    assert "not a host of the world" in ei.value.reason
    ok = scenario.parse({"name": "w", "censor": [{"endpoint": "@badssl:443", "action": "drop"},
                                                {"dns": "x.com", "answer": ["www.example.org"]}]}, "ok.yaml")
    censor.check_scenario(ok, DEFAULT_WORLD)
