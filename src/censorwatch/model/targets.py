"""What a measurement is about, named as people know it (pure, standard library only).

A target is the ``domain`` the store keeps for a measurement: a host name for web tests, the platform
id for the platform test (``x``), the server's address for VPN and Tor tests. Shown to people:

- platforms by their names: ``x`` -> ``X``, ``tiktok`` -> ``TikTok``;
- VPN and Tor endpoints by protocol and endpoint: ``WireGuard 198.18.5.1:51820``,
  ``OpenVPN 198.18.5.2:1194 (TCP)``, ``Tor 198.18.5.3:9001``, ``Tor (obfs4) 192.0.2.1:443``;
- anything else (host names) as it is.

The test name and input of a measurement of the target (``test_name``, ``input``) tell the kinds
apart; without them a bare platform id is still recognised.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs, urlsplit

#: the platform test's ids (censorwatch.probe.platforms' catalogue) and the names people use
PLATFORMS: Final[dict[str, str]] = {
    "x": "X", "tiktok": "TikTok", "youtube": "YouTube", "facebook": "Facebook", "instagram": "Instagram",
    "whatsapp": "WhatsApp", "telegram": "Telegram", "signal": "Signal",
}
PLATFORM_TESTS: Final = frozenset({"platform", "whatsapp", "telegram", "signal", "facebook_messenger"})
VPN_PROTOCOLS: Final[dict[str, str]] = {"wireguard": "WireGuard", "openvpn": "OpenVPN", "tor": "Tor"}


def _endpoint(test_name: str | None, inp: str | None) -> str | None:
    """``WireGuard 198.18.5.1:51820`` for a VPN or Tor measurement's input URI, else None."""
    if not inp:
        return None
    try:
        u = urlsplit(inp.strip())
        host, port = u.hostname, u.port
    except ValueError:
        return None
    proto = u.scheme.lower() if u.scheme.lower() in VPN_PROTOCOLS else (test_name or "").lower()
    if proto not in VPN_PROTOCOLS or not host:
        return None
    where = f"[{host}]" if ":" in host else host
    if port:
        where += f":{port}"
    q = parse_qs(u.query)
    name = VPN_PROTOCOLS[proto]
    transport = (q.get("transport") or [""])[0].lower()
    if proto == "tor" and transport and transport not in ("tcp", "udp"):
        name += f" ({transport})"  # a pluggable transport: obfs4, meek, snowflake
    elif proto == "openvpn" and transport == "tcp":
        where += " (TCP)"
    return f"{name} {where}"


def target_label(target: str | None, test_name: str | None = None, inp: str | None = None) -> str:
    """How to show ``target`` (see the module doc); ``""`` for None."""
    if not target:
        return ""
    if target in PLATFORMS and (test_name is None or test_name in PLATFORM_TESTS):
        return PLATFORMS[target]
    return _endpoint(test_name, inp) or target
