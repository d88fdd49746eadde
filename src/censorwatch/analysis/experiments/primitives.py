"""stunreachability and urlgetter (methodology §7): one target, one recorded ``failure``, no control.

Both record the outcome of a single operation in ``test_keys.failure`` (a raw failure string, i.e.
evidence, not the probe's conclusion). Without a control an outage of the target cannot be told from
blocking, so a failure is an *anomaly* at most; the step that failed names the mechanism.
"""

from __future__ import annotations

from censorwatch.analysis.experiments.common import method_for
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

#: urlgetter's ``failed_operation`` -> the step our mechanism names use.
_STEP = {"resolve": "dns", "connect": "tcp", "tls_handshake": "tls", "quic_handshake": "tls",
         "http_transaction": "http", "http_round_trip": "http"}


def _step_of(failure: str, failed_operation: object) -> str:
    if isinstance(failed_operation, str) and failed_operation in _STEP:
        return _STEP[failed_operation]
    return "dns" if failure in F.DNS_FAILURES else "http"


def classify_stunreachability(m: Measurement, fps: Fingerprints) -> Verdict:
    """Can the probe reach a STUN server (what Snowflake needs)? ``failure`` null = the binding answered."""
    tk = m.test_keys
    target = (tk or {}).get("endpoint") or m.input or "the STUN server"
    if not isinstance(tk, dict) or "failure" not in tk:
        return make_verdict(m, "failure", "stunreachability.no_data", "The measurement records no STUN outcome.")
    failure = F.normalize(tk.get("failure"))
    if failure is None:
        return make_verdict(m, "ok", "stunreachability.ok", f"The STUN server {target} answered.")
    method = method_for("dns", failure) if failure in F.DNS_FAILURES else "unreachable"
    return make_verdict(m, "anomaly", "stunreachability.failed", f"The STUN server {target} could not be reached "
                        f"({say(failure)}); without a control this may also be the server's own outage.",
                        method=method)


def classify_urlgetter(m: Measurement, fps: Fingerprints) -> Verdict:
    """urlgetter, OONI's generic fetch primitive: did the one fetch of ``input`` work?"""
    tk = m.test_keys
    if not isinstance(tk, dict) or not any(k in tk for k in ("failure", "requests", "queries", "tcp_connect")):
        return make_verdict(m, "failure", "urlgetter.no_data", "The measurement records no fetch.")
    failure = F.normalize(tk.get("failure"))
    target = m.input or "the URL"
    if failure is None:
        return make_verdict(m, "ok", "urlgetter.ok", f"{target} was fetched.")
    step = _step_of(failure, tk.get("failed_operation"))
    return make_verdict(m, "anomaly", "urlgetter.failed", f"Fetching {target} failed at the {step.upper()} step "
                        f"({say(failure)}); urlgetter has no control, so this may also be an outage.",
                        method=method_for(step, failure))
