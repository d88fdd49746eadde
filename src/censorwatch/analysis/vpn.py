"""Verdicts for circumvention measurements (``wireguard``, ``openvpn``, ``tor``): pure rules.

Rules (id, in order; ``RULES_VERSION`` below is stored with every verdict):

- ``vpn.ok``: the protocol's handshake completed (a verified WireGuard response, OpenVPN's server
  hard reset, a Tor VERSIONS cell) -> ``ok``.
- ``vpn.control_failed``: a control measurement is attached and it failed too -> ``down`` (the
  server is broken or gone; nothing says this network blocks it).
- ``vpn.refused``: the handshake ended in ``connection_refused`` (TCP RST to the SYN, or ICMP port
  unreachable for UDP) with no control proving the server up -> ``down`` / ``unreachable``: nothing
  listens there, which is what a closed server looks like.
- ``vpn.unreachable``: the host cannot be reached at all (TCP connect timed out or the network is
  unreachable; for UDP protocols the TCP check to the same ``IP:PORT`` neither connected nor was
  refused) -> ``anomaly`` / ``unreachable``: IP-level blocking or an outage, which one needs a control.
- ``vpn.blocked``: the host is reachable (TCP connected, or answered the TCP check) but the
  protocol's handshake was reset, closed, timed out or answered with garbage -> ``anomaly`` /
  ``vpn.blocked``: the signature of protocol (DPI) blocking.

Limit: for UDP protocols a censor dropping only that UDP port looks like protocol blocking; a
control measurement (``test_keys.control``, same shape) turns a dead server into ``down``.
"""

from __future__ import annotations

from typing import Any, Final

from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement, format_time
from censorwatch.model.verdict import Verdict

RULES_VERSION: Final = "vpn-1"
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
        if isinstance(st, dict) and (st.get("success") or F.normalize(st.get("failure")) == F.CONNECTION_REFUSED):
            return True
    return False


def classify_vpn(m: Measurement) -> Verdict:
    """The verdict of one circumvention measurement (see the module doc for the rules)."""
    tk = m.test_keys or {}
    hs = _handshake(tk)
    proto = str(tk.get("protocol") or m.test_name)
    endpoint = tk.get("endpoint") or m.input
    transport = tk.get("transport")

    def v(status: str, method: str | None, rule: str, why: str, **details: Any) -> Verdict:
        return Verdict(
            source=m.source, measurement_uid=m.measurement_uid, report_id=m.report_id, test_name=m.test_name,
            probe_cc=m.probe_cc, probe_asn=m.probe_asn, input=m.input, domain=m.domain,
            measurement_start_time=format_time(m.measurement_start_time),
            status=status,  # type: ignore[arg-type]
            method=method, rule=rule, rules_version=RULES_VERSION, explanation=why,
            blocking=False if status in ("ok", "down") else None,
            accessible=status == "ok" if status != "failure" else None,
            details={"protocol": proto, "endpoint": endpoint, "transport": transport, **details},
        )

    if hs is None:
        return v("failure", None, "vpn.no_data", f"{proto} measurement without a handshake record")
    failure = F.normalize(hs.get("failure"))
    if hs.get("success") and failure is None:
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
