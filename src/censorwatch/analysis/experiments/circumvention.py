"""Circumvention tools: tor, torsf, vanilla_tor, psiphon, openvpn, riseupvpn, meek (methodology §7).

Read from the raw outcome of each step: the bootstrap's own failure string and progress, the TCP/TLS
steps to each target, the requests made through the tunnel. Never from ``success``/``*_status``/
``*_blocking`` summaries. No control exists: failures are anomalies at most.
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.experiments.common import host_of, scan
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import Observations
from censorwatch.model.verdict import Verdict

MEEK_OK_BODY = "I’m just a happy little web server."


def classify_bootstrap(m: Measurement, fps: Fingerprints) -> Verdict:
    """torsf / vanilla_tor / psiphon: did the tool bootstrap? (``failure`` + progress, not ``success``)."""
    tk = m.test_keys
    name = m.test_name
    if not isinstance(tk, dict) or ("failure" not in tk and "bootstrap_time" not in tk):
        return make_verdict(m, "failure", "bootstrap.no_data", "The measurement does not say whether the "
                            "tool started.")
    failure = F.normalize(tk.get("failure"))
    progress = tk.get("tor_progress")
    summary = tk.get("tor_progress_summary")
    details: dict[str, Any] = {"failure": failure, "progress": progress, "transport": tk.get("transport_name")}
    tool = {"torsf": "Tor over Snowflake", "vanilla_tor": "Tor", "psiphon": "Psiphon"}.get(name, name)
    if failure is None:
        return make_verdict(m, "ok", "bootstrap.ok", f"{tool} started and connected "
                            f"(bootstrap took {float(tk.get('bootstrap_time') or 0):.0f} s).", details=details)
    where = f", stuck at {progress}% ({summary})" if isinstance(progress, int) and summary else ""
    method = "tcp.timeout" if failure == F.GENERIC_TIMEOUT and progress in (0, 5) and name == "vanilla_tor" else None
    return make_verdict(m, "anomaly", "bootstrap.failed", f"{tool} could not start ({say(failure)}{where}); "
                        "this test has no control, so it may be blocking or an outage of the tool's own servers.",
                        method=method or "unreachable", details=details)


def _tor_targets(tk: dict[str, Any]) -> list[dict[str, Any]]:
    t = tk.get("targets")
    if isinstance(t, dict):
        return [v for v in t.values() if isinstance(v, dict)]
    if isinstance(t, list):
        return [v for v in t if isinstance(v, dict)]
    return []


def classify_tor(m: Measurement, fps: Fingerprints) -> Verdict:
    """tor: each target (directory authority OR/dir ports, bridges) reached or not; anomaly when every
    target of one kind failed."""
    tk = m.test_keys
    targets = _tor_targets(tk) if isinstance(tk, dict) else []
    if not targets:
        return make_verdict(m, "failure", "tor.no_data", "The measurement lists no Tor targets.")
    by_kind: dict[str, list[bool]] = {}
    first_fail: str | None = None
    for t in targets:
        obs = Observations.from_test_keys(t, with_events=False)
        fail = F.normalize(t.get("failure"))
        fail = fail or next((s.failure for s in obs.tcp_connect if s.failure), None)
        fail = fail or next((s.failure for s in obs.tls_handshakes if s.failure), None)
        kind = str(t.get("target_protocol") or "unknown")
        by_kind.setdefault(kind, []).append(fail is None)
        first_fail = first_fail or fail
    details = {k: f"{sum(v)}/{len(v)}" for k, v in by_kind.items()}
    dead = [k for k, v in by_kind.items() if not any(v)]
    if dead:
        return make_verdict(m, "anomaly", "tor.blocked", f"No Tor {', '.join(dead)} target could be reached "
                            f"({say(first_fail)}).", method="unreachable", details=details)
    summary = ", ".join(f"{k} {v}" for k, v in details.items())
    return make_verdict(m, "ok", "tor.ok", f"Tor targets reachable ({summary}).", details=details)


def classify_openvpn(m: Measurement, fps: Fingerprints) -> Verdict:
    """openvpn: TCP/UDP to the gateway, then the handshake (the experiment's ``failure``), then a fetch
    through the tunnel (``requests``)."""
    tk = m.test_keys
    if not isinstance(tk, dict):
        return make_verdict(m, "failure", "openvpn.no_data", "The measurement holds no results.")
    obs = m.observations(with_events=False)
    raw_tcp = tk.get("tcp_connect")
    connects = obs.tcp_connect
    if isinstance(raw_tcp, dict):  # a single connect, not a list
        connects = Observations.from_test_keys({"tcp_connect": [raw_tcp]}, with_events=False).tcp_connect
    failure = F.normalize(tk.get("failure"))
    remote = tk.get("remote") or m.input
    details = {"remote": remote, "failure": failure, "transport": tk.get("transport")}
    if connects and not any(t.success for t in connects):
        return make_verdict(m, "anomaly", "openvpn.tcp", f"The VPN gateway {remote} could not be reached "
                            f"({say(connects[0].failure)}).", method="vpn.blocked", details=details)
    if failure is not None:
        return make_verdict(m, "anomaly", "openvpn.handshake", f"The OpenVPN handshake with {remote} failed "
                            f"({say(failure)}).", method="vpn.blocked", details=details)
    if obs.requests and all(r.failure for r in obs.requests):
        return make_verdict(m, "anomaly", "openvpn.tunnel", f"The tunnel to {remote} came up but nothing could "
                            f"be fetched through it ({say(obs.requests[0].failure)}).", method="vpn.blocked",
                            details=details)
    return make_verdict(m, "ok", "openvpn.ok", f"The OpenVPN tunnel to {remote} came up and carried traffic.",
                        details=details)


def classify_riseupvpn(m: Measurement, fps: Fingerprints) -> Verdict:
    """riseupvpn: the provider API (CA certificate, configuration) over HTTPS, then the gateways."""
    tk = m.test_keys
    if not isinstance(tk, dict):
        return make_verdict(m, "failure", "riseupvpn.no_data", "The measurement holds no results.")
    out = scan(m.observations(with_events=False), lab=m.is_lab)
    first = out.first()
    gateways = tk.get("failing_gateways")
    details: dict[str, Any] = {"problems": [p.words() for p in out.problems][:6]}
    if first is not None:
        return make_verdict(m, "anomaly", "riseupvpn.api", f"RiseupVPN's service could not be used: "
                            f"{first.words()}.", method=first.method, details=details)
    if isinstance(gateways, list) and gateways:
        details["failing_gateways"] = len(gateways)
        return make_verdict(m, "anomaly", "riseupvpn.gateways", f"{len(gateways)} RiseupVPN gateways could not "
                            "be reached.", method="vpn.blocked", details=details)
    if out.ok_steps == 0:
        return make_verdict(m, "failure", "riseupvpn.no_data", "The measurement holds no network steps.")
    return make_verdict(m, "ok", "riseupvpn.ok", "RiseupVPN's service answered.", details=details)


def classify_meek(m: Measurement, fps: Fingerprints) -> Verdict:
    """meek_fronted_requests_test: a fronted request must reach the meek server's fixed greeting."""
    obs = m.observations(with_events=False)
    if not obs.requests:
        return make_verdict(m, "failure", "meek.no_data", "The measurement holds no request.")
    r = obs.requests[0]
    front = host_of(r.url)
    if r.failure is not None:
        return make_verdict(m, "anomaly", "meek.failed", f"The domain-fronted request via {front} failed "
                            f"({say(r.failure)}).", method="http.failure", details={"front": front})
    body = (r.response.body if r.response else None) or ""
    if r.response is not None and r.response.code == 200 and MEEK_OK_BODY in body:
        return make_verdict(m, "ok", "meek.ok", f"The domain-fronted request via {front} reached the meek server.",
                            details={"front": front})
    code = r.response.code if r.response else None
    return make_verdict(m, "down", "meek.front_refused", f"The CDN front {front} answered ({code}) but did not "
                        "pass the request to the meek server: the fronted service is gone, not blocked.",
                        details={"front": front, "code": code})
