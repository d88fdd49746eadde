"""The demo's platform findings (pure): per ISP, X part by part and what VPNs met."""

from __future__ import annotations

from censorwatch.lab import platform_demo


def _v(test: str, status: str, method: str | None, explanation: str, **details: object) -> dict[str, object]:
    return {"test_name": test, "status": status, "method": method, "rule": "r", "explanation": explanation,
            "details": details}


def test_findings_per_isp() -> None:
    rows = [
        platform_demo.row(0, "ptcl", _v("platform", "ok", None, "x: web reachable (3/3)", parts={"web": "ok"})),
        platform_demo.row(1, "ptcl", _v("platform", "anomaly", "tls.reset", "x: web blocked by TLS reset (3/3)",
                                         parts={"web": "blocked"})),
        platform_demo.row(1, "ptcl", _v("wireguard", "anomaly", "throttle", "slowed", protocol="wireguard")),
        platform_demo.row(0, "ptcl", _v("wireguard", "ok", None, "fine", protocol="wireguard")),
        platform_demo.row(0, "jazz", _v("openvpn", "ok", None, "fine", protocol="openvpn")),
    ]
    assert platform_demo.findings(rows) == [
        "jazz: openvpn handshakes completed normally in all 1 rounds",
        "ptcl: x: web blocked by TLS reset (3/3) (since round 1)",
        "ptcl: wireguard throttle in 1/2 rounds (first round 1): slowed",
    ]


def test_the_demo_rules_are_valid_censor_rules() -> None:
    assert {r["protocol"] for r in platform_demo.VPN_THROTTLE} == {"wireguard", "openvpn"}
    assert all(r["action"] == "throttle" and r["delay_ms"] >= 500 for r in platform_demo.VPN_THROTTLE)
