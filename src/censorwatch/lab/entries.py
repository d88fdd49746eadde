"""Which program measures a lab scenario's ``probe.test`` inside the network's namespace."""

from __future__ import annotations

from typing import Any, Final

#: Web Connectivity: ``lab/probe_entry.py``
PROBE_ENTRY: Final = "censorwatch.lab.probe_entry"
SUPPORTED_TESTS: Final = ("web_connectivity",)
#: platforms, circumvention and throughput: ``lab/platform_entry.py``
PLATFORM_ENTRY: Final = "censorwatch.lab.platform_entry"
PLATFORM_TESTS: Final = ("platform", "wireguard", "openvpn", "tor", "throughput")


def named(measurement: dict[str, Any], req: dict[str, Any]) -> dict[str, Any]:
    """The measurement with the lab's name for its network (the request's ``network_name``) when it has
    none: the network is pinned (cc, asn), so a probe does not learn its name from the control, and the
    lab's name is the one a dashboard shows."""
    if measurement.get("probe_network_name") is None:
        measurement["probe_network_name"] = req.get("network_name")
    return measurement
