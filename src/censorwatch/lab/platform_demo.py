"""The platform area's part of ``censorwatch demo``: an X platform verdict and VPN checks per ISP.

The demo (``lab/demo.py``) wires it in with three calls:

- its timeline adds ``VPN_THROTTLE`` to the censor rules of the ISPs that throttle VPNs (Pakistan's
  story: X blocked, VPNs slowed so people could not get around the block);
- each probing round also calls ``measure_round(run_probe, lab, network, timeout)``, which runs the
  ``platform`` test for X and the ``wireguard``/``openvpn`` tests against the lab's own servers, and
  returns ``(measurement, verdict)`` pairs (classified by ``analysis.classify``);
- the closing report adds ``findings(rows)`` where each row is ``row(round, network, verdict)``.
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
                  url_deadline: float = 20.0) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """One round of the platform tests from ``network``: ``[(measurement, verdict dict), ...]``.

    ``url_deadline`` bounds each platform endpoint, so a dark network (a shutdown: every step waits
    for its own timeout, the control's is 30 s) still yields a measurement within ``timeout``."""
    from censorwatch.analysis import classify
    from censorwatch.model.measurement import Measurement

    out = []
    for test, inp in ROUND:
        for m in run_probe(lab, network, test, [inp] if inp else [], timeout=timeout, url_deadline=url_deadline):
            out.append((m, classify(Measurement.from_raw(m, source="demo")).to_dict()))
    return out


def row(round_: int, network: str, verdict: dict[str, Any]) -> dict[str, Any]:
    details = verdict.get("details") or {}
    return {"round": round_, "network": network, "test": verdict.get("test_name"), "status": verdict.get("status"),
            "method": verdict.get("method"), "rule": verdict.get("rule"), "explanation": verdict.get("explanation"),
            "parts": details.get("parts"), "protocol": details.get("protocol")}


def findings(rows: list[dict[str, Any]]) -> list[str]:
    """Per ISP: the latest X platform verdict (part by part), when it changed, and what VPNs met."""
    out: list[str] = []
    for net in sorted({r["network"] for r in rows}):
        mine = sorted((r for r in rows if r["network"] == net), key=lambda r: r["round"])
        plat = [r for r in mine if r["test"] == "platform"]
        if plat:
            first_blocked = next((r["round"] for r in plat if r["status"] in ("anomaly", "confirmed")), None)
            since = f" (since round {first_blocked})" if first_blocked is not None else ""
            out.append(f"{net}: {plat[-1]['explanation']}{since}")
        for proto in ("wireguard", "openvpn"):
            vr = [r for r in mine if r["protocol"] == proto]
            if not vr:
                continue
            bad = [r for r in vr if r["method"] in ("throttle", "vpn.blocked", "unreachable")]
            if bad:
                kinds = ", ".join(sorted({str(r["method"]) for r in bad}))
                out.append(f"{net}: {proto} {kinds} in {len(bad)}/{len(vr)} rounds (first round {bad[0]['round']}): "
                           f"{bad[-1]['explanation']}")
            else:
                out.append(f"{net}: {proto} handshakes completed normally in all {len(vr)} rounds")
    return out
