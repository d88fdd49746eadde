"""Single-target primitives (methodology §7): urlgetter, stunreachability, tcp_connect and the ping
tests (tcpping, tlsping, quicping, simplequicping).

Each records the outcome of one operation (or the same one repeated) against one target, with no
control: an outage of the target cannot be told from blocking, so a network failure is an *anomaly*
at most, named after the step that failed. A failure that is not the network's (``unknown_failure:
unknown targetURL scheme``: the probe was given input it cannot use) is ``failure``, never a verdict
about the network. The pings keep their round-trip times in ``details``.
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.experiments.common import is_network_failure, median_ms, method_for
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import TCPConnect, TLSHandshake
from censorwatch.model.verdict import Verdict

#: urlgetter's ``failed_operation`` -> the step our mechanism names use.
_STEP = {"resolve": "dns", "connect": "tcp", "tls_handshake": "tls", "quic_handshake": "quic",
         "http_transaction": "http", "http_round_trip": "http"}


def _step_of(failure: str, failed_operation: object) -> str:
    if isinstance(failed_operation, str) and failed_operation in _STEP:
        return _STEP[failed_operation]
    return "dns" if failure in F.DNS_FAILURES else "http"


def _probe_error(m: Measurement, family: Family, failure: str) -> Verdict:
    return make_verdict(m, "failure", f"{family.name}.probe_error", f"The probe could not run the test as asked "
                        f"({failure.removeprefix('unknown_failure: ')}): an error about its input or itself, not "
                        "about the network.", details={"failure": failure}, family=family)


def classify_stunreachability(m: Measurement, fps: Fingerprints) -> Verdict:
    """Can the probe reach a STUN server (what Snowflake and WebRTC need)? ``failure`` null = it answered."""
    tk = m.test_keys
    target = (tk or {}).get("endpoint") or m.input or "the STUN server"
    if not isinstance(tk, dict) or "failure" not in tk:
        return make_verdict(m, "failure", "stunreachability.no_data", "The measurement records no STUN outcome.",
                            family=STUN)
    failure = F.normalize(tk.get("failure"))
    if failure is None:
        return make_verdict(m, "ok", "stunreachability.ok", f"The STUN server {target} answered.", family=STUN)
    if not is_network_failure(failure):
        return _probe_error(m, STUN, failure)
    method = method_for("dns", failure) if failure in F.DNS_FAILURES else "unreachable"
    return make_verdict(m, "anomaly", "stunreachability.failed", f"The STUN server {target} could not be reached "
                        f"({say(failure)}); without a control this may also be the server's own outage.",
                        method=method, family=STUN)


def classify_urlgetter(m: Measurement, fps: Fingerprints) -> Verdict:
    """urlgetter, OONI's generic fetch primitive: did the one operation on ``input`` work?"""
    tk = m.test_keys
    if not isinstance(tk, dict) or not any(k in tk for k in ("failure", "requests", "queries", "tcp_connect")):
        return make_verdict(m, "failure", "urlgetter.no_data", "The measurement records no fetch.", family=URLGETTER)
    failure = F.normalize(tk.get("failure"))
    target = m.input or "the URL"
    if failure is None:
        return make_verdict(m, "ok", "urlgetter.ok", f"{target} was fetched.", family=URLGETTER)
    if not is_network_failure(failure):
        return _probe_error(m, URLGETTER, failure)
    step = _step_of(failure, tk.get("failed_operation"))
    return make_verdict(m, "anomaly", "urlgetter.failed", f"Fetching {target} failed at the {step.upper()} step "
                        f"({say(failure)}); urlgetter has no control, so this may also be an outage.",
                        method=method_for(step, failure), family=URLGETTER)


def classify_tcp_connect(m: Measurement, fps: Fingerprints) -> Verdict:
    """tcp_connect (2015-2017): one TCP connection to ``input`` (host:port, often a Tor bridge)."""
    tk = m.test_keys
    if not isinstance(tk, dict) or "failure" not in tk:
        return make_verdict(m, "failure", "tcp_connect.no_data", "The measurement records no connection outcome.",
                            family=TCP_CONNECT)
    failure = F.normalize(tk.get("failure"))
    target = (m.input or "the endpoint").strip()
    if failure is None:
        return make_verdict(m, "ok", "tcp_connect.ok", f"A TCP connection to {target} was established.",
                            family=TCP_CONNECT)
    if not is_network_failure(failure):
        return _probe_error(m, TCP_CONNECT, failure)
    return make_verdict(m, "anomaly", "tcp_connect.failed", f"No TCP connection to {target} could be established "
                        f"({say(failure)}); without a control this may also be the endpoint's own outage.",
                        method=method_for("tcp", failure), family=TCP_CONNECT)


def _span(t0: float | None, t: float | None) -> float | None:
    return t - t0 if t is not None and t0 is not None and t >= t0 else None


def _ping_outcomes(m: Measurement) -> list[tuple[str, str | None, float | None]]:
    """(step, failure, seconds) of each ping: its last step (TLS after TCP), QUIC or quicping's reply."""
    tk = m.test_keys or {}
    out: list[tuple[str, str | None, float | None]] = []
    for p in tk.get("pings") or []:
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("quic_handshake"), dict):
            h = TLSHandshake.from_raw(p["quic_handshake"])
            if h is not None:
                out.append(("quic", h.failure, _span(h.t0, h.t)))
            continue
        if "responses" in p or "conn_id_dst" in p:  # quicping: version-negotiation probes
            resp = [r for r in p.get("responses") or [] if isinstance(r, dict) and not r.get("failure")]
            f = None if resp else (F.normalize(p.get("failure")) or F.GENERIC_TIMEOUT)
            rt, sent = (resp[0].get("t") if resp else None), p.get("t")
            out.append(("quic", f, _span(sent, rt) if isinstance(rt, float) and isinstance(sent, float) else None))
            continue
        tcp = TCPConnect.from_raw(p.get("tcp_connect"))
        tls = TLSHandshake.from_raw(p.get("tls_handshake"))
        if tcp is not None and (tcp.failure or tls is None):
            out.append(("tcp", tcp.failure, _span(tcp.t0, tcp.t)))
        elif tls is not None:
            start = tls.t0 if tls.t0 is not None else (tcp.t if tcp is not None else None)
            out.append(("tls", tls.failure, _span(start, tls.t)))
    return out


def classify_ping(m: Measurement, fps: Fingerprints) -> Verdict:
    """tcpping, tlsping, quicping, simplequicping: the same handshake repeated against one endpoint."""
    pings = _ping_outcomes(m)
    target = m.input or (m.test_keys or {}).get("domain") or "the endpoint"
    if not pings:
        return make_verdict(m, "failure", "ping.no_data", "No ping was recorded.", family=PING)
    ok = [p for p in pings if p[1] is None]
    rtt = median_ms(p[2] for p in ok if p[2] is not None)
    failures: dict[str, int] = {}
    for _, f, _ in pings:
        if f:
            failures[f] = failures.get(f, 0) + 1
    details: dict[str, Any] = {"pings": len(pings), "answered": len(ok), "median_rtt_ms": rtt, "failures": failures}
    if ok:
        tail = f", median round trip {rtt} ms" if rtt is not None else ""
        lost = f"; {len(pings) - len(ok)} failed" if len(ok) < len(pings) else ""
        return make_verdict(m, "ok", "ping.ok", f"{target} answered {len(ok)} of {len(pings)} "
                            f"{pings[0][0].upper()} handshakes{tail}{lost}.", details=details, family=PING)
    step, f, _ = pings[0]
    if f is not None and not is_network_failure(f):
        return _probe_error(m, PING, f)
    return make_verdict(m, "anomaly", "ping.failed", f"None of the {len(pings)} {step.upper()} handshakes with "
                        f"{target} worked ({say(f)}); without a control this may also be the endpoint's outage.",
                        method=method_for(step, f), details=details, family=PING)


_NC = "no control: a network failure is an anomaly at most"
URLGETTER = Family(
    name="urlgetter", tests=("urlgetter",), version="urlgetter-2", classify=classify_urlgetter,
    summary=f"one fetch (DNS, TCP, TLS, QUIC or HTTP) of a URL ({_NC})",
    rules={
        "urlgetter.no_data": "no fetch recorded",
        "urlgetter.probe_error": "a failure about the probe's input or itself (unknown URL scheme, ...): no verdict",
        "urlgetter.failed": "the fetch failed on the network (the failed operation names the step)",
        "urlgetter.ok": "the fetch worked",
    },
)
STUN = Family(
    name="stunreachability", tests=("stunreachability", "stun_reachability"), version="stunreachability-2",
    classify=classify_stunreachability, summary=f"a STUN binding request ({_NC})",
    rules={
        "stunreachability.no_data": "no STUN outcome recorded",
        "stunreachability.probe_error": "a failure about the probe's input or itself: no verdict",
        "stunreachability.failed": "the STUN server could not be reached",
        "stunreachability.ok": "the STUN server answered",
    },
)
TCP_CONNECT = Family(
    name="tcp_connect", tests=("tcp_connect",), version="tcp_connect-1", classify=classify_tcp_connect,
    summary=f"one TCP connection to host:port (2015-2017, {_NC})",
    rules={
        "tcp_connect.no_data": "no connection outcome recorded",
        "tcp_connect.probe_error": "a failure about the probe's input or itself: no verdict",
        "tcp_connect.failed": "the connection failed (timeout, refused, reset)",
        "tcp_connect.ok": "the connection was established",
    },
)
PING = Family(
    name="ping", tests=("tcpping", "tlsping", "quicping", "simplequicping"), version="ping-1", classify=classify_ping,
    summary=f"the same TCP, TLS or QUIC handshake repeated against one endpoint, with round-trip times ({_NC})",
    rules={
        "ping.no_data": "no ping recorded",
        "ping.probe_error": "a failure about the probe's input or itself: no verdict",
        "ping.failed": "every handshake failed (the step and failure name the mechanism)",
        "ping.ok": "at least one handshake worked; round-trip times and losses in details",
    },
)
FAMILIES = [URLGETTER, STUN, TCP_CONNECT, PING]
