"""NFQUEUE over a raw nfnetlink socket (no libnetfilter_queue on this system): the censor's packet-level
half for UDP: ``protocol:`` rules and forged DNS answers. iptables sends candidate UDP packets to queue
0 of the censor namespace; the judge (:func:`udp_judge`) decides each one by the censor's rules, first
match wins, and the verdict is given immediately (accept/drop), later (throttle: held ``delay_ms``,
dropped with ``loss``), or with an answer: a DNS query is dropped and a forged reply is sent back to
the client from the address it asked, over a raw socket, the way on-path injectors answer.

Fail closed: the iptables rules queue without ``--queue-bypass``, so a packet nobody judges (the
daemon not started yet, or dead) is dropped, never let through; a queue that cannot be bound is an
error of the world daemon, not a warning. Each packet is decided on its own: no connection tracking
state, so a rule change holds from the next packet of every flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from censorwatch.lab import netns

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_PAYLOAD = 1, 2, 10
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_PACKET = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NF_DROP, NF_ACCEPT = 0, 1
QUEUE = 0


def _attr(kind: int, data: bytes) -> bytes:
    a = struct.pack("=HH", 4 + len(data), kind) + data
    return a + b"\0" * (-len(a) % 4)


def _msg(msg_type: int, queue: int, attrs: bytes, seq: int, flags: int = NLM_F_REQUEST) -> bytes:
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0) + body


def _attrs(buf: bytes) -> dict[int, bytes]:
    out, p = {}, 0
    while p + 4 <= len(buf):
        length, kind = struct.unpack_from("=HH", buf, p)
        if length < 4:
            break
        out[kind & 0x7FFF] = buf[p + 4:p + length]
        p += (length + 3) & ~3
    return out


def parse_packets(data: bytes) -> list[tuple[int, bytes]]:
    """(packet id, IP packet) for every NFQNL_MSG_PACKET in one netlink read."""
    out, p = [], 0
    while p + 16 <= len(data):
        length, mtype, _flags, _seq, _pid = struct.unpack_from("=IHHII", data, p)
        if length < 16:
            break
        if mtype == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            attrs = _attrs(data[p + 20:p + length])
            if NFQA_PACKET_HDR in attrs and NFQA_PAYLOAD in attrs:
                (pid,) = struct.unpack_from("!I", attrs[NFQA_PACKET_HDR])
                out.append((pid, attrs[NFQA_PAYLOAD]))
        p += (length + 3) & ~3
    return out


class Datagram(NamedTuple):
    src: str
    sport: int
    dst: str
    dport: int
    payload: bytes
    packet: bytes  # the whole IP packet



def udp_of(packet: bytes) -> Datagram | None:
    """The addresses, ports and payload of an IPv4 UDP packet."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 17:
        return None
    ihl = (packet[0] & 0x0F) * 4
    if len(packet) < ihl + 8:
        return None
    sport, dport = struct.unpack_from("!HH", packet, ihl)
    return Datagram(socket.inet_ntoa(packet[12:16]), sport, socket.inet_ntoa(packet[16:20]), dport,
                    packet[ihl + 8:], packet)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def reply_packet(to: Datagram, payload: bytes) -> bytes:
    """An IPv4 UDP packet answering ``to``: from its destination address and port, to its source.
    The kernel fills in the IP header's checksum and id (IP_HDRINCL)."""
    src, dst = socket.inet_aton(to.dst), socket.inet_aton(to.src)
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!BBH", 0, 17, length)
    udp = struct.pack("!HHHH", to.dport, to.sport, length, 0) + payload
    csum = _checksum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", csum) + udp[8:]
    return _ip(17, src, dst, udp)


def port_unreachable(to: Datagram) -> bytes:
    """The ICMP port unreachable a closed port (or iptables' REJECT) answers ``to`` with."""
    ihl = (to.packet[0] & 0x0F) * 4
    body = to.packet[:ihl + 8]
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + body
    icmp = icmp[:2] + struct.pack("!H", _checksum(icmp)) + icmp[4:]
    return _ip(1, socket.inet_aton(to.dst), socket.inet_aton(to.src), icmp)


def _ip(proto: int, src: bytes, dst: bytes, body: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 64, proto, 0, src, dst) + body


def question_name(payload: bytes) -> str | None:
    """The first question's name of a DNS message, lower-case, without the final dot."""
    labels: list[str] = []
    pos = 12
    while pos < len(payload):
        n = payload[pos]
        if n == 0:
            return ".".join(labels).lower() if labels and len(payload) >= 12 else None
        if n & 0xC0 or pos + 1 + n > len(payload):
            return None
        labels.append(payload[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    return None


#: a judge's decision: (NF_ACCEPT | NF_DROP, seconds to hold the verdict, an IP packet to answer with)
Decision = tuple[int, float, bytes | None]
Judge = Callable[[Datagram], Decision]
PASS: Decision = (NF_ACCEPT, 0.0, None)
DROP: Decision = (NF_DROP, 0.0, None)


class Queue:
    """One bound queue in one namespace; ``judge(datagram) -> Decision`` decides each packet."""

    def __init__(self, ns: str, judge: Judge) -> None:
        self.judge = judge
        self.seq = 0
        with netns.netns(ns):
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
            self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.sock.bind((0, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._config(_attr(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, socket.htons(socket.AF_INET))))
        self._config(_attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0xFFFF, NFQNL_COPY_PACKET)))
        self.sock.setblocking(False)

    def _config(self, attrs: bytes) -> None:
        self.seq += 1
        self.sock.send(_msg(NFQNL_MSG_CONFIG, QUEUE, attrs, self.seq, NLM_F_REQUEST | NLM_F_ACK))
        self.sock.settimeout(2.0)
        reply = self.sock.recv(65536)
        if len(reply) >= 20 and struct.unpack_from("=H", reply, 4)[0] == NLMSG_ERROR:
            (err,) = struct.unpack_from("=i", reply, 16)
            if err != 0:
                raise OSError(-err, f"nfqueue config failed: {socket.errno.errorcode.get(-err, err)}")  # type: ignore[attr-defined]

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.add_reader(self.sock.fileno(), self._readable, loop)

    def _readable(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            data = self.sock.recv(1 << 17)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # ENOBUFS: the kernel could not queue some packets and dropped them
            return
        for pid, packet in parse_packets(data):
            d = udp_of(packet)
            try:
                verdict, delay, answer = self.judge(d) if d is not None else PASS
            except Exception as exc:  # a packet must get a verdict: undecided is dropped, and said
                print(f"packet judge failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                verdict, delay, answer = DROP
            if answer is not None and d is not None:
                with contextlib.suppress(OSError):
                    self.raw.sendto(answer, (d.src, 0))
            if delay > 0:
                loop.call_later(delay, self.verdict, pid, verdict)
            else:
                self.verdict(pid, verdict)

    def verdict(self, pid: int, verdict: int) -> None:
        self.seq += 1
        msg = _msg(NFQNL_MSG_VERDICT, QUEUE, _attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, pid)), self.seq)
        with contextlib.suppress(OSError):
            self.sock.send(msg)

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_reader(self.sock.fileno())
        self.sock.close()
        self.raw.close()


def udp_judge(get_rules: Callable[[], list[dict[str, Any]]], rng: random.Random,
              matches: Callable[[str, bytes, str], bool],
              forge: Callable[[bytes, list[str]], bytes | None]) -> Judge:
    """First match over the censor's rules for one UDP datagram, the same order iptables uses (a
    queued packet's verdict ends its way through the chain, so every rule that can apply to UDP is
    evaluated here): ``shutdown`` drops, ``dns`` drops the query or answers it with ``forge(query,
    addresses)``, ``endpoint``/udp and ``protocol`` act; TCP-only rules are skipped."""
    def judge(d: Datagram) -> Decision:
        qname: str | None = None
        for r in get_rules():
            m = r["matcher"]
            if m == "shutdown":
                return DROP
            if m == "dns":
                if d.dport != 53:
                    continue
                qname = qname or question_name(d.payload)
                if qname is None or qname not in r["names"]:
                    continue
                if r.get("action") == "drop":
                    return DROP
                forged = forge(d.payload, r["addrs"])
                return NF_DROP, 0.0, reply_packet(d, forged) if forged is not None else None
            hit = (m == "endpoint" and r.get("proto") == "udp" and d.dst in r["addrs"] and r["port"] == d.dport) or (
                m == "protocol" and (not r.get("port") or r["port"] == d.dport) and matches(r["target"], d.payload, "udp"))
            if not hit:
                continue
            if r["action"] == "throttle":
                if r.get("loss") and rng.random() < r["loss"]:
                    return DROP
                return NF_ACCEPT, r.get("delay_ms", 0) / 1000.0, None
            if m == "endpoint" and r["action"] in ("reset", "refuse"):
                return NF_DROP, 0.0, port_unreachable(d)  # as iptables' REJECT for UDP endpoints
            return DROP  # drop, and for protocol rules also reset/refuse/close/blockpage
        return PASS
    return judge
