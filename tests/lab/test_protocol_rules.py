"""``protocol:`` rules: classification by censorwatch.lab.protocols, UDP packets judged through NFQUEUE
(a raw nfnetlink socket), TCP streams through the proxy; checked with real packets."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dns.exception
import pytest
from labclient import client_for

from censorwatch.lab import addresses as A
from censorwatch.lab import scenario
from censorwatch.lab.instance import LabInstance

pytestmark = pytest.mark.lab

WORLD = {
    "name": "protocols",
    "networks": [
        {"name": "nodns", "censor": [{"protocol": "dns", "action": "drop"}]},
        {"name": "slowdns", "censor": [{"protocol": "dns", "port": 53, "action": "throttle", "delay_ms": 400}]},
        {"name": "nohttp", "censor": [{"protocol": "http", "action": "reset"}]},
        {"name": "open"},
    ],
}


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInstance]:
    with LabInstance(scenario.parse(WORLD, "protocols"), control=False) as inst:
        yield inst


def test_udp_protocol_drop(lab: LabInstance) -> None:
    with pytest.raises(dns.exception.Timeout):
        client_for(lab, "nodns").query(A.PUBLIC_RESOLVERS[0], "www.example.com", timeout=1.0)
    assert client_for(lab, "open").a(A.PUBLIC_RESOLVERS[0], "www.example.com")[0] == "NOERROR"


def test_udp_protocol_throttle_delays_packets(lab: LabInstance) -> None:
    t0 = time.monotonic()
    assert client_for(lab, "slowdns").a(A.PUBLIC_RESOLVERS[0], "www.example.com")[0] == "NOERROR"
    assert time.monotonic() - t0 >= 0.38


def test_tcp_protocol_through_the_proxy(lab: LabInstance) -> None:
    cl = client_for(lab, "nohttp")
    with pytest.raises(ConnectionResetError):
        cl.get("198.18.1.2", "www.example.org")
    assert cl.tls("198.18.1.1", "www.example.com").version() is not None  # TLS is not "http"


def test_unknown_protocol_is_refused_when_building() -> None:
    from censorwatch.lab.errors import ScenarioError

    sc = scenario.parse({"name": "p", "censor": [{"protocol": "pigeon", "action": "drop"}]}, "p.yaml")
    with pytest.raises(ScenarioError, match="unknown protocol 'pigeon'"):
        LabInstance(sc, control=False).up()
