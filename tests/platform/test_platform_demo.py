"""The demo's platform part: its VPN throttling rules are valid censor rules."""

from __future__ import annotations

from censorwatch.lab import platform_demo


def test_the_demo_rules_are_valid_censor_rules() -> None:
    assert {r["protocol"] for r in platform_demo.VPN_THROTTLE} == {"wireguard", "openvpn"}
    assert all(r["action"] == "throttle" and r["delay_ms"] >= 500 for r in platform_demo.VPN_THROTTLE)
