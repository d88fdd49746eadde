"""Observation records: one typed row per network step inside an OONI ``test_keys``.

Parsing is tolerant by design: the archive holds a decade of probe versions, so every field is
optional, wrong types are coerced or dropped, and nothing here raises on odd input. Bodies may be a
string or ``{"format": "base64", "data": ...}``; both decode to text (``body``) plus the exact byte
length (``body_length``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from censorwatch.model import failures


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
        return cls(
            answer_type=_str(d.get("answer_type")),
            ipv4=_str(d.get("ipv4")),
            ipv6=_str(d.get("ipv6")),
            hostname=_str(d.get("hostname")),
            asn=_int(d.get("asn")),
            as_org_name=_str(d.get("as_org_name")),
            ttl=_int(d.get("ttl")),
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

    @property
    def addresses(self) -> list[str]:
        return [a.address for a in self.answers if a.address and a.answer_type in (None, "A", "AAAA")]

    @classmethod
    def from_raw(cls, d: Any) -> DNSQuery | None:
        if not isinstance(d, dict):
            return None
        answers_raw = d.get("answers")
        answers: list[DNSAnswer] = []
        if isinstance(answers_raw, list):
            for a in answers_raw:
                ans = DNSAnswer.from_raw(a)
                if ans is not None:
                    answers.append(ans)
        return cls(
            hostname=_str(d.get("hostname")),
            query_type=_str(d.get("query_type")),
            engine=_str(d.get("engine")),
            resolver_address=_str(d.get("resolver_address") or d.get("resolver_hostname")),
            failure=failures.normalize(d.get("failure")),
            answers=answers,
            rcode=_int(d.get("rcode")),
            raw_response=_str(d.get("raw_response")),
            t0=_float(d.get("t0")),
            t=_float(d.get("t")),
            transaction_id=_int(d.get("transaction_id")),
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

    @property
    def endpoint(self) -> str:
        if self.ip and ":" in self.ip:
            return f"[{self.ip}]:{self.port}"
        return f"{self.ip}:{self.port}"

    @classmethod
    def from_raw(cls, d: Any) -> TCPConnect | None:
        if not isinstance(d, dict):
            return None
        status = d.get("status")
        failure: str | None = None
        success = False
        if isinstance(status, dict):
            failure = failures.normalize(status.get("failure"))
            s = status.get("success")
            success = bool(s) if s is not None else failure is None
        else:
            failure = failures.normalize(d.get("failure"))
            success = failure is None
        if failure is not None:
            success = False
        return cls(
            ip=_str(d.get("ip")),
            port=_int(d.get("port")),
            success=success,
            failure=failure,
            t0=_float(d.get("t0")),
            t=_float(d.get("t")),
            transaction_id=_int(d.get("transaction_id")),
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

    @classmethod
    def from_raw(cls, d: Any) -> TLSHandshake | None:
        if not isinstance(d, dict):
            return None
        certs: list[str] = []
        pc = d.get("peer_certificates")
        if isinstance(pc, list):
            for c in pc:
                if isinstance(c, dict) and isinstance(c.get("data"), str):
                    certs.append(c["data"])
                elif isinstance(c, str):
                    certs.append(c)
        return cls(
            address=_str(d.get("address")),
            server_name=_str(d.get("server_name")),
            failure=failures.normalize(d.get("failure")),
            tls_version=_str(d.get("tls_version")),
            cipher_suite=_str(d.get("cipher_suite")),
            negotiated_protocol=_str(d.get("negotiated_protocol")),
            peer_certificates=certs,
            no_tls_verify=bool(d.get("no_tls_verify")),
            t0=_float(d.get("t0")),
            t=_float(d.get("t")),
            transaction_id=_int(d.get("transaction_id")),
        )


def _headers(raw_headers: Any, raw_list: Any) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Headers as a case-preserving dict and an ordered list; values flattened to text."""
    hlist: list[tuple[str, str]] = []
    if isinstance(raw_list, list):
        for item in raw_list:
            if isinstance(item, list | tuple) and len(item) == 2:
                k, v = decode_text(item[0]), decode_text(item[1])
                if k is not None:
                    hlist.append((k, v or ""))
    hdict: dict[str, str] = {}
    if isinstance(raw_headers, dict):
        for k, v in raw_headers.items():
            text = decode_text(v)
            hdict[str(k)] = text if text is not None else ""
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
    body_length: int | None = None
    body_is_truncated: bool = False

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
        body, blen = decode_body(d.get("body"))
        headers, hlist = _headers(d.get("headers"), d.get("headers_list"))
        return cls(
            code=_int(d.get("code")),
            headers=headers,
            headers_list=hlist,
            body=body,
            body_length=blen,
            body_is_truncated=bool(d.get("body_is_truncated")),
        )


@dataclass(slots=True)
class HTTPRequest:
    url: str | None = None
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    failure: str | None = None
    response: HTTPResponse | None = None
    t0: float | None = None
    t: float | None = None
    transaction_id: int | None = None

    @classmethod
    def from_raw(cls, d: Any) -> HTTPRequest | None:
        if not isinstance(d, dict):
            return None
        req = d.get("request") if isinstance(d.get("request"), dict) else {}
        assert isinstance(req, dict)
        headers, _ = _headers(req.get("headers"), req.get("headers_list"))
        resp = HTTPResponse.from_raw(d.get("response"))
        return cls(
            url=_str(req.get("url")),
            method=_str(req.get("method")),
            headers=headers,
            failure=failures.normalize(d.get("failure")),
            response=resp,
            t0=_float(d.get("t0")),
            t=_float(d.get("t")),
            transaction_id=_int(d.get("transaction_id")),
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
        return cls(
            operation=_str(d.get("operation")),
            num_bytes=_int(d.get("num_bytes")),
            address=_str(d.get("address")),
            failure=failures.normalize(d.get("failure")),
            proto=_str(d.get("proto")),
            t0=_float(d.get("t0")),
            t=_float(d.get("t")),
            transaction_id=_int(d.get("transaction_id")),
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
