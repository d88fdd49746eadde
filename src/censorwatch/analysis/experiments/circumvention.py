"""Circumvention families: openvpn, riseupvpn, meek_fronted_requests_test and the tunnel tests of the
YAML era (openvpn_client_test, lantern, psiphon_test) plus shadowsocks.

Read from the raw outcome of each step: TCP to the gateway, the handshake's own failure, the requests
made through the tunnel, the page fetched through it. Never from ``success``/``*_status``/``*_blocking``
summaries. No control exists: failures are anomalies at most.
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.experiments.common import expired_genuine, host_of, is_network_failure, scan
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import Observations
from censorwatch.model.verdict import Verdict

MEEK_OK_BODY = "I’m just a happy little web server."
_LEGACY_TUNNELS = {"openvpn_client_test": "OpenVPN", "lantern_circumvention_tool_test": "Lantern",
                   "lantern": "Lantern", "psiphon_test": "Psiphon", "shadowsocks": "Shadowsocks"}


def _handshake_failure(tk: dict[str, Any]) -> tuple[bool, str | None]:
    """(a handshake was recorded, its failure): today's ``openvpn_handshake[]`` or the top-level ``failure``."""
    hs = tk.get("openvpn_handshake")
    if isinstance(hs, list) and hs:
        fails = [F.normalize(h.get("failure")) for h in hs if isinstance(h, dict)]
        ok = any(f is None for f in fails)
        return True, None if ok else next((f for f in fails if f), "unknown_failure: handshake")
    return "failure" in tk, F.normalize(tk.get("failure"))


def classify_openvpn(m: Measurement, fps: Fingerprints) -> Verdict:
    """openvpn: TCP/UDP to the gateway, then the handshake, then a fetch through the tunnel."""
    tk = m.test_keys
    if not isinstance(tk, dict) or not tk:
        return make_verdict(m, "failure", "openvpn.no_data", "The measurement holds no results.", family=OPENVPN)
    if m.test_name in _LEGACY_TUNNELS:
        return classify_legacy_tunnel(m, fps)
    obs = m.observations(with_events=False)
    raw_tcp = tk.get("tcp_connect")
    connects = obs.tcp_connect
    if isinstance(raw_tcp, dict):  # a single connect, not a list
        connects = Observations.from_test_keys({"tcp_connect": [raw_tcp]}, with_events=False).tcp_connect
    recorded, failure = _handshake_failure(tk)
    remote = tk.get("remote") or m.input
    details = {"remote": remote, "failure": failure, "transport": tk.get("transport")}
    if connects and not any(t.success for t in connects):
        return make_verdict(m, "anomaly", "openvpn.tcp", f"The VPN gateway {remote} could not be reached "
                            f"({say(connects[0].failure)}).", method="vpn.blocked", details=details, family=OPENVPN)
    if failure is not None:
        return make_verdict(m, "anomaly", "openvpn.handshake", f"The OpenVPN handshake with {remote} failed "
                            f"({say(failure)}).", method="vpn.blocked", details=details, family=OPENVPN)
    if obs.requests and all(r.failure for r in obs.requests):
        return make_verdict(m, "anomaly", "openvpn.tunnel", f"The tunnel to {remote} came up but nothing could "
                            f"be fetched through it ({say(obs.requests[0].failure)}).", method="vpn.blocked",
                            details=details, family=OPENVPN)
    if not recorded and not connects and not obs.requests:
        return make_verdict(m, "failure", "openvpn.no_data", "The measurement records no connection, handshake "
                            "or fetch.", family=OPENVPN)
    return make_verdict(m, "ok", "openvpn.ok", f"The OpenVPN tunnel to {remote} came up"
                        + (" and carried traffic." if obs.requests else "."), details=details, family=OPENVPN)


def classify_legacy_tunnel(m: Measurement, fps: Fingerprints) -> Verdict:
    """The YAML-era tunnel tests (ts-013, ts-016) and shadowsocks: a page fetched through the tunnel is
    proof it worked; otherwise the recorded failure."""
    tk = m.test_keys or {}
    tool = _LEGACY_TUNNELS.get(m.test_name, m.test_name)
    failure = F.normalize(tk.get("failure"))
    body = tk.get("body")
    fetched = isinstance(body, str) and bool(body.strip())
    obs = m.observations(with_events=False)
    fetched = fetched or any(r.failure is None and r.response is not None for r in obs.requests)
    details = {"failure": failure, "fetched_through_tunnel": fetched}
    if fetched:
        after = f"; the tool reported {say(failure)} afterwards" if failure else ""
        return make_verdict(m, "ok", "openvpn.legacy_ok", f"{tool} connected and a page was fetched through "
                            f"it{after}.", details=details, family=OPENVPN)
    if failure is None and "failure" not in tk and "success" not in tk:
        return make_verdict(m, "failure", "openvpn.no_data", "The measurement records no outcome.", family=OPENVPN)
    if failure is None and tk.get("success") is not False and not obs.requests:
        return make_verdict(m, "ok", "openvpn.legacy_ok", f"{tool} reported a working connection (no failure "
                            "recorded; no page fetched through it was kept).", details=details, family=OPENVPN)
    if failure is not None and not is_network_failure(failure):
        return make_verdict(m, "failure", "openvpn.tool_error", f"{tool} stopped with an error of its own "
                            f"({failure.removeprefix('unknown_failure').strip(': ')}) before anything was fetched; "
                            "this does not show whether the network blocks it.", details=details, family=OPENVPN)
    return make_verdict(m, "anomaly", "openvpn.legacy_failed", f"{tool} could not connect or fetch a page through "
                        f"its tunnel ({say(failure) if failure else 'no page came back'}).", method="vpn.blocked",
                        details=details, family=OPENVPN)


def classify_riseupvpn(m: Measurement, fps: Fingerprints) -> Verdict:
    """riseupvpn: the provider API (CA certificate, configuration) over HTTPS, then the gateways."""
    tk = m.test_keys
    if not isinstance(tk, dict):
        return make_verdict(m, "failure", "riseupvpn.no_data", "The measurement holds no results.", family=RISEUPVPN)
    obs = m.observations(with_events=False)
    for h in obs.tls_handshakes:
        facts = expired_genuine(h, m.measurement_start_time)
        if facts is not None:
            return make_verdict(m, "down", "riseupvpn.expired_certificate", f"Riseup's server {h.server_name} "
                                f"presented its own certificate, for the right name, which had expired on "
                                f"{facts.not_after:%Y-%m-%d}: the provider's neglect, visible to everyone, not "
                                "interception.", details={"issuer": facts.issuer,
                                                          "not_after": f"{facts.not_after:%Y-%m-%dT%H:%M:%SZ}"},
                                family=RISEUPVPN)
    out = scan(obs, lab=m.is_lab)
    first = out.first()
    gateways = tk.get("failing_gateways")
    details: dict[str, Any] = {"problems": [p.words() for p in out.problems][:6]}
    if first is not None:
        return make_verdict(m, "anomaly", "riseupvpn.api", f"RiseupVPN's service could not be used: "
                            f"{first.words()}.", method=first.method, details=details, family=RISEUPVPN)
    if isinstance(gateways, list) and gateways:
        details["failing_gateways"] = len(gateways)
        return make_verdict(m, "anomaly", "riseupvpn.gateways", f"{len(gateways)} RiseupVPN gateways could not "
                            "be reached.", method="vpn.blocked", details=details, family=RISEUPVPN)
    if out.ok_steps == 0:
        return make_verdict(m, "failure", "riseupvpn.no_data", "The measurement holds no network steps.",
                            family=RISEUPVPN)
    return make_verdict(m, "ok", "riseupvpn.ok", "RiseupVPN's service answered.", details=details, family=RISEUPVPN)


def classify_meek(m: Measurement, fps: Fingerprints) -> Verdict:
    """meek_fronted_requests_test: a fronted request must reach the meek server's fixed greeting."""
    obs = m.observations(with_events=False)
    if not obs.requests:
        return make_verdict(m, "failure", "meek.no_data", "The measurement holds no request.", family=MEEK)
    r = obs.requests[0]
    front = host_of(r.url)
    if r.failure is not None:
        return make_verdict(m, "anomaly", "meek.failed", f"The domain-fronted request via {front} failed "
                            f"({say(r.failure)}).", method="http.failure", details={"front": front}, family=MEEK)
    body = (r.response.body if r.response else None) or ""
    if r.response is not None and r.response.code == 200 and MEEK_OK_BODY in body:
        return make_verdict(m, "ok", "meek.ok", f"The domain-fronted request via {front} reached the meek server.",
                            details={"front": front}, family=MEEK)
    code = r.response.code if r.response else None
    return make_verdict(m, "down", "meek.front_refused", f"The CDN front {front} answered ({code}) but did not "
                        "pass the request to the meek server: the fronted service is gone, not blocked.",
                        details={"front": front, "code": code}, family=MEEK)


OPENVPN = Family(
    name="openvpn", tests=("openvpn", *_LEGACY_TUNNELS), version="openvpn-2", classify=classify_openvpn,
    summary="an OpenVPN (or, in the YAML era, Lantern/Psiphon; and Shadowsocks) tunnel: gateway, handshake, "
            "traffic through it",
    rules={
        "openvpn.no_data": "no connection, handshake or fetch recorded",
        "openvpn.tcp": "the gateway could not be reached",
        "openvpn.handshake": "the OpenVPN handshake failed",
        "openvpn.tunnel": "the tunnel came up but no fetch through it worked",
        "openvpn.ok": "the tunnel came up (and carried traffic, when a fetch was made)",
        "openvpn.legacy_ok": "YAML-era tunnel tests, shadowsocks: a page was fetched through the tunnel, or the "
                             "tool reported no failure",
        "openvpn.legacy_failed": "YAML-era tunnel tests, shadowsocks: a network failure and no page fetched",
        "openvpn.tool_error": "the tunnel tool stopped with its own error before fetching: no verdict",
    },
)
RISEUPVPN = Family(
    name="riseupvpn", tests=("riseupvpn",), version="riseupvpn-2", classify=classify_riseupvpn,
    summary="RiseupVPN's provider API over HTTPS and its gateways",
    rules={
        "riseupvpn.no_data": "no network steps recorded",
        "riseupvpn.expired_certificate": "the API's own certificate (right name) had expired: down, not interception",
        "riseupvpn.api": "a step towards Riseup's API failed",
        "riseupvpn.gateways": "gateways could not be reached",
        "riseupvpn.ok": "the API answered",
    },
)
MEEK = Family(
    name="meek", tests=("meek_fronted_requests_test", "meek_fronted_requests"), version="meek-2",
    classify=classify_meek, summary="a domain-fronted request to a meek server",
    rules={
        "meek.no_data": "no request recorded",
        "meek.failed": "the fronted request failed",
        "meek.front_refused": "the CDN answered without reaching the meek server: the front is gone",
        "meek.ok": "the meek server's greeting came back",
    },
)
FAMILIES = [OPENVPN, RISEUPVPN, MEEK]
