"""Observation records: one typed row per network step inside an OONI ``test_keys``.

Parsing is tolerant by design: the archive holds a decade of probe versions, so every field is
optional, wrong types are coerced or dropped, and nothing here raises on odd input. Bodies may be a
string or ``{"format": "base64", "data": ...}``; both decode to text (``body``) plus the exact byte
length (``body_length``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from censorwatch.model import failures
from censorwatch.model.columns import Column


def _str(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    return str(v)


def _float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    return None


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v)
    return None


_FAILURES: dict[str, str | None] = {}
_MISS = object()


def _failure(v: Any) -> str | None:
    """``failures.normalize`` with a cache: a few dozen distinct strings cover the whole archive."""
    if v is None:
        return None
    if type(v) is str:
        hit = _FAILURES.get(v, _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        if len(_FAILURES) < 10_000:
            _FAILURES[v] = failures.normalize(v)
            return _FAILURES[v]
    return failures.normalize(v)


def decode_body(raw: Any) -> tuple[str | None, int | None]:
    """Return ``(text, byte_length)`` for a recorded body (string, base64 object, or junk)."""
    if raw is None:
        return None, None
    if isinstance(raw, str):
        if raw.isascii():  # O(1) in CPython (a flag on the string): no need to encode to count bytes
            return raw, len(raw)
        try:
            return raw, len(raw.encode("utf-8", "surrogatepass"))
        except UnicodeEncodeError:  # pragma: no cover - lone surrogates from odd JSON
            return raw, len(raw)
    if isinstance(raw, dict):
        data = raw.get("data")
        if raw.get("format") == "base64" and isinstance(data, str):
            try:
                b = base64.b64decode(data, validate=False)
            except (binascii.Error, ValueError):
                return None, None
            return b.decode("utf-8", "replace"), len(b)
        if isinstance(data, str):
            return data, len(data.encode("utf-8", "replace"))
    return None, None


def decode_text(raw: Any) -> str | None:
    """Header values may also be base64 objects in the archive; flatten them to text."""
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, list):
        return ", ".join(t for t in (decode_text(x) for x in raw) if t is not None)
    text, _ = decode_body(raw)
    return text if text is not None else str(raw)


_TAGS: dict[str, tuple[int | None, bool | None]] = {}


def parse_tags(raw: Any) -> tuple[int | None, bool | None]:
    """``(depth, fetch_body)`` from OONI's step tags (``depth=1``, ``fetch_body=true``); None when absent.

    Web Connectivity 0.5 tags each step with the redirect depth it belongs to (0 = the URL itself) and
    whether the connection was meant to fetch the page (``fetch_body=false``: a connectivity check).
    A few dozen distinct tag lists cover a corpus: each is read once.
    """
    if type(raw) is not list or not raw:
        return None, None
    try:
        key = "\x1f".join(raw)
    except TypeError:  # a tag that is not a string
        return _read_tags(raw)
    hit = _TAGS.get(key)
    if hit is None:
        hit = _read_tags(raw)
        if len(_TAGS) < 4096:
            _TAGS[key] = hit
    return hit


def _read_tags(raw: list[Any]) -> tuple[int | None, bool | None]:
    depth: int | None = None
    fetch: bool | None = None
    for tag in raw:
        if type(tag) is not str:
            continue
        if tag.startswith("depth="):
            value = tag[6:]
            if value.isdigit():
                depth = int(value)
        elif tag.startswith("fetch_body="):
            fetch = tag == "fetch_body=true"
    return depth, fetch


@dataclass(slots=True)
class DNSAnswer:
    answer_type: str | None = None
    ipv4: str | None = None
    ipv6: str | None = None
    hostname: str | None = None
    asn: int | None = None
    as_org_name: str | None = None
    ttl: int | None = None

    @property
    def address(self) -> str | None:
        return self.ipv4 or self.ipv6

    @classmethod
    def from_raw(cls, d: Any) -> DNSAnswer | None:
        if not isinstance(d, dict):
            return None
        g = d.get
        at, v4, v6, host, asn, org, ttl = (g("answer_type"), g("ipv4"), g("ipv6"), g("hostname"), g("asn"),
                                          g("as_org_name"), g("ttl"))
        return cls(
            answer_type=at if at is None or type(at) is str else str(at),
            ipv4=v4 if v4 is None or type(v4) is str else str(v4),
            ipv6=v6 if v6 is None or type(v6) is str else str(v6),
            hostname=host if host is None or type(host) is str else str(host),
            asn=asn if asn is None or type(asn) is int else _int(asn),
            as_org_name=org if org is None or type(org) is str else str(org),
            ttl=ttl if ttl is None or type(ttl) is int else _int(ttl),
        )


@dataclass(slots=True)
class DNSQuery:
    hostname: str | None = None
    query_type: str | None = None
    engine: str | None = None
    resolver_address: str | None = None
    failure: str | None = None
    answers: list[DNSAnswer] = field(default_factory=list)
    rcode: int | None = None
    raw_response: str | None = None
    t0: float | None = None
    t: float | None = None
    transaction_id: int | None = None
    depth: int | None = None

    @property
    def addresses(self) -> list[str]:
        return [a.address for a in self.answers if a.address and a.answer_type in (None, "A", "AAAA")]

    @classmethod
    def from_raw(cls, d: Any) -> DNSQuery | None:
        if not isinstance(d, dict):
            return None
        g = d.get
        answers_raw = g("answers")
        answers: list[DNSAnswer] = []
        if type(answers_raw) is list:
            parse = DNSAnswer.from_raw
            for a in answers_raw:
                ans = parse(a)
                if ans is not None:
                    answers.append(ans)
        failure, t0, t, tags = g("failure"), g("t0"), g("t"), g("tags")
        host, qtype, engine, resolver = (g("hostname"), g("query_type"), g("engine"),
                                         g("resolver_address") or g("resolver_hostname"))
        rcode, raw, tid = g("rcode"), g("raw_response"), g("transaction_id")
        return cls(
            hostname=host if host is None or type(host) is str else str(host),
            query_type=qtype if qtype is None or type(qtype) is str else str(qtype),
            engine=engine if engine is None or type(engine) is str else str(engine),
            resolver_address=resolver if resolver is None or type(resolver) is str else str(resolver),
            failure=None if failure is None else _failure(failure),
            answers=answers,
            rcode=rcode if rcode is None or type(rcode) is int else _int(rcode),
            raw_response=raw if raw is None or type(raw) is str else str(raw),
            t0=t0 if type(t0) is float else _float(t0),
            t=t if type(t) is float else _float(t),
            transaction_id=tid if tid is None or type(tid) is int else _int(tid),
            depth=parse_tags(tags)[0] if tags else None,
        )


@dataclass(slots=True)
class TCPConnect:
    ip: str | None = None
    port: int | None = None
    success: bool = False
    failure: str | None = None
    t0: float | None = None
    t: float | None = None
    transaction_id: int | None = None
    depth: int | None = None
    fetch_body: bool | None = None

    @property
    def endpoint(self) -> str:
        if self.ip and ":" in self.ip:
            return f"[{self.ip}]:{self.port}"
        return f"{self.ip}:{self.port}"

    @classmethod
    def from_raw(cls, d: Any) -> TCPConnect | None:
        if not isinstance(d, dict):
            return None
        g = d.get
        status = g("status")
        failure: str | None = None
        success = False
        if type(status) is dict:
            f = status.get("failure")
            failure = None if f is None else _failure(f)
            s = status.get("success")
            success = bool(s) if s is not None else failure is None
        else:
            f = g("failure")
            failure = None if f is None else _failure(f)
            success = failure is None
        if failure is not None:
            success = False
        ip, port, t0, t, tid = g("ip"), g("port"), g("t0"), g("t"), g("transaction_id")
        tags = g("tags")
        depth, fetch = parse_tags(tags) if tags else (None, None)
        return cls(
            ip=ip if ip is None or type(ip) is str else str(ip),
            port=port if type(port) is int else _int(port),
            success=success,
            failure=failure,
            t0=t0 if type(t0) is float else _float(t0),
            t=t if type(t) is float else _float(t),
            transaction_id=tid if type(tid) is int else _int(tid),
            depth=depth,
            fetch_body=fetch,
        )


@dataclass(slots=True)
class TLSHandshake:
    address: str | None = None
    server_name: str | None = None
    failure: str | None = None
    tls_version: str | None = None
    cipher_suite: str | None = None
    negotiated_protocol: str | None = None
    peer_certificates: list[str] = field(default_factory=list)  # base64 DER
    no_tls_verify: bool = False
    t0: float | None = None
    t: float | None = None
    transaction_id: int | None = None
    depth: int | None = None

    @classmethod
    def from_raw(cls, d: Any) -> TLSHandshake | None:
        if not isinstance(d, dict):
            return None
        certs: list[str] = []
        g = d.get
        pc = g("peer_certificates")
        if type(pc) is list:
            for c in pc:
                if type(c) is dict:
                    data = c.get("data")
                    if type(data) is str:
                        certs.append(data)
                elif type(c) is str:
                    certs.append(c)
        addr, sni, f, ver, suite, alpn = (g("address"), g("server_name"), g("failure"), g("tls_version"),
                                          g("cipher_suite"), g("negotiated_protocol"))
        t0, t, tid, tags = g("t0"), g("t"), g("transaction_id"), g("tags")
        return cls(
            address=addr if addr is None or type(addr) is str else str(addr),
            server_name=sni if sni is None or type(sni) is str else str(sni),
            failure=None if f is None else _failure(f),
            tls_version=ver if ver is None or type(ver) is str else str(ver),
            cipher_suite=suite if suite is None or type(suite) is str else str(suite),
            negotiated_protocol=alpn if alpn is None or type(alpn) is str else str(alpn),
            peer_certificates=certs,
            no_tls_verify=bool(g("no_tls_verify")),
            t0=t0 if type(t0) is float else _float(t0),
            t=t if type(t) is float else _float(t),
            transaction_id=tid if tid is None or type(tid) is int else _int(tid),
            depth=parse_tags(tags)[0] if tags else None,
        )


def _headers(raw_headers: Any, raw_list: Any) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Headers as a case-preserving dict and an ordered list; values flattened to text."""
    hlist: list[tuple[str, str]] = []
    if type(raw_list) is list:
        for item in raw_list:
            if isinstance(item, list | tuple) and len(item) == 2:
                k, v = item
                if type(k) is not str:
                    k = decode_text(k)
                if type(v) is not str:
                    v = decode_text(v)
                if k is not None:
                    hlist.append((k, v or ""))
    hdict: dict[str, str] = {}
    if type(raw_headers) is dict:
        for k, v in raw_headers.items():
            text = v if type(v) is str else decode_text(v)
            hdict[k if type(k) is str else str(k)] = text if text is not None else ""
    elif hlist:
        for k, v in hlist:
            hdict.setdefault(k, v)
    if not hlist and hdict:
        hlist = list(hdict.items())
    return hdict, hlist


@dataclass(slots=True)
class HTTPResponse:
    code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    headers_list: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    body_is_truncated: bool = False
    #: the body's length in bytes when the recorded form gave it (base64); else counted from ``body``
    byte_length: int | None = None

    @property
    def body_length(self) -> int | None:
        """The body's exact length in bytes, counted only when asked (most bodies never are)."""
        if self.byte_length is not None:
            return self.byte_length
        b = self.body
        if b is None:
            return None
        if b.isascii():
            return len(b)
        try:
            return len(b.encode("utf-8", "surrogatepass"))
        except UnicodeEncodeError:  # pragma: no cover - lone surrogates from odd JSON
            return len(b)

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers.items():
            if k.lower() == lname:
                return v
        return None

    @classmethod
    def from_raw(cls, d: Any) -> HTTPResponse | None:
        if not isinstance(d, dict):
            return None
        g = d.get
        raw, code = g("body"), g("code")
        body: str | None
        blen: int | None
        if type(raw) is str:  # the common case: the text is the body, its byte length is counted later
            body, blen = raw, None
        else:
            body, blen = decode_body(raw)
        headers, hlist = _headers(g("headers"), g("headers_list"))
        return cls(
            code=code if code is None or type(code) is int else _int(code),
            headers=headers,
            headers_list=hlist,
            body=body,
            byte_length=blen,
            body_is_truncated=bool(g("body_is_truncated")),
        )


@dataclass(slots=True)
class HTTPRequest:
    url: str | None = None
    method: str | None = None
    failure: str | None = None
    response: HTTPResponse | None = None
    t0: float | None = None
    t: float | None = None
    transaction_id: int | None = None
    depth: int | None = None
    #: the ``ip:port`` the request was sent to, when recorded
    address: str | None = None
    #: the request's headers as recorded (``headers`` flattens them on demand: no rule reads them)
    raw_headers: Any = None
    raw_headers_list: Any = None

    @property
    def headers(self) -> dict[str, str]:
        return _headers(self.raw_headers, self.raw_headers_list)[0]

    @classmethod
    def from_raw(cls, d: Any) -> HTTPRequest | None:
        if not isinstance(d, dict):
            return None
        g = d.get
        req = g("request")
        if type(req) is not dict:
            req = {}
        f, t0, t, address, tags, tid = g("failure"), g("t0"), g("t"), g("address"), g("tags"), g("transaction_id")
        url, method = req.get("url"), req.get("method")
        return cls(
            url=url if url is None or type(url) is str else str(url),
            method=method if method is None or type(method) is str else str(method),
            failure=None if f is None else _failure(f),
            response=HTTPResponse.from_raw(g("response")),
            t0=t0 if type(t0) is float else _float(t0),
            t=t if type(t) is float else _float(t),
            transaction_id=tid if tid is None or type(tid) is int else _int(tid),
            depth=parse_tags(tags)[0] if tags else None,
            address=address if address is None or type(address) is str else str(address),
            raw_headers=req.get("headers"),
            raw_headers_list=req.get("headers_list"),
        )


@dataclass(slots=True)
class NetworkEvent:
    operation: str | None = None
    num_bytes: int | None = None
    address: str | None = None
    failure: str | None = None
    proto: str | None = None
    t0: float | None = None
    t: float | None = None
    transaction_id: int | None = None

    @classmethod
    def from_raw(cls, d: Any) -> NetworkEvent | None:
        if not isinstance(d, dict):
            return None
        g = d.get
        op, nb, addr, f, proto, t0, t, tid = (g("operation"), g("num_bytes"), g("address"), g("failure"),
                                              g("proto"), g("t0"), g("t"), g("transaction_id"))
        return cls(
            operation=op if op is None or type(op) is str else str(op),
            num_bytes=nb if type(nb) is int else _int(nb),
            address=addr if addr is None or type(addr) is str else str(addr),
            failure=None if f is None else failures.normalize(f),
            proto=proto if proto is None or type(proto) is str else str(proto),
            t0=t0 if type(t0) is float else _float(t0),
            t=t if type(t) is float else _float(t),
            transaction_id=tid if type(tid) is int else _int(tid),
        )


def _parse_list(raw: Any, parser: Any) -> list[Any]:
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        obj = parser(item)
        if obj is not None:
            out.append(obj)
    return out


@dataclass(slots=True)
class Observations:
    """All network steps of one measurement, in recorded order (``requests`` newest first, as OONI)."""

    queries: list[DNSQuery] = field(default_factory=list)
    tcp_connect: list[TCPConnect] = field(default_factory=list)
    tls_handshakes: list[TLSHandshake] = field(default_factory=list)
    requests: list[HTTPRequest] = field(default_factory=list)
    network_events: list[NetworkEvent] = field(default_factory=list)

    @classmethod
    def from_test_keys(cls, tk: Any, *, with_events: bool = True) -> Observations:
        if not isinstance(tk, dict):
            return cls()
        return cls(
            queries=_parse_list(tk.get("queries"), DNSQuery.from_raw),
            tcp_connect=_parse_list(tk.get("tcp_connect"), TCPConnect.from_raw),
            tls_handshakes=_parse_list(tk.get("tls_handshakes"), TLSHandshake.from_raw),
            requests=_parse_list(tk.get("requests"), HTTPRequest.from_raw),
            network_events=(
                _parse_list(tk.get("network_events"), NetworkEvent.from_raw) if with_events else []
            ),
        )


# -- the flat observation row ---------------------------------------------------------------------
# One flat row per network step (OONI pipeline style), cut straight from the raw ``test_keys`` without
# building the typed objects above: the typed view is what ``analysis`` reads, the flat view is what
# SQL reads. ``OBSERVATION_ROW`` is the one definition of the row: ``flat_rows`` fills its columns in
# this order, ``store/rows.py`` derives the Arrow schema and ``store/schema.py`` the SQL table.

OBSERVATION_ROW: tuple[Column, ...] = (
    Column("measurement_uid", "str", nullable=False),
    Column("kind", "str", nullable=False, doc="dns | tcp | tls | http | event"),
    Column("idx", "int32", nullable=False, doc="position in its list of test_keys"),
    Column("hostname", "str"),
    Column("query_type", "str"),
    Column("engine", "str", doc="dns: the resolver (getaddrinfo, udp, doh, ...); event: the protocol"),
    Column("resolver", "str"),
    Column("ip", "str"),
    Column("port", "int32"),
    Column("server_name", "str"),
    Column("url", "str"),
    Column("status_code", "int32"),
    Column("body_length", "int64"),
    Column("answers", "str[]"),
    Column("operation", "str"),
    Column("num_bytes", "int64"),
    Column("failure", "str", doc="canonical failure string, NULL on success"),
    Column("t0", "float64"),
    Column("t", "float64"),
)

def split_address(address: Any) -> tuple[str | None, int | None]:
    """``"1.2.3.4:443"`` / ``"[::1]:443"`` -> ``(ip, port)``; anything else -> ``(text, None)``."""
    if type(address) is not str:
        return None, None
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:  # a bare IPv6 address, no port
        return address, None
    if port.isdigit() and len(port) <= 5:
        return host, int(port)
    return address, None


def _body_bytes(body: Any) -> int | None:
    if isinstance(body, str):
        return len(body.encode("utf-8", "surrogatepass")) if not body.isascii() else len(body)
    if isinstance(body, dict):
        data = body.get("data")
        if not isinstance(data, str):
            return None
        if body.get("format") == "base64":
            n = len(data)
            return n * 3 // 4 - (2 if data.endswith("==") else 1 if data.endswith("=") else 0)
        return len(data.encode("utf-8", "surrogatepass"))
    return None


def _answer_values(raw: Any) -> list[str] | None:
    if not isinstance(raw, list):
        return None
    out: list[str] = []
    for a in raw:
        if isinstance(a, dict):
            v = a.get("ipv4") or a.get("ipv6") or a.get("hostname")
            if isinstance(v, str):
                out.append(v)
    return out


def flat_rows(uid: str, tk: dict[str, Any], add: Callable[[tuple[Any, ...]], None]) -> None:
    """``add`` one tuple per network step recorded in ``tk``, in ``OBSERVATION_ROW`` order.

    Values are taken as recorded (the store coerces a column only when a value does not fit its type);
    failures are normalised.
    """
    norm = _failure
    items = tk.get("queries")
    if type(items) is list:
        for idx, d in enumerate(items):
            if type(d) is dict:
                g = d.get
                add((uid, "dns", idx, g("hostname"), g("query_type"), g("engine"),
                     g("resolver_address") or g("resolver_hostname"), None, None, None, None, None, None,
                     _answer_values(g("answers")), None, None, norm(g("failure")), g("t0"), g("t")))
    items = tk.get("tcp_connect")
    if type(items) is list:
        for idx, d in enumerate(items):
            if type(d) is dict:
                g = d.get
                status = g("status")
                failure = status.get("failure") if type(status) is dict else g("failure")
                add((uid, "tcp", idx, None, None, None, None, g("ip"), g("port"), None, None, None, None,
                     None, None, None, norm(failure), g("t0"), g("t")))
    items = tk.get("tls_handshakes")
    if type(items) is list:
        for idx, d in enumerate(items):
            if type(d) is dict:
                g = d.get
                ip, port = split_address(g("address"))
                add((uid, "tls", idx, None, None, None, None, ip, port, g("server_name"), None, None, None,
                     None, None, None, norm(g("failure")), g("t0"), g("t")))
    items = tk.get("requests")
    if type(items) is list:
        for idx, d in enumerate(items):
            if type(d) is dict:
                g = d.get
                req = g("request")
                resp = g("response")
                code = blen = None
                if type(resp) is dict:
                    code = resp.get("code")
                    blen = _body_bytes(resp.get("body"))
                add((uid, "http", idx, None, None, None, None, None, None, None,
                     req.get("url") if type(req) is dict else None, code, blen,
                     None, None, None, norm(g("failure")), g("t0"), g("t")))
    items = tk.get("network_events")
    if type(items) is list:
        for idx, d in enumerate(items):
            if type(d) is dict:
                g = d.get
                ip, port = split_address(g("address"))
                add((uid, "event", idx, None, None, g("proto"), None, ip, port, None, None, None, None,
                     None, g("operation"), g("num_bytes"), norm(g("failure")), g("t0"), g("t")))
