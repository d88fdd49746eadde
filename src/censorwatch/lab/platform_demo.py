"""The platform area's part of ``censorwatch demo``: an X platform verdict and VPN checks per ISP.

The demo (``lab/demo.py``) wires it in twice:

- its timeline adds ``VPN_THROTTLE`` to the censor rules of the ISPs that throttle VPNs (Pakistan's
  story: X blocked, VPNs slowed so people could not get around the block);
- every third probing round also calls ``measure_round(run_probe, lab, network, timeout)``, which runs
  the ``platform`` test for X and the ``wireguard``/``openvpn`` tests against the lab's own servers
  (submitting each measurement like the other probes when ``submit`` says where), and returns
  ``(measurement, verdict)`` pairs (classified by ``analysis.classify``);
- what the demo reports about them is the observatory's own finding (an incident per test target).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

#: Rules an ISP throttling VPNs adds: WireGuard and OpenVPN handshakes held 800 ms by fingerprint.
VPN_THROTTLE: Final[list[dict[str, Any]]] = [
    {"protocol": "wireguard", "action": "throttle", "delay_ms": 800},
    {"protocol": "openvpn", "action": "throttle", "delay_ms": 800},
]
#: (test, input) measured every round from every ISP.
ROUND: Final = (("platform", "x"), ("wireguard", None), ("openvpn", "openvpn://198.18.5.2:1194?transport=tcp"))

RunProbe = Callable[..., list[dict[str, Any]]]


def measure_round(run_probe: RunProbe, lab: Any, network: str, *, timeout: float = 60.0,
                  url_deadline: float = 20.0,
                  submit: dict[str, Any] | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """One round of the platform tests from ``network``: ``[(measurement, verdict dict), ...]``.

    ``url_deadline`` bounds each platform endpoint, so a dark network (a shutdown: every step waits
    for its own timeout, the control's is 30 s) still yields a measurement within ``timeout``."""
    from censorwatch.analysis import classify
    from censorwatch.model.measurement import Measurement

    out = []
    for test, inp in ROUND:
        for m in run_probe(lab, network, test, [inp] if inp else [], timeout=timeout, url_deadline=url_deadline,
                           submit=submit):
            out.append((m, classify(Measurement.from_raw(m, source="demo")).to_dict()))
    return out
