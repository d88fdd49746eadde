"""Pure parts: resolver zones (changes, aliases, CNAME chasing, wildcards) and NFQUEUE message parsing."""

from __future__ import annotations

import random
import socket
import struct

import dns.message
import dns.rcode

from censorwatch.lab import addresses as A
from censorwatch.lab import dnszone, nfqueue, scenario
from censorwatch.lab.world import DEFAULT_WORLD


def ask(zone: dnszone.Zone, name: str, rdtype: str = "A") -> tuple[str, list[str]]:
    r = dnszone.answer(zone, dns.message.make_query(name, rdtype))
    return dns.rcode.to_text(r.rcode()), [rd.to_text() for rr in r.answer for rd in rr]


def test_zone_changes_per_resolver() -> None:
    sc = scenario.parse({"name": "z", "resolvers_everywhere": {"remove": ["www.example.org"]},
                         "resolver": {"remove": ["x.com", "*.bench.test"],
                                      "add": {"www.example.com": ["@isp_proxy"], "twitter.com": ["t.co"],
                                              "new.test": ["10.1.2.3", "@blockpage"]}}})
    net = sc.networks[0]
    isp = dnszone.effective_zone(DEFAULT_WORLD, sc.resolvers_everywhere, net.resolver, 4)
    public = dnszone.effective_zone(DEFAULT_WORLD, sc.resolvers_everywhere, None, None)
    assert ask(isp, "www.example.com") == ("NOERROR", [A.isp_proxy(4)])
    assert ask(public, "www.example.com") == ("NOERROR", ["198.18.1.1"])
    assert ask(isp, "x.com")[0] == "NXDOMAIN" and ask(public, "x.com")[0] == "NOERROR"
    assert ask(isp, "www.example.org")[0] == "NXDOMAIN" and ask(public, "www.example.org")[0] == "NXDOMAIN"
    assert ask(isp, "twitter.com") == ("NOERROR", ["t.co.", "198.18.2.4"])  # CNAME, then its A record
    assert ask(isp, "new.test") == ("NOERROR", ["10.1.2.3", A.BLOCKPAGE])
    assert ask(isp, "a.bench.test")[0] == "NXDOMAIN" and ask(public, "a.bench.test")[1] == [A.BENCH]
    assert ask(public, "www.example.com", "AAAA") == ("NOERROR", [])  # NODATA, not NXDOMAIN
    assert ask(public, "nowhere.invalid")[0] == "NXDOMAIN"


def test_spoofed_answers() -> None:
    q = dns.message.make_query("x.com", "A")
    assert dns.rcode.to_text(dnszone.spoof(q, []).rcode()) == "NXDOMAIN"
    assert [rd.to_text() for rr in dnszone.spoof(q, [A.BLOCKPAGE]).answer for rd in rr] == [A.BLOCKPAGE]


def _nfq_packet(pid: int, payload: bytes) -> bytes:
    attrs = nfqueue._attr(nfqueue.NFQA_PACKET_HDR, struct.pack("!IHB", pid, 0x0800, 1))
    attrs += nfqueue._attr(nfqueue.NFQA_PAYLOAD, payload)
    return nfqueue._msg(nfqueue.NFQNL_MSG_PACKET, 0, attrs, 7)


def _udp(dst: str, dport: int, data: bytes) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(data), 0, 0, 64, 17, 0,
                     socket.inet_aton("198.19.0.2"), socket.inet_aton(dst))
    return ip + struct.pack("!HHHH", 40000, dport, 8 + len(data), 0) + data


def test_netlink_packets_are_parsed() -> None:
    pkt = _udp("198.18.5.1", 51820, b"\x01\x00\x00\x00" + bytes(144))
    data = _nfq_packet(41, pkt) + _nfq_packet(42, b"\x45")
    assert nfqueue.parse_packets(data) == [(41, pkt), (42, b"\x45")]
    assert nfqueue.udp_of(pkt) == ("198.19.0.2", 40000, "198.18.5.1", 51820, b"\x01\x00\x00\x00" + bytes(144), pkt)
    assert nfqueue.udp_of(b"\x45") is None


def _judge(rules: list[dict]) -> nfqueue.Judge:
    def fake_matches(name: str, payload: bytes, transport: str) -> bool:
        return name == "wireguard" and payload[:1] == b"\x01" and transport == "udp"

    def forge(query: bytes, addrs: list[str]) -> bytes:
        return dnszone.spoof(dns.message.from_wire(query), addrs).to_wire()

    return nfqueue.udp_judge(lambda: rules, random.Random(0), fake_matches, forge)


def _decide(judge: nfqueue.Judge, dst: str, dport: int, data: bytes) -> nfqueue.Decision:
    d = nfqueue.udp_of(_udp(dst, dport, data))
    assert d is not None
    return judge(d)


def test_udp_judge_first_match() -> None:
    rules = [{"matcher": "endpoint", "proto": "udp", "addrs": ["198.18.0.53"], "port": 53, "action": "drop"},
             {"matcher": "protocol", "target": "wireguard", "port": None, "action": "throttle", "delay_ms": 250,
              "loss": 0.0},
             {"matcher": "shutdown"}]
    judge = _judge(rules)
    assert _decide(judge, "198.18.0.53", 53, b"q") == nfqueue.DROP
    assert _decide(judge, "198.18.5.1", 51820, b"\x01abc") == (nfqueue.NF_ACCEPT, 0.25, None)
    assert _decide(judge, "198.18.1.1", 9, b"\x02abc") == nfqueue.DROP  # reaches shutdown
    rules.pop()
    assert _decide(judge, "198.18.1.1", 9, b"\x02abc") == nfqueue.PASS


def test_udp_judge_forges_dns_answers_after_a_protocol_rule() -> None:
    """A queued packet's verdict ends its way through the iptables chain, so the judge must apply the
    dns rules listed after a protocol rule itself: the forged answer goes back from the resolver."""
    rules = [{"matcher": "protocol", "target": "wireguard", "port": None, "action": "drop"},
             {"matcher": "dns", "names": ["x.com"], "addrs": [A.BLOCKPAGE], "action": None},
             {"matcher": "dns", "names": ["t.co"], "action": "drop"},
             {"matcher": "endpoint", "proto": "udp", "addrs": ["198.18.1.1"], "port": 9, "action": "refuse"}]
    judge = _judge(rules)
    query = dns.message.make_query("X.com", "A")
    verdict, delay, answer = _decide(judge, "198.18.0.53", 53, query.to_wire())
    assert (verdict, delay) == (nfqueue.NF_DROP, 0.0) and answer is not None
    reply = nfqueue.udp_of(answer)  # from the resolver's address and port, to the asking client
    assert reply is not None and (reply.src, reply.sport, reply.dst, reply.dport) == ("198.18.0.53", 53, "198.19.0.2", 40000)
    pseudo = socket.inet_aton(reply.src) + socket.inet_aton(reply.dst) + struct.pack("!BBH", 0, 17, len(answer) - 20)
    assert nfqueue._checksum(pseudo + answer[20:]) == 0  # a valid UDP checksum
    forged = dns.message.from_wire(reply.payload)
    assert forged.id == query.id and [r.address for rr in forged.answer for r in rr] == [A.BLOCKPAGE]
    assert _decide(judge, "198.18.0.53", 53, dns.message.make_query("t.co", "A").to_wire()) == nfqueue.DROP
    assert _decide(judge, "198.18.0.53", 53, dns.message.make_query("x.org", "A").to_wire()) == nfqueue.PASS
    verdict, _, icmp = _decide(judge, "198.18.1.1", 9, b"hello")
    assert verdict == nfqueue.NF_DROP and icmp is not None and icmp[9] == 1 and icmp[20:22] == b"\x03\x03"
