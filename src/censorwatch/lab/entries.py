"""Which program measures a lab scenario's ``probe.test`` inside the network's namespace."""

from __future__ import annotations

from typing import Final

#: Web Connectivity: ``lab/probe_entry.py``
PROBE_ENTRY: Final = "censorwatch.lab.probe_entry"
SUPPORTED_TESTS: Final = ("web_connectivity",)
#: platforms, circumvention and throughput: ``lab/platform_entry.py``
PLATFORM_ENTRY: Final = "censorwatch.lab.platform_entry"
PLATFORM_TESTS: Final = ("platform", "wireguard", "openvpn", "tor", "throughput")
