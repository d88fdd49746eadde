"""The control server's address policy under random non-public destinations: addresses drawn from
every non-public row of the table and wrapped in every embedded-IPv4 form, sent as the probe's
endpoints and as DNS answers. Each one is refused with its kind; nothing is connected to."""

from __future__ import annotations

import ipaddress
import random
import ssl

import httpx
from controlnet import running_control
from probenet import Net

from censorwatch.model import addresses as A

ROUNDS = 8  # requests per test, 32 endpoints each (the protocol's most)
FORMS = [
    lambda v: f"::ffff:{v}",
    lambda v: str(ipaddress.IPv6Address(int(ipaddress.IPv4Address(v)))),
    lambda v: str(ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(v)) << 80))),
    lambda v: str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(ipaddress.IPv4Address(v)))),
    lambda v: str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b:1::")) | int(ipaddress.IPv4Address(v)))),
    lambda v: str(ipaddress.IPv6Address((0x20010000 << 96) | (0x08080808 << 64)
                                        | (~int(ipaddress.IPv4Address(v)) & 0xFFFFFFFF))),
    lambda v: str(ipaddress.IPv6Address(int(ipaddress.IPv6Address("2a00:1::")) | (0x5EFE << 32)
                                        | int(ipaddress.IPv4Address(v)))),
]


def non_public(rng: random.Random) -> str:
    """A random address the policy must refuse outside lab mode (never one that is public)."""
    while True:
        row = rng.choice([b for b in A.TABLE if b.decision not in (A.PUBLIC, A.EMBEDDED)])
        net = ipaddress.ip_network(row.prefix)
        addr = str(net[rng.randrange(net.num_addresses)] if net.num_addresses < 2**64
                   else ipaddress.ip_address(int(net.network_address) + rng.randrange(2**64)))
        if net.version == 4 and rng.random() < 0.6:
            addr = rng.choice(FORMS)(addr)
        if A.why_not_public(addr) is not None and A.why_not_public(addr) != "not an IP address":
            return addr


def _canon(ep: str) -> str:
    """One spelling per endpoint (``::192.0.2.1`` and ``::c000:201`` are the same address)."""
    host, _, port = ep.rpartition(":")
    return f"{ipaddress.ip_address(host.strip('[]'))}|{port}"


def _ep(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


async def test_random_non_public_endpoints_and_answers_are_all_refused(net: Net) -> None:
    rng = random.Random(20240217)
    before = dict(net.accepted)
    assert net.th_dns is not None
    async with running_control(net, lab=False) as ctl, httpx.AsyncClient(
            verify=ssl.create_default_context(cafile=str(ctl.ca_file)), timeout=60) as client:
        for i in range(ROUNDS):
            endpoints = list(dict.fromkeys(non_public(rng) for _ in range(32)))
            answers = list(dict.fromkeys(non_public(rng) for _ in range(16)))
            net.th_dns.zone[f"fuzz{i}.test"] = answers
            r = await client.post(ctl.url, json={"http_request": net.url(f"fuzz{i}.test"),
                                                 "tcp_connect": [_ep(a, net.http_port) for a in endpoints]})
            assert r.status_code == 200, r.text
            out = r.json()
            assert out["tcp_connect"] == {}, out["tcp_connect"]
            want = {_canon(_ep(a, net.http_port)): A.why_not_public(a) for a in endpoints + answers}
            assert {_canon(ep): why for ep, why in out["x_refused"].items()} == want
    assert net.accepted == before
