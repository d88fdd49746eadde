"""Verdicts for circumvention measurements (``wireguard``, ``openvpn``, ``tor``): pure rules.

Rules (id, in order; the ``vpn`` family's version, ``analysis/platform_dispatch.py``, is stored with
every verdict):

- ``vpn.ok``: the protocol's handshake completed (a verified WireGuard response, OpenVPN's server
  hard reset, a Tor VERSIONS cell) -> ``ok``.
- ``vpn.throttled``: the handshake completed, but took >= 5x its round trips at the TCP round-trip
  time to the same host and >= 500 ms -> ``anomaly`` / ``throttle`` (delay or loss aimed at the
  protocol: the VPN works, slowly; retransmissions show in ``attempts``).
- ``vpn.control_failed``: a control measurement is attached and it failed too -> ``down`` (the
  server is broken or gone; nothing says this network blocks it).
- ``vpn.refused``: the handshake ended in ``connection_refused`` (TCP RST to the SYN, or ICMP port
  unreachable for UDP) with no control proving the server up -> ``down`` / ``unreachable``: nothing
  listens there, which is what a closed server looks like.
- ``vpn.unreachable``: the host cannot be reached at all (TCP connect timed out or the network is
  unreachable; for UDP protocols the TCP check to the same ``IP:PORT`` neither connected nor was
  refused or reset) -> ``anomaly`` / ``unreachable``: IP-level blocking or an outage, which one needs a control.
- ``vpn.blocked``: the host is reachable (TCP connected, or answered the TCP check) but the
  protocol's handshake was reset, closed, timed out or answered with garbage -> ``anomaly`` /
  ``vpn.blocked``: the signature of protocol (DPI) blocking.

Limit: for UDP protocols a censor dropping only that UDP port looks like protocol blocking; a
control measurement (``test_keys.control``, same shape) turns a dead server into ``down``.
"""

from __future__ import annotations

from typing import Any, Final

from censorwatch.analysis.verdicts import make_verdict
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

#: ``vpn.throttled``: a completed handshake slower than SLOW_FACTOR x its round trips at the TCP RTT to the
#: same host, and slower than SLOW_MIN_SECONDS in absolute terms (a censor delaying or dropping the
#: protocol's packets; ordinary server work adds milliseconds, not hundreds of them).
SLOW_FACTOR: Final = 5.0
SLOW_MIN_SECONDS: Final = 0.5
#: round trips of each handshake after TCP: WireGuard/OpenVPN one exchange, Tor TLS 1.3 + VERSIONS.
HANDSHAKE_ROUND_TRIPS: Final = {"wireguard": 1, "openvpn": 1, "tor": 3}
#: TCP failures that still prove the host answers (a RST to the SYN, or a proxy that accepted and reset).
ANSWERED: Final = frozenset({F.CONNECTION_REFUSED, F.CONNECTION_RESET})
VPN_TESTS: Final = frozenset({"wireguard", "openvpn", "tor"})


def _handshake(tk: dict[str, Any]) -> dict[str, Any] | None:
    hs = tk.get("handshake")
    if isinstance(hs, dict):
        return hs
    # OONI's openvpn test: openvpn_handshake[].status
    ov = tk.get("openvpn_handshake")
    if isinstance(ov, list) and ov and isinstance(ov[0], dict):
        st = ov[0].get("status") or {}
        return {"success": bool(st.get("success")), "failure": st.get("failure")}
    return None


def _reachable(tk: dict[str, Any]) -> bool | None:
    if isinstance(tk.get("host_reachable"), bool):
        return bool(tk["host_reachable"])
    entries = tk.get("tcp_connect")
    if not isinstance(entries, list) or not entries:
        return None
    for e in entries:
        st = e.get("status") if isinstance(e, dict) else None
        if isinstance(st, dict) and (st.get("success") or F.normalize(st.get("failure")) in ANSWERED):
            return True
    return False


def _slowdown(proto: str, hs: dict[str, Any], tk: dict[str, Any]) -> dict[str, Any] | None:
    """Handshake time vs the TCP round trip to the same host (rule ``vpn.throttled``), or None."""
    t0, t = hs.get("t0"), hs.get("t")
    rtts = [float(e["t"]) - float(e["t0"]) for e in tk.get("tcp_connect") or []
            if isinstance(e, dict) and isinstance(e.get("t"), int | float) and isinstance(e.get("t0"), int | float)
            and ((e.get("status") or {}).get("success")
                 or F.normalize((e.get("status") or {}).get("failure")) in ANSWERED)]
    if not isinstance(t0, int | float) or not isinstance(t, int | float) or not rtts:
        return None
    rounds = HANDSHAKE_ROUND_TRIPS.get(proto, 1)
    took, rtt = float(t) - float(t0), max(min(rtts), 1e-4)
    if took < SLOW_MIN_SECONDS or took < SLOW_FACTOR * rounds * rtt:
        return None
    return {"handshake_ms": round(took * 1000, 1), "tcp_ms": round(rtt * 1000, 2), "round_trips": rounds,
            "ratio": round(took / (rounds * rtt), 1), "attempts": hs.get("attempts")}


def classify_vpn(m: Measurement) -> Verdict:
    """The verdict of one circumvention measurement (see the module doc for the rules)."""
    tk = m.test_keys or {}
    hs = _handshake(tk)
    proto = str(tk.get("protocol") or m.test_name)
    endpoint = tk.get("endpoint") or m.input
    transport = tk.get("transport")

    def v(status: str, method: str | None, rule: str, why: str, **details: Any) -> Verdict:
        return make_verdict(
            m, status, rule, why, method=method,  # type: ignore[arg-type]
            blocking=False if status in ("ok", "down") else None,
            accessible=status == "ok" if status != "failure" else None,
            details={"protocol": proto, "endpoint": endpoint, "transport": transport, **details},
        )

    if hs is None:
        return v("failure", None, "vpn.no_data", f"{proto} measurement without a handshake record")
    failure = F.normalize(hs.get("failure"))
    if hs.get("success") and failure is None:
        slow = _slowdown(proto, hs, tk)
        if slow is not None:
            return v("anomaly", "throttle", "vpn.throttled",
                     f"the {proto} handshake with {endpoint} completed but took {slow['handshake_ms']:.0f} ms, "
                     f"{slow['ratio']:.0f}x what {slow['round_trips']} round trip(s) of {slow['tcp_ms']:.1f} ms "
                     f"to the same host explain: the protocol is slowed", response=hs.get("response"), **slow)
        return v("ok", None, "vpn.ok", f"{proto} handshake with {endpoint} completed",
                 response=hs.get("response"))
    control = tk.get("control")
    if isinstance(control, dict):
        chs = _handshake(control)
        if chs is not None and not chs.get("success"):
            return v("down", "unreachable", "vpn.control_failed",
                     f"{proto} handshake with {endpoint} failed ({failure}) from the control too: server down",
                     failure=failure)
    reachable = _reachable(tk)
    if failure == F.CONNECTION_REFUSED:
        return v("down", "unreachable", "vpn.refused",
                 f"{endpoint} refused the {proto} connection: nothing listens there", failure=failure)
    if reachable is False or failure in (F.HOST_UNREACHABLE, F.NETWORK_UNREACHABLE):
        return v("anomaly", "unreachable", "vpn.unreachable",
                 f"{endpoint} is unreachable ({failure}): IP-level blocking or an outage", failure=failure,
                 host_reachable=False)
    how = {F.CONNECTION_RESET: "reset", F.EOF_ERROR: "closed", F.GENERIC_TIMEOUT: "dropped"}.get(
        failure or "", "answered with something else")
    return v("anomaly", "vpn.blocked", "vpn.blocked",
             f"{endpoint} is reachable but the {proto} handshake was {how} ({failure})",
             failure=failure, host_reachable=reachable, handshake=how)
