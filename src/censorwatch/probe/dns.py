"""DNS lookups that show what the resolver really said: rcode, NXDOMAIN, answers, raw response.

Three engines, each producing OONI ``queries[]`` entries:
- ``system``: the nameserver configured in ``/etc/resolv.conf`` (path configurable), queried
  directly over UDP instead of through ``getaddrinfo`` so rcodes and raw answers stay visible;
- ``udp``: any resolver ``ip[:port]`` over UDP (the public comparison resolver);
- ``doh``: DNS-over-HTTPS (RFC 8484 POST) through the probe's own HTTP client.
Wire format is dnspython's; the sockets are ours (asyncio datagram endpoints).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dns.message
import dns.rcode
import dns.rdatatype

from censorwatch.model import failures as F
from censorwatch.probe import errors, http, tcp
from censorwatch.probe.trace import Trace

RESOLV_CONF = Path("/etc/resolv.conf")

_RCODE_FAILURE = {
    dns.rcode.NXDOMAIN: F.DNS_NXDOMAIN,
    dns.rcode.SERVFAIL: F.DNS_SERVFAIL,
    dns.rcode.REFUSED: F.DNS_REFUSED,
}


def split_hostport(text: str, default_port: int = 53) -> tuple[str, int]:
    """``"1.2.3.4"``, ``"1.2.3.4:5353"``, ``"[::1]:53"``, ``"::1"`` -> ``(ip, port)``; ValueError if bad."""
    s = text.strip()
    if s.startswith("udp://"):
        s = s[6:]
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif s.count(":") == 1:
        host, p = s.split(":")
        port = int(p)
    else:
        host, port = s, default_port
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


def system_nameserver(path: Path = RESOLV_CONF) -> tuple[str, int]:
    """The first ``nameserver`` line of ``resolv.conf``; ValueError with the path when there is none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                return split_hostport(fields[1])
            except ValueError:
                raise ValueError(f"{path}:{lineno}: bad nameserver {fields[1]!r}") from None
    raise ValueError(f"{path}: no nameserver line")


class _Datagram(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(exc)


#: seconds after the first send at which the same query is sent again while no reply came (within
#: the step's timeout), as stub resolvers do (RFC 1035 4.2.1): one lost datagram is not a DNS failure,
#: while a censor that drops every query still times out
RESEND_AFTER: tuple[float, ...] = (1.0, 3.0)


async def _udp_exchange(wire: bytes, qid: int, server: tuple[str, int], timeout: float,
                        on_resend: Callable[[], None] | None = None) -> bytes:
    """Send one query (again at ``RESEND_AFTER``) and return the first reply with the right id
    (wrong ids are skipped, counted)."""
    loop = asyncio.get_running_loop()
    wrong = 0
    transport, proto = await loop.create_datagram_endpoint(_Datagram, remote_addr=server)
    t0 = loop.time()
    resends = [t0 + d for d in RESEND_AFTER if d < timeout]
    try:
        async with asyncio.timeout(timeout):
            transport.sendto(wire)
            while True:
                try:
                    wait = resends[0] - loop.time() if resends else None
                    item = await asyncio.wait_for(proto.queue.get(), wait)
                except TimeoutError:
                    resends.pop(0)
                    transport.sendto(wire)
                    if on_resend is not None:
                        on_resend()
                    continue
                if isinstance(item, Exception):
                    raise item
                if len(item) >= 2 and int.from_bytes(item[:2], "big") == qid:
                    return item
                wrong += 1
    except TimeoutError:
        if wrong:
            raise errors.DNSFailure(F.DNS_WRONG_QUERY_ID, f"{wrong} replies with a wrong query id") from None
        raise
    finally:
        transport.close()


_QTYPES = {"A": 1, "AAAA": 28}


def query_wire(hostname: str, qtype: str, qid: int | None = None) -> tuple[bytes, int]:
    """A recursive query for ``hostname``/``qtype`` in wire format, and its id.

    Built by hand (header, labels, type, class IN): it runs twice per URL and dnspython's builder
    costs more than the exchange itself. ValueError for names DNS cannot carry.
    """
    qid = secrets.randbits(16) if qid is None else qid
    try:
        labels = hostname.rstrip(".").encode("idna").split(b".")
    except UnicodeError:  # raised outside the handler: the failure names the host, not the codec
        labels = [b""]
    if any(not 0 < len(label) < 64 for label in labels) or sum(len(x) + 1 for x in labels) > 254:
        raise ValueError(f"{hostname!r} is not a valid host name (empty or oversized label)")
    qname = b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # RD, one question
    return header + qname + struct.pack("!HH", _QTYPES[qtype], 1), qid


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _entry(hostname: str, qtype: str, engine: str, resolver: str) -> dict[str, Any]:
    return {
        "answers": [],
        "engine": engine,
        "failure": None,
        "failure_raw": None,
        "hostname": hostname,
        "query_type": qtype,
        "raw_response": None,
        "rcode": None,
        "resolver_hostname": None,
        "resolver_port": None,
        "resolver_address": resolver,
        "t0": 0.0,
        "t": 0.0,
        "transaction_id": None,
    }


def parse_reply(entry: dict[str, Any], reply: bytes, qtype: str) -> None:
    """Fill ``entry`` from a wire reply; raise DNSFailure for error rcodes and empty answers."""
    entry["raw_response"] = base64.b64encode(reply).decode()
    msg = dns.message.from_wire(reply)
    rcode = msg.rcode()
    entry["rcode"] = int(rcode)
    answers: list[dict[str, Any]] = []
    for rrset in msg.answer:
        for rd in rrset:
            a: dict[str, Any] = {"answer_type": dns.rdatatype.to_text(rd.rdtype), "ttl": rrset.ttl,
                                 "asn": None, "as_org_name": None}
            if rd.rdtype == dns.rdatatype.A:
                a["ipv4"] = rd.address
            elif rd.rdtype == dns.rdatatype.AAAA:
                a["ipv6"] = rd.address
            elif rd.rdtype == dns.rdatatype.CNAME:
                a["hostname"] = rd.target.to_text().rstrip(".")
            else:
                continue
            answers.append(a)
    entry["answers"] = answers
    if rcode != dns.rcode.NOERROR:
        failure = _RCODE_FAILURE.get(rcode, F.DNS_SERVER_MISBEHAVING)
        raise errors.DNSFailure(failure, f"rcode {dns.rcode.to_text(rcode)}")
    if not any(a["answer_type"] == qtype for a in answers):
        raise errors.DNSFailure(F.DNS_NO_ANSWER, f"no {qtype} record in the answer")


async def query_udp(
    trace: Trace, hostname: str, qtype: str, server: tuple[str, int], *, timeout: float,
    engine: str = "udp",
) -> dict[str, Any]:
    addr = tcp.endpoint(*server)
    entry = _entry(hostname, qtype, engine, addr)
    entry["transaction_id"] = tid = trace.transaction_id()
    with trace.step("resolve", address=addr, proto="udp", tid=tid) as res:
        wire, qid = query_wire(hostname, qtype)
        trace.event("write", address=addr, num_bytes=len(wire), proto="udp", transaction_id=tid)
        reply = await _udp_exchange(wire, qid, server, timeout, lambda: trace.event(
            "write", address=addr, num_bytes=len(wire), proto="udp", transaction_id=tid))
        trace.event("read", address=addr, num_bytes=len(reply), proto="udp", transaction_id=tid)
        parse_reply(entry, reply, qtype)
    entry.update(failure=res.failure, failure_raw=res.raw, t0=res.t0, t=res.t)
    return entry


@dataclass
class DoHClient:
    url: str
    settings: http.HTTPSettings
    bootstrap: tuple[str, int] | None = None  # resolver for the DoH server's own name

    async def query(self, trace: Trace, hostname: str, qtype: str, *, timeout: float) -> dict[str, Any]:
        entry = _entry(hostname, qtype, "doh", self.url)
        entry["transaction_id"] = tid = trace.transaction_id()
        with trace.step("resolve", address=self.url, proto="doh", tid=tid) as res:
            async with asyncio.timeout(timeout):
                wire, _ = query_wire(hostname, qtype, qid=0)  # RFC 8484: id 0 for cache friendliness
                reply = await self._post(trace, wire, timeout)
            parse_reply(entry, reply, qtype)
        entry.update(failure=res.failure, failure_raw=res.raw, t0=res.t0, t=res.t)
        return entry

    async def _post(self, trace: Trace, wire: bytes, timeout: float) -> bytes:
        u = urlsplit(self.url)
        if u.scheme != "https" or not u.hostname:
            raise ValueError(f"DoH URL must be https://host/path, got {self.url!r}")
        host, port = u.hostname, u.port or 443
        if _is_ip(host):
            addrs = [host]
        else:
            if self.bootstrap is None:
                raise ValueError(f"no bootstrap resolver for the DoH host {host!r}")
            e = await query_udp(trace, host, "A", self.bootstrap, timeout=timeout)
            if e["failure"]:
                raise errors.DNSFailure(e["failure"], f"bootstrap lookup of {host}: {e['failure']}")
            addrs = [a["ipv4"] for a in e["answers"] if a.get("ipv4")]
        out = http.FetchResult()
        conn, failure, raw = await http.open_conn(trace, "https", host, port, addrs, self.settings, out)
        if conn is None:
            raise errors.DNSFailure(failure or F.GENERIC_TIMEOUT, raw or "DoH connection failed")
        try:
            path = (u.path or "/") + (f"?{u.query}" if u.query else "")
            t = self.settings.timeouts
            head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/dns-message\r\n"
                    f"Accept: application/dns-message\r\nContent-Length: {len(wire)}\r\n"
                    "Connection: close\r\n\r\n").encode()
            await conn.write(head + wire, t.http_headers)
            status = await conn.readline(t.http_headers)
            parts = status.split()
            if len(parts) < 2 or parts[1] != b"200":
                raise errors.DNSFailure(F.DNS_SERVER_MISBEHAVING, f"DoH answered {status[:60]!r}")
            resp = http.Response(200, "", [])
            while (line := await conn.readline(t.http_headers)) not in (b"\r\n", b"\n"):
                k, _, v = line.decode("latin-1").partition(":")
                resp.headers_list.append((k, v.strip()))
            await http.read_body(conn, resp, self.settings, time.monotonic() + t.http_body)
            return resp.body
        finally:
            await conn.close()


async def lookup(
    trace: Trace,
    hostname: str,
    *,
    timeout: float,
    server: tuple[str, int] | None = None,
    doh: DoHClient | None = None,
    engine: str = "system",
) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """A and AAAA in parallel: ``(queries, addresses, failure)``.

    ``failure`` is None when any address came back; else the A query's failure (NXDOMAIN wins).
    """
    async with asyncio.TaskGroup() as tg:
        if doh is not None:
            ta = tg.create_task(doh.query(trace, hostname, "A", timeout=timeout))
            tb = tg.create_task(doh.query(trace, hostname, "AAAA", timeout=timeout))
        else:
            assert server is not None
            ta = tg.create_task(query_udp(trace, hostname, "A", server, timeout=timeout, engine=engine))
            tb = tg.create_task(query_udp(trace, hostname, "AAAA", server, timeout=timeout, engine=engine))
    queries = [ta.result(), tb.result()]
    addrs: list[str] = []
    for q in queries:
        for a in q["answers"]:
            ip = a.get("ipv4") or a.get("ipv6")
            if ip and ip not in addrs:
                addrs.append(ip)
    if addrs:
        return queries, addrs, None
    failures = [q["failure"] for q in queries if q["failure"]]
    if F.DNS_NXDOMAIN in failures:
        return queries, [], F.DNS_NXDOMAIN
    return queries, [], failures[0] if failures else F.DNS_NO_ANSWER
