"""IP address facts the rules need, with integer range checks (no ``ipaddress`` in the hot path).

A *bogon* is an address that cannot be a public web server: private, loopback, link-local,
shared (CGN), documentation, benchmarking, multicast and reserved ranges (OONI's list). The lab's
simulated internet lives in 198.18.0.0/15 (benchmarking space): only for measurements annotated
``censorwatch_lab: true`` is that range treated as public.
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from functools import lru_cache
from typing import Final

LAB_NET: Final = (0xC6120000, 0xC613FFFF)  # 198.18.0.0/15


def _v4(cidr: str) -> tuple[int, int]:
    net, bits = cidr.split("/")
    start = int.from_bytes(socket.inet_pton(socket.AF_INET, net), "big")
    return start, start + (1 << (32 - int(bits))) - 1


def _v6(cidr: str) -> tuple[int, int]:
    net, bits = cidr.split("/")
    start = int.from_bytes(socket.inet_pton(socket.AF_INET6, net), "big")
    return start, start + (1 << (128 - int(bits))) - 1


_BOGONS_V4: Final = sorted(
    _v4(c)
    for c in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
)
_BOGONS_V6: Final = sorted(
    _v6(c)
    for c in (
        "::/128", "::1/128", "100::/64", "2001:2::/48", "2001:10::/28", "2001:db8::/32",
        "fc00::/7", "fe80::/10", "ff00::/8",
    )
)
_V4_STARTS: Final = [s for s, _ in _BOGONS_V4]
_V6_STARTS: Final = [s for s, _ in _BOGONS_V6]
_V4_MAPPED: Final = _v6("::ffff:0:0/96")


@lru_cache(maxsize=65536)
def parse_ip(text: str) -> tuple[int, int] | None:
    """``(version, integer)`` for an IPv4/IPv6 literal (brackets and zone ids tolerated), else None."""
    s = text.strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    try:
        if ":" in s:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, s.split("%", 1)[0]), "big")
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, s), "big")
    except (OSError, ValueError):
        return None


def is_ip(text: str | None) -> bool:
    return bool(text) and parse_ip(text) is not None  # type: ignore[arg-type]


def _in(ranges: list[tuple[int, int]], starts: list[int], value: int) -> bool:
    i = bisect_right(starts, value) - 1
    return i >= 0 and value <= ranges[i][1]


def is_bogon(text: str, *, lab: bool = False) -> bool:
    """True when ``text`` is an IP literal in a non-public range (see module doc)."""
    parsed = parse_ip(text)
    if parsed is None:
        return False
    version, value = parsed
    if version == 4:
        if lab and LAB_NET[0] <= value <= LAB_NET[1]:
            return False
        return _in(_BOGONS_V4, _V4_STARTS, value)
    if _V4_MAPPED[0] <= value <= _V4_MAPPED[1]:
        v4 = value & 0xFFFFFFFF
        if lab and LAB_NET[0] <= v4 <= LAB_NET[1]:
            return False
        return _in(_BOGONS_V4, _V4_STARTS, v4)
    return _in(_BOGONS_V6, _V6_STARTS, value)


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
