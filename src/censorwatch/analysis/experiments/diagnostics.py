"""Network diagnostics: portfiltering, tlsmiddlebox, multi_protocol_traceroute, ddr, captive_portal,
example.

They describe the path or the resolver (which ports a helper answers on, at which hop a TLS middlebox
sits, the route, whether the resolver advertises encrypted DNS), not whether a site is blocked: a run
that worked is ``measured`` with its figures in ``details``; one that did not is ``failure``. Never
``anomaly``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

_TRACEROUTES = ("multi_protocol_traceroute", "multi_protocol_traceroute_test", "traceroute",
                "parasitic_traceroute", "parasitic_traceroute_test", "parasitic_tcp_traceroute_test")


def _v(m: Measurement, rule: str, text: str, details: dict[str, Any]) -> Verdict:
    return make_verdict(m, "measured", rule, text + " (a diagnostic, not a censorship verdict).", details=details,
                        family=DIAGNOSTICS)


def _portfiltering(m: Measurement, tk: dict[str, Any]) -> Verdict:
    obs = m.observations(with_events=False)
    if not obs.tcp_connect:
        return make_verdict(m, "failure", "diagnostics.no_data", "No port was tried.", family=DIAGNOSTICS)
    by = Counter("open" if t.success else (t.failure or "failed") for t in obs.tcp_connect)
    open_ports = sorted({t.port for t in obs.tcp_connect if t.success and t.port is not None})
    timed_out = sorted({t.port for t in obs.tcp_connect if t.failure == F.GENERIC_TIMEOUT and t.port is not None})
    details = {"ports": len(obs.tcp_connect), "outcomes": dict(by), "open": open_ports[:64],
               "timed_out": timed_out[:64]}
    words = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in by.most_common())
    return _v(m, "diagnostics.portfiltering", f"Ports tried towards the test helper: {len(obs.tcp_connect)} "
              f"({words})", details)


def _ttl_of_end(trace: Any) -> tuple[int | None, str | None]:
    """(the TTL at which the handshake got its first non-timeout outcome, that outcome)."""
    if not isinstance(trace, dict):
        return None, None
    for it in trace.get("iterations") or []:
        if not isinstance(it, dict):
            continue
        hs = it.get("handshake")
        f = F.normalize(hs.get("failure")) if isinstance(hs, dict) else None
        if f != F.GENERIC_TIMEOUT:
            return it.get("ttl") if isinstance(it.get("ttl"), int) else None, f or "ok"
    return None, None


def _tlsmiddlebox(m: Measurement, tk: dict[str, Any]) -> Verdict:
    traces = [t for t in tk.get("iterative_trace") or [] if isinstance(t, dict)]
    if not traces:
        return make_verdict(m, "failure", "diagnostics.no_data", "No TLS trace was recorded.", family=DIAGNOSTICS)
    rows: list[dict[str, Any]] = []
    note = ""
    for t in traces:
        cttl, cres = _ttl_of_end(t.get("control_trace"))
        ttl, res = _ttl_of_end(t.get("target_trace"))
        rows.append({"address": t.get("address"), "control_ttl": cttl, "control": cres, "target_ttl": ttl,
                     "target": res})
        if not note and ttl and cttl and res != "ok" and ttl < cttl:
            note = (f"; towards {t.get('address')} the handshake with the target name ended ({res}) at hop "
                    f"{ttl}, before the server at hop {cttl}: a middlebox sits on the path")
    return _v(m, "diagnostics.tlsmiddlebox", f"TLS handshakes traced hop by hop towards {len(rows)} addresses"
              f"{note}", {"traces": rows})


def _hops(v: Any) -> list[dict[str, Any]]:
    if isinstance(v, dict):
        v = v.get("hops")
    return [h for h in v or [] if isinstance(h, dict)] if isinstance(v, list) else []


def _traceroute(m: Measurement, tk: dict[str, Any]) -> Verdict:
    per: dict[str, int] = {}
    for key, val in tk.items():
        if key.startswith("test_") and key.endswith("traceroute"):
            if isinstance(val, dict) and any(k.startswith("hops_") for k in val):
                for port, hops in val.items():
                    per[f"{key.removeprefix('test_').removesuffix('_traceroute')}:{port.removeprefix('hops_')}"] = \
                        len(_hops(hops))
            else:
                per[key.removeprefix("test_").removesuffix("_traceroute")] = len(_hops(val))
    if not per:
        return make_verdict(m, "failure", "diagnostics.no_data", "No traceroute hops were recorded.",
                            family=DIAGNOSTICS)
    return _v(m, "diagnostics.traceroute", f"Traceroute: {len(per)} probes, up to {max(per.values())} answering "
              "hops", {"hops": per})


def _ddr(m: Measurement, tk: dict[str, Any]) -> Verdict:
    failure = F.normalize(tk.get("failure"))
    supports = tk.get("supports_ddr")
    resolver = tk.get("resolver") or m.input or "the system resolver"
    if failure is not None and supports is not True:
        return make_verdict(m, "failure", "diagnostics.failed", f"The DDR query to {resolver} failed ({failure}).",
                            details={"failure": failure}, family=DIAGNOSTICS)
    return _v(m, "diagnostics.ddr", f"The resolver {resolver} " + ("advertises" if supports else "does not advertise")
              + " encrypted DNS endpoints (DDR)", {"supports_ddr": bool(supports), "resolver": resolver})


def _generic(m: Measurement, tk: dict[str, Any]) -> Verdict:
    failure = F.normalize(tk.get("failure"))
    if failure is not None:
        return make_verdict(m, "failure", "diagnostics.failed", f"The {m.test_name} test did not complete "
                            f"({failure}).", details={"failure": failure}, family=DIAGNOSTICS)
    keys = sorted(k for k, v in tk.items() if not isinstance(v, dict | list))[:12]
    return _v(m, "diagnostics.ran", f"The {m.test_name} test ran", {k: tk[k] for k in keys})


_BY_TEST = {"portfiltering": _portfiltering, "tlsmiddlebox": _tlsmiddlebox, "ddr": _ddr,
            **{name: _traceroute for name in _TRACEROUTES}}


def classify_diagnostic(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys
    if not isinstance(tk, dict) or not tk:
        return make_verdict(m, "failure", "diagnostics.no_data", "The measurement holds no results.",
                            family=DIAGNOSTICS)
    return _BY_TEST.get(m.test_name, _generic)(m, tk)


DIAGNOSTICS = Family(
    name="diagnostics",
    tests=("portfiltering", "tlsmiddlebox", "ddr", *_TRACEROUTES, "captive_portal", "captiveportal", "example"),
    version="diagnostics-1", classify=classify_diagnostic,
    summary="network diagnostics (ports, TLS middlebox position, routes, DDR): status measured",
    rules={
        "diagnostics.no_data": "nothing recorded to describe",
        "diagnostics.failed": "the diagnostic did not complete: no figure",
        "diagnostics.portfiltering": "which helper ports connected, were refused or timed out",
        "diagnostics.tlsmiddlebox": "the hop at which handshakes with the target name end, against a control name",
        "diagnostics.traceroute": "the hops each traceroute probe got answers from",
        "diagnostics.ddr": "whether the resolver advertises encrypted DNS endpoints (DDR)",
        "diagnostics.ran": "captive_portal, example: the test ran (its keys in details)",
    },
)
FAMILIES = [DIAGNOSTICS]
