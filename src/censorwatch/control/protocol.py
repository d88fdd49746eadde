"""The OONI test-helper protocol: request validation and the response JSON schema."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_ENDPOINTS = 32
#: request headers the helper copies from the probe (as OONI's oohelperd does)
FORWARDED_HEADERS = ("accept", "accept-language", "user-agent")


class BadRequest(ValueError):
    """A malformed request: the message is the reason returned with the 400."""


@dataclass(frozen=True, slots=True)
class THRequest:
    url: str
    scheme: str
    host: str
    port: int
    headers: list[tuple[str, str]]
    endpoints: list[tuple[str, int]]


def parse_request(obj: Any) -> THRequest:
    if not isinstance(obj, dict):
        raise BadRequest(f"body must be a JSON object, got {type(obj).__name__}")
    url = obj.get("http_request")
    if not isinstance(url, str) or not url:
        raise BadRequest("'http_request' must be a non-empty URL string")
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError as exc:
        raise BadRequest(f"'http_request': {exc}") from None
    if u.scheme not in ("http", "https") or not u.hostname:
        raise BadRequest("'http_request' must be an http:// or https:// URL with a host")
    raw_headers = obj.get("http_request_headers", {})
    if raw_headers is None:
        raw_headers = {}
    if not isinstance(raw_headers, dict):
        raise BadRequest("'http_request_headers' must be an object of name -> [values]")
    headers: list[tuple[str, str]] = []
    for name, values in raw_headers.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadRequest(f"'http_request_headers'.{name} must be a list of strings")
        if name.lower() in FORWARDED_HEADERS:
            headers.extend((name, v) for v in values[:1] if "\r" not in v and "\n" not in v)
    eps = obj.get("tcp_connect", [])
    if eps is None:
        eps = []
    if not isinstance(eps, list):
        raise BadRequest("'tcp_connect' must be a list of \"ip:port\" strings")
    if len(eps) > MAX_ENDPOINTS:
        raise BadRequest(f"'tcp_connect' has {len(eps)} endpoints, at most {MAX_ENDPOINTS} allowed")
    endpoints: list[tuple[str, int]] = []
    for i, ep in enumerate(eps):
        if not isinstance(ep, str):
            raise BadRequest(f"'tcp_connect'[{i}] must be a string")
        endpoints.append(_endpoint(ep, i))
    return THRequest(url, u.scheme, u.hostname.lower(), port or (443 if u.scheme == "https" else 80),
                     headers, endpoints)


def _endpoint(ep: str, i: int) -> tuple[str, int]:
    if ep.startswith("["):
        host, _, rest = ep[1:].partition("]")
        port_s = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_s = ep.rpartition(":")
    try:
        ipaddress.ip_address(host)
        port = int(port_s)
    except ValueError:
        raise BadRequest(f"'tcp_connect'[{i}] {ep!r} is not ip:port") from None
    if not 0 < port < 65536:
        raise BadRequest(f"'tcp_connect'[{i}] {ep!r}: port out of range")
    return host, port


_FAILURE = {"type": ["string", "null"]}

RESPONSE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["tcp_connect", "tls_handshake", "http_request", "dns", "ip_info"],
    "properties": {
        "tcp_connect": {
            "type": "object",
            "additionalProperties": {
                "type": "object", "required": ["status", "failure"],
                "properties": {"status": {"type": "boolean"}, "failure": _FAILURE},
            },
        },
        "tls_handshake": {
            "type": "object",
            "additionalProperties": {
                "type": "object", "required": ["server_name", "status", "failure"],
                "properties": {"server_name": {"type": "string"}, "status": {"type": "boolean"},
                               "failure": _FAILURE},
            },
        },
        "quic_handshake": {"type": "object"},
        "http_request": {
            "type": "object",
            "required": ["body_length", "title", "headers", "status_code", "failure"],
            "properties": {
                "body_length": {"type": "integer", "minimum": -1},
                "title": {"type": "string"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "status_code": {"type": "integer", "minimum": -1},
                "failure": _FAILURE,
                "discovered_h3_endpoint": {"type": "string"},
            },
        },
        "http3_request": {"type": ["object", "null"]},
        "dns": {
            "type": "object", "required": ["addrs", "failure"],
            "properties": {"addrs": {"type": "array", "items": {"type": "string"}}, "failure": _FAILURE},
        },
        "ip_info": {
            "type": "object",
            "additionalProperties": {
                "type": "object", "required": ["asn", "flags"],
                "properties": {"asn": {"type": "integer", "minimum": 0},
                               "flags": {"type": "integer", "minimum": 0, "maximum": 15}},
            },
        },
        "client": {
            "type": "object", "required": ["ip", "asn", "cc"],
            "properties": {"ip": {"type": "string"}, "asn": {"type": "integer", "minimum": 0},
                           "cc": {"type": ["string", "null"]}, "as_name": {"type": ["string", "null"]}},
        },
        "x_refused": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
