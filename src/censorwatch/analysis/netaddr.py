"""IP address helpers the rules need: parsing, endpoints, one spelling per address. Whether an
address is public (``is_bogon``) is the one address policy's answer, ``censorwatch.model.addresses``."""

from __future__ import annotations

import socket
from functools import lru_cache

from censorwatch.model.addresses import parse


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> tuple[int, int] | None:
    """``(version, integer)`` for an IPv4/IPv6 literal (brackets and zone ids tolerated), else None."""
    return parse(text)


def is_ip(text: str | None) -> bool:
    return bool(text) and parse_ip(text) is not None  # type: ignore[arg-type]


def split_endpoint(ep: str) -> tuple[str, int | None]:
    """``"1.2.3.4:443"`` / ``"[::1]:443"`` / ``"1.2.3.4"`` -> ``(ip, port)``."""
    if ep.startswith("["):
        host, _, rest = ep[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if ep.count(":") == 1:
        host, _, port = ep.partition(":")
        return host, int(port) if port.isdigit() else None
    return ep, None


def canonical_ip(text: str) -> str:
    """One spelling per address (IPv6 compressed, lower case), so sets compare correctly."""
    if ":" not in text:  # IPv4 (or junk): dotted quads have one spelling in every recorder
        return text
    parsed = parse_ip(text)
    if parsed is None:
        return text
    version, value = parsed
    if version == 4:
        return socket.inet_ntop(socket.AF_INET, value.to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))
