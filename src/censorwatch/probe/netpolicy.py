"""Which destination addresses a probe or the control server may reach, and what is a bogon.

Bogons are addresses that are not on the public internet: private, loopback, link-local, multicast,
reserved, unspecified, shared (CGNAT) and documentation ranges. In lab mode the lab's simulated
internet 198.18.0.0/15 (normally "benchmarking", reserved) counts as public.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

LAB_NET: Final = ipaddress.ip_network("198.18.0.0/15")
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_NEVER: Final = frozenset({"loopback", "link-local", "multicast", "unspecified", "not an IP address"})


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def why_not_public(ip: str, *, lab: bool = False) -> str | None:
    """None when ``ip`` is a public address, else the reason (``"loopback"``, ``"private"``, ...)."""
    addr = parse_ip(ip)
    if addr is None:
        return "not an IP address"
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if lab and addr in LAB_NET:
        return None
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_unspecified:
        return "unspecified"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT:
        return "shared address space"
    if addr.is_reserved:
        return "reserved"
    if addr.is_private:
        return "private"
    if not addr.is_global:
        return "reserved"
    return None


def is_bogon(ip: str, *, lab: bool = False) -> bool:
    return why_not_public(ip, lab=lab) is not None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Destinations the caller may connect to.

    ``allow_loopback`` (tests only) permits 127.0.0.0/8 and ::1. ``allow_private`` permits private,
    shared and reserved ranges but never loopback, link-local, multicast or unspecified: a probe needs
    it because censors serve blockpages from RFC 1918 addresses (Iran's 10.10.34.34), the control server
    never sets it. ``lab`` makes 198.18.0.0/15 public.
    """

    lab: bool = False
    allow_loopback: bool = False
    allow_private: bool = False

    def refusal(self, ip: str) -> str | None:
        """None when allowed, else the reason the address is refused."""
        why = why_not_public(ip, lab=self.lab)
        if why is None:
            return None
        if why == "loopback" and self.allow_loopback:
            return None
        if self.allow_private and why not in _NEVER:
            return None
        return why
