"""Errors the lab raises: all carry a message meant for the user."""

from __future__ import annotations

import os


class LabError(RuntimeError):
    """Building, running or tearing down a lab world failed."""


class NeedRoot(LabError):
    """The lab creates network namespaces, veth pairs and iptables rules: it needs root."""

    def __init__(self) -> None:
        super().__init__(
            "the lab needs root: it creates network namespaces (ip netns), veth pairs and iptables "
            "rules inside them (needs CAP_NET_ADMIN and CAP_SYS_ADMIN, plus the iproute2 and iptables "
            "packages). Run it as root, e.g. `sudo censorwatch ...` or `sudo make demo`."
        )


class ScenarioError(ValueError):
    """A scenario file is invalid. ``location`` names the file and key path, ``reason`` says why."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


def require_root() -> None:
    if os.geteuid() != 0:
        raise NeedRoot()
