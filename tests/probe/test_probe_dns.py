"""DNS over UDP (system resolver from resolv.conf, public resolver) and DoH against local servers."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from probenet import HTTP_SITE, HTTPS_VALID, Net

from censorwatch.probe import dns as pdns
from censorwatch.probe import http
from censorwatch.probe.trace import Trace


def _server(addr: str) -> tuple[str, int]:
    return pdns.split_hostport(addr)


async def test_a_answer_with_raw_response_and_events(net: Net) -> None:
    trace = Trace()
    q = await pdns.query_udp(trace, "ok.test", "A", _server(net.probe_dns_addr), timeout=1.0, engine="system")
    assert q["failure"] is None and q["rcode"] == 0 and q["engine"] == "system"
    assert q["answers"] == [{"answer_type": "A", "ipv4": HTTP_SITE, "ttl": 60, "asn": None, "as_org_name": None}]
    assert q["resolver_address"] == net.probe_dns_addr
    msg = dns.message.from_wire(base64.b64decode(q["raw_response"]))
    assert msg.rcode() == dns.rcode.NOERROR and msg.answer[0][0].address == HTTP_SITE
    ops = [e["operation"] for e in trace.network_events]
    assert ops == ["resolve_start", "write", "read", "resolve_done"]
    assert trace.network_events[2]["num_bytes"] == len(base64.b64decode(q["raw_response"]))
    assert 0 <= q["t0"] <= q["t"]


@pytest.mark.parametrize("name,failure,rcode", [
    ("censored-nx.test", "dns_nxdomain_error", 3),
    ("servfail.test", "dns_servfail_error", 2),
    ("refused-dns.test", "dns_refused_error", 5),
])
async def test_error_rcodes(net: Net, name: str, failure: str, rcode: int) -> None:
    q = await pdns.query_udp(Trace(), name, "A", _server(net.probe_dns_addr), timeout=1.0)
    assert (q["failure"], q["rcode"], q["answers"]) == (failure, rcode, [])
    assert q["raw_response"] is not None  # the error answer itself is kept


async def test_timeout_wrong_id_and_garbage(net: Net) -> None:
    srv = _server(net.probe_dns_addr)
    q = await pdns.query_udp(Trace(), "dnstimeout.test", "A", srv, timeout=0.3)
    assert q["failure"] == "generic_timeout_error" and q["raw_response"] is None
    q = await pdns.query_udp(Trace(), "wrongid.test", "A", srv, timeout=0.3)
    assert q["failure"] == "dns_reply_with_wrong_query_id"
    q = await pdns.query_udp(Trace(), "garbage.test", "A", srv, timeout=1.0)
    assert q["failure"] == "dns_server_misbehaving"


async def test_lookup_combines_a_and_aaaa(net: Net) -> None:
    queries, addrs, failure = await pdns.lookup(Trace(), "ok.test", timeout=1.0, server=_server(net.probe_dns_addr))
    assert addrs == [HTTP_SITE] and failure is None
    assert [(q["query_type"], q["failure"]) for q in queries] == [("A", None), ("AAAA", "dns_no_answer")]
    queries, addrs, failure = await pdns.lookup(Trace(), "censored-nx.test", timeout=1.0,
                                                server=_server(net.probe_dns_addr))
    assert (addrs, failure) == ([], "dns_nxdomain_error")


async def test_doh_resolver(net: Net, settings: http.HTTPSettings) -> None:
    doh = pdns.DoHClient(f"https://{HTTPS_VALID}:{net.https_port}/dns-query", settings)
    # the DoH server answers from the uncensored zone
    queries, addrs, failure = await pdns.lookup(Trace(), "censored-dns.test", timeout=2.0, doh=doh)
    assert failure is None and addrs == [HTTP_SITE]
    assert queries[0]["engine"] == "doh" and queries[0]["resolver_address"].endswith("/dns-query")
    _, _, failure = await pdns.lookup(Trace(), "nx.test", timeout=2.0, doh=doh)
    assert failure == "dns_nxdomain_error"


async def test_doh_with_untrusted_certificate_fails_as_tls(net: Net, settings: http.HTTPSettings) -> None:
    doh = pdns.DoHClient(f"https://127.0.0.6:{net.https_port}/dns-query", settings)  # unknown CA
    q = await doh.query(Trace(), "ok.test", "A", timeout=2.0)
    assert q["failure"] == "ssl_unknown_authority"


def test_resolv_conf(tmp_path: Path) -> None:
    p = tmp_path / "resolv.conf"
    p.write_text("# generated\nsearch lan\nnameserver 127.0.0.53 # stub\nnameserver 10.0.0.1\n")
    assert pdns.system_nameserver(p) == ("127.0.0.53", 53)
    p.write_text("nameserver [::1]:5353\n")
    assert pdns.system_nameserver(p) == ("::1", 5353)
    p.write_text("search lan\n")
    with pytest.raises(ValueError, match=r"resolv.conf: no nameserver line"):
        pdns.system_nameserver(p)
    p.write_text("\nnameserver not-an-ip\n")
    with pytest.raises(ValueError, match=r"resolv.conf:2: bad nameserver 'not-an-ip'"):
        pdns.system_nameserver(p)
    with pytest.raises(ValueError, match="cannot read"):
        pdns.system_nameserver(tmp_path / "missing")


@pytest.mark.parametrize("name,qtype", [("ok.test", "A"), ("www.Example.ORG.", "AAAA"), ("пример.рф", "A")])
def test_query_wire_matches_dnspython(name: str, qtype: str) -> None:
    wire, qid = pdns.query_wire(name, qtype, qid=4242)
    ref = dns.message.make_query(name, qtype)
    ref.id = 4242
    assert qid == 4242 and wire == ref.to_wire()
    parsed = dns.message.from_wire(wire)
    assert parsed.flags & dns.flags.RD and parsed.question[0].rdtype == dns.rdatatype.from_text(qtype)


@pytest.mark.parametrize("name", ["a..b", "a" * 64 + ".test", ".".join(["abcdefghi"] * 30), ""])
def test_query_wire_refuses_names_dns_cannot_carry(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid host name"):
        pdns.query_wire(name, "A")


async def test_invalid_name_is_a_failure_not_a_crash(net: Net) -> None:
    q = await pdns.query_udp(Trace(), "a" * 64 + ".test", "A", _server(net.probe_dns_addr), timeout=1.0)
    assert q["failure"].startswith("unknown_failure: ValueError: ") and q["raw_response"] is None


class _Lossy:
    """A loopback DNS server that ignores the first ``drop`` copies of each query, then answers."""

    def __init__(self, drop: int) -> None:
        self.drop = drop
        self.seen: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.seen.append(data)
        if len(self.seen) <= self.drop:
            return
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        reply.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "198.18.0.7"))
        self.transport.sendto(reply.to_wire(), addr)

    def error_received(self, exc: Exception) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass


async def _lossy(drop: int) -> tuple[_Lossy, tuple[str, int]]:
    proto = _Lossy(drop)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: proto, local_addr=("127.0.0.1", 0))
    return proto, proto.transport.get_extra_info("sockname")[:2]


async def test_a_lost_query_is_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdns, "RESEND_AFTER", (0.1, 0.3))
    proto, srv = await _lossy(drop=1)
    trace = Trace()
    try:
        q = await pdns.query_udp(trace, "ok.test", "A", srv, timeout=2.0)
    finally:
        proto.transport.close()
    assert q["failure"] is None and q["answers"][0]["ipv4"] == "198.18.0.7"
    assert len(proto.seen) == 2 and proto.seen[0] == proto.seen[1]  # the same query, same id
    ops = [e["operation"] for e in trace.network_events]
    assert ops == ["resolve_start", "write", "write", "read", "resolve_done"]


async def test_a_censor_dropping_every_copy_still_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdns, "RESEND_AFTER", (0.1, 0.3))
    proto, srv = await _lossy(drop=10)
    try:
        q = await pdns.query_udp(Trace(), "ok.test", "A", srv, timeout=0.6)
    finally:
        proto.transport.close()
    assert q["failure"] == "generic_timeout_error"
    assert len(proto.seen) == 3  # sent at 0, 0.1 and 0.3 s, nothing after the timeout
