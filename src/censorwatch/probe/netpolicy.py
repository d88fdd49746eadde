"""Address helpers for the probe's network steps. Which destinations may be reached is decided by
the one address policy, ``censorwatch.model.addresses`` (``AddressPolicy``)."""

from __future__ import annotations

import ipaddress


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
