"""TLS families: sni_blocking, echcheck and tlstool.

Each compares a handshake that should succeed with one that differs in a single thing the censor may
key on: the SNI (sni_blocking: a possibly blocked name against a control name, to the same test
helper), an Encrypted ClientHello (echcheck: with and without ECH, to the same server), how the
ClientHello is cut into segments (tlstool). The difference is the evidence.
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.experiments.common import is_network_failure, method_for
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import TLSHandshake
from censorwatch.model.verdict import Verdict

#: sni_blocking: a handshake that reached the helper, which has no certificate for the tested name
_REACHED = (None, F.SSL_INVALID_HOSTNAME)
_HELPER_UNREACHABLE = frozenset({F.CONNECTION_REFUSED, F.DNS_NXDOMAIN, F.ANDROID_DNS_CACHE_NO_DATA})


def classify_sni_blocking(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys or {}
    target, control = tk.get("target"), tk.get("control")
    if not isinstance(target, dict) or "failure" not in target:
        return make_verdict(m, "failure", "sni_blocking.no_data", "The measurement records no handshake with the "
                            "tested name.", family=SNI_BLOCKING)
    tf = F.normalize(target.get("failure"))
    cf = F.normalize(control.get("failure")) if isinstance(control, dict) else None
    control_ok = isinstance(control, dict) and cf in _REACHED
    sni = target.get("sni") or m.input
    helper = target.get("th_address") or "the test helper"
    details = {"target_failure": tf, "control_failure": cf, "sni": sni, "helper": helper}
    if tf in _REACHED:
        return make_verdict(m, "ok", "sni_blocking.ok", f"A TLS handshake naming {sni} reached {helper} (whose "
                            "own certificate does not name it, as expected): the name is not filtered.",
                            details=details, family=SNI_BLOCKING)
    if tf in _HELPER_UNREACHABLE or (not control_ok and tf == F.GENERIC_TIMEOUT) or not is_network_failure(tf):
        return make_verdict(m, "failure", "sni_blocking.helper_unreachable", f"The handshake naming {sni} failed "
                            f"({say(tf)}) and {helper} "
                            + ("could not be reached with the control name either" if not control_ok else
                               "was not reached in a way that points at the name") + ": no verdict.",
                            details=details, family=SNI_BLOCKING)
    return make_verdict(m, "anomaly", "sni_blocking.blocked", f"A TLS handshake naming {sni} failed ({say(tf)}) "
                        f"while the same helper answered the control name: filtering on the SNI.",
                        method=method_for("tls", tf), details=details, family=SNI_BLOCKING)


def _ech_handshakes(tk: dict[str, Any]) -> tuple[list[TLSHandshake], list[TLSHandshake]]:
    """(handshakes without ECH, handshakes with ECH): today's list (``echconfig`` marks ECH) or the
    first version's ``control``/``target`` pair."""
    plain: list[TLSHandshake] = []
    ech: list[TLSHandshake] = []
    for raw in tk.get("tls_handshakes") or []:
        h = TLSHandshake.from_raw(raw)
        if h is not None:
            (ech if isinstance(raw, dict) and raw.get("echconfig") else plain).append(h)
    for key, bucket in (("control", plain), ("target", ech)):
        h = TLSHandshake.from_raw(tk.get(key))
        if h is not None:
            bucket.append(h)
    return plain, ech


def classify_echcheck(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys or {}
    plain, ech = _ech_handshakes(tk)
    if not plain or not ech:
        return make_verdict(m, "failure", "echcheck.no_data", "The measurement lacks a handshake with or without "
                            "ECH to compare.", family=ECHCHECK)
    server = ech[0].server_name or m.domain or "the server"
    details = {"without_ech": [h.failure for h in plain], "with_ech": [h.failure for h in ech]}
    if all(h.failure is not None for h in plain):
        return make_verdict(m, "failure", "echcheck.server_unreachable", f"Handshakes with {server} failed even "
                            f"without ECH ({say(plain[0].failure)}): nothing to compare.", details=details,
                            family=ECHCHECK)
    bad = [h for h in ech if h.failure is not None and is_network_failure(h.failure)]
    if bad:
        return make_verdict(m, "anomaly", "echcheck.blocked", f"A handshake with {server} worked without ECH but "
                            f"failed with an Encrypted ClientHello ({say(bad[0].failure)}): ECH is being blocked.",
                            method=method_for("tls", bad[0].failure), details=details, family=ECHCHECK)
    if any(h.failure for h in ech):
        return make_verdict(m, "failure", "echcheck.probe_error", f"An ECH handshake with {server} failed with an "
                            f"error of the probe's TLS stack ({next(h.failure for h in ech if h.failure)}): no "
                            "verdict.", details=details, family=ECHCHECK)
    return make_verdict(m, "ok", "echcheck.ok", f"Handshakes with {server} worked with and without ECH.",
                        details=details, family=ECHCHECK)


def classify_tlstool(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys or {}
    exp = tk.get("experiment")
    methods = {k: F.normalize(v.get("failure")) for k, v in exp.items() if isinstance(v, dict)} \
        if isinstance(exp, dict) else {}
    if "vanilla" not in methods:
        return make_verdict(m, "failure", "tlstool.no_data", "The measurement records no plain handshake.",
                            family=TLSTOOL)
    vanilla = methods["vanilla"]
    worked = sorted(k for k, f in methods.items() if f is None and k != "vanilla")
    details = {"failures": methods}
    if vanilla is None:
        return make_verdict(m, "ok", "tlstool.ok", f"A plain TLS handshake with {m.input} worked.", details=details,
                            family=TLSTOOL)
    if not is_network_failure(vanilla):
        return make_verdict(m, "failure", "tlstool.probe_error", f"The plain handshake failed with an error of the "
                            f"probe ({vanilla}): no verdict.", details=details, family=TLSTOOL)
    if worked:
        return make_verdict(m, "anomaly", "tlstool.evaded", f"A plain TLS handshake with {m.input} failed "
                            f"({say(vanilla)}) but one with the ClientHello split ({', '.join(worked)}) worked: "
                            "a filter reads the ClientHello.", method=method_for("tls", vanilla), details=details,
                            family=TLSTOOL)
    return make_verdict(m, "anomaly", "tlstool.failed", f"No TLS handshake with {m.input} worked, split or not "
                        f"({say(vanilla)}); without a control this may also be the server's outage.",
                        method=method_for("tls", vanilla), details=details, family=TLSTOOL)


SNI_BLOCKING = Family(
    name="sni_blocking", tests=("sni_blocking",), version="sni_blocking-1", classify=classify_sni_blocking,
    summary="a TLS handshake naming a possibly blocked site against one naming a control, to one helper",
    rules={
        "sni_blocking.no_data": "no handshake with the tested name",
        "sni_blocking.ok": "the handshake reached the helper (success or ssl_invalid_hostname)",
        "sni_blocking.helper_unreachable": "the helper was unreachable (refused, NXDOMAIN, or the control failed "
                                           "too), or the failure is the probe's: no verdict",
        "sni_blocking.blocked": "reset, EOF, timeout or a forged certificate for the tested name only",
    },
)
ECHCHECK = Family(
    name="echcheck", tests=("echcheck",), version="echcheck-1", classify=classify_echcheck,
    summary="TLS handshakes with and without an Encrypted ClientHello to the same server",
    rules={
        "echcheck.no_data": "no handshake pair to compare",
        "echcheck.server_unreachable": "the handshake without ECH failed too: no comparison",
        "echcheck.blocked": "without ECH worked, with ECH failed on the network",
        "echcheck.probe_error": "an ECH handshake failed on the probe's own TLS stack: no verdict",
        "echcheck.ok": "handshakes worked with and without ECH",
    },
)
TLSTOOL = Family(
    name="tlstool", tests=("tlstool",), version="tlstool-1", classify=classify_tlstool,
    summary="a plain TLS handshake against ones with the ClientHello split or padded",
    rules={
        "tlstool.no_data": "no plain handshake recorded",
        "tlstool.ok": "the plain handshake worked",
        "tlstool.probe_error": "the plain handshake failed on the probe's side: no verdict",
        "tlstool.evaded": "the plain handshake failed, a split one worked: a filter reads the ClientHello",
        "tlstool.failed": "every handshake failed (no control: anomaly)",
    },
)
FAMILIES = [SNI_BLOCKING, ECHCHECK, TLSTOOL]
