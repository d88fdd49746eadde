"""NFQUEUE over a raw nfnetlink socket (no libnetfilter_queue on this system): the censor's packet-level
half for UDP ``protocol:`` rules. iptables sends candidate UDP packets to queue 0 of the censor
namespace; :class:`PacketJudge` classifies each with ``censorwatch.lab.protocols`` and returns a
verdict, immediately (accept/drop) or later (throttle: held ``delay_ms``, dropped with ``loss``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Callable
from typing import Any

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


def udp_of(packet: bytes) -> tuple[str, int, bytes] | None:
    """(destination, destination port, UDP payload) of an IPv4 UDP packet."""
    if len(packet) < 28 or packet[0] >> 4 != 4 or packet[9] != 17:
        return None
    ihl = (packet[0] & 0x0F) * 4
    dport = struct.unpack_from("!H", packet, ihl + 2)[0]
    return socket.inet_ntoa(packet[16:20]), dport, packet[ihl + 8:]


class Queue:
    """One bound queue in one namespace; ``judge(packet) -> (verdict, delay)`` decides."""

    def __init__(self, ns: str, judge: Callable[[bytes], tuple[int, float]]) -> None:
        self.judge = judge
        self.seq = 0
        with netns.netns(ns):
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
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
        except OSError:  # ENOBUFS: the kernel dropped messages; fail-open thanks to --queue-bypass
            return
        for pid, packet in parse_packets(data):
            verdict, delay = self.judge(packet)
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


def udp_judge(get_rules: Callable[[], list[dict[str, Any]]], rng: random.Random,
              matches: Callable[[str, bytes, str], bool]) -> Callable[[bytes], tuple[int, float]]:
    """First match over the censor's rules for one UDP packet: endpoint/udp and protocol rules act,
    ``dns`` rules for the question let it pass (their own iptables entries decide), others skip."""
    def judge(packet: bytes) -> tuple[int, float]:
        u = udp_of(packet)
        if u is None:
            return NF_ACCEPT, 0.0
        dst, dport, payload = u
        for r in get_rules():
            m = r["matcher"]
            if m == "shutdown":
                return NF_DROP, 0.0
            hit = (m == "endpoint" and r.get("proto") == "udp" and dst in r["addrs"] and r["port"] == dport) or (
                m == "protocol" and (not r.get("port") or r["port"] == dport) and matches(r["target"], payload, "udp"))
            if not hit:
                continue
            if r["action"] == "throttle":
                if r.get("loss") and rng.random() < r["loss"]:
                    return NF_DROP, 0.0
                return NF_ACCEPT, r.get("delay_ms", 0) / 1000.0
            return NF_DROP, 0.0  # drop, and for datagrams also reset/refuse/close/blockpage
        return NF_ACCEPT, 0.0
    return judge
