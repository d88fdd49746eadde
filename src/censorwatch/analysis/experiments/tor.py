"""Tor families: ``tor`` (reachability of Tor's directory authorities and bridges) and the bootstrap
tests (``vanilla_tor``, ``torsf``, ``psiphon``, ``bridge_reachability``: did the tool start?).

Read from the raw outcome of each step (a target's own ``failure``, its TCP and TLS steps) and from the
bootstrap's failure and progress; never from ``success`` or summary keys. No control exists: failures
are anomalies at most.
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.legacy import PROBE_SETUP_ERRORS
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import Observations
from censorwatch.model.verdict import Verdict

#: ``tor``: more than this share of all targets failing is an anomaly (OONI's fastpath flags a
#: measurement when its blocking score, the share of targets that failed, exceeds one half).
MOSTLY_FAILED = 0.5
_TOOLS = {"torsf": "Tor over Snowflake", "vanilla_tor": "Tor", "psiphon": "Psiphon",
          "bridge_reachability": "Tor through the bridge", "bridgereachability": "Tor through the bridge"}


def _target_failure(t: dict[str, Any]) -> str | None:
    obs = Observations.from_test_keys(t, with_events=False)
    fail = F.normalize(t.get("failure"))
    fail = fail or next((s.failure for s in obs.tcp_connect if s.failure), None)
    return fail or next((s.failure for s in obs.tls_handshakes if s.failure), None)


def classify_tor(m: Measurement, fps: Fingerprints) -> Verdict:
    """Each target (directory authorities' OR and directory ports, bridges) reached or not."""
    tk = m.test_keys
    raw = tk.get("targets") if isinstance(tk, dict) else None
    targets = [t for t in raw.values() if isinstance(t, dict)] if isinstance(raw, dict) else []
    if not targets:
        return make_verdict(m, "failure", "tor.no_data", "The measurement lists no Tor targets.", family=TOR)
    by_kind: dict[str, list[bool]] = {}
    failures: dict[str, int] = {}
    for t in targets:
        fail = _target_failure(t)
        by_kind.setdefault(str(t.get("target_protocol") or "unknown"), []).append(fail is None)
        if fail:
            failures[fail] = failures.get(fail, 0) + 1
    counts = {k: f"{sum(v)}/{len(v)}" for k, v in by_kind.items()}
    n_failed = sum(failures.values())
    top = max(failures, key=lambda f: failures[f]) if failures else None
    details: dict[str, Any] = {"reached": counts, "failed": n_failed, "targets": len(targets),
                               "failures": failures}
    summary = ", ".join(f"{k} {v}" for k, v in counts.items())
    dead = [k for k, v in by_kind.items() if not any(v)]
    if dead:
        return make_verdict(m, "anomaly", "tor.blocked", f"No Tor {', '.join(dead)} target could be reached "
                            f"(mostly {say(top)}); reached: {summary}.", method="unreachable", details=details,
                            family=TOR)
    if n_failed > MOSTLY_FAILED * len(targets):
        return make_verdict(m, "anomaly", "tor.mostly_blocked", f"{n_failed} of {len(targets)} Tor targets could "
                            f"not be reached (mostly {say(top)}); a few still answered ({summary}), which is how "
                            "partial blocking of Tor looks.", method="unreachable", details=details, family=TOR)
    if n_failed:
        return make_verdict(m, "ok", "tor.partial", f"Tor was reachable: {len(targets) - n_failed} of {len(targets)} "
                            f"targets answered ({summary}); {n_failed} failed, too few to call it blocking "
                            "(bridges also go offline on their own).", details=details, family=TOR)
    return make_verdict(m, "ok", "tor.ok", f"Every Tor target was reached ({summary}).", details=details, family=TOR)


def classify_bootstrap(m: Measurement, fps: Fingerprints) -> Verdict:
    """Did the tool bootstrap? (``failure`` + progress, not ``success``)."""
    tk = m.test_keys
    name = m.test_name
    if not isinstance(tk, dict) or ("failure" not in tk and "bootstrap_time" not in tk):
        return make_verdict(m, "failure", "bootstrap.no_data", "The measurement does not say whether the "
                            "tool started.", family=BOOTSTRAP)
    failure = F.normalize(tk.get("failure"))
    progress = tk.get("tor_progress")
    summary = tk.get("tor_progress_summary")
    details: dict[str, Any] = {"failure": failure, "progress": progress, "transport": tk.get("transport_name"),
                               "bootstrap_time": tk.get("bootstrap_time")}
    if name in ("bridge_reachability", "bridgereachability"):
        details["bridge"] = tk.get("bridge_address") or m.input
    tool = _TOOLS.get(name, name)
    if failure is None:
        took = tk.get("bootstrap_time")
        took_words = f" (bootstrap took {float(took):.0f} s)" if isinstance(took, int | float) and took else ""
        return make_verdict(m, "ok", "bootstrap.ok", f"{tool} started and connected{took_words}.", details=details,
                            family=BOOTSTRAP)
    if failure in PROBE_SETUP_ERRORS:
        return make_verdict(m, "failure", "bootstrap.probe_error", f"The probe could not run {tool} "
                            f"({failure.removeprefix('unknown_failure: ')}): a problem of the probe's own set-up, "
                            "not of the network.", details=details, family=BOOTSTRAP)
    if progress == 0 and tk.get("tor_progress_tag") in (None, "starting"):
        return make_verdict(m, "failure", "bootstrap.not_started", f"{tool} never got past starting (0 %, "
                            f"{say(failure)}): it did not reach the network, so this says nothing about "
                            "blocking.", details=details, family=BOOTSTRAP)
    where = f", stuck at {progress}% ({summary})" if isinstance(progress, int) and summary else ""
    method = "tcp.timeout" if failure == F.GENERIC_TIMEOUT and progress in (5, 10) else "unreachable"
    return make_verdict(m, "anomaly", "bootstrap.failed", f"{tool} could not start ({say(failure)}{where}); "
                        "this test has no control, so it may be blocking or an outage of the tool's own servers.",
                        method=method, details=details, family=BOOTSTRAP)


TOR = Family(
    name="tor", tests=("tor",), version="tor-2", classify=classify_tor,
    summary="reachability of Tor's directory authorities (OR and directory ports) and bridges",
    rules={
        "tor.no_data": "no targets listed",
        "tor.blocked": "every target of one kind (or_port, dir_port, obfs4, ...) failed",
        "tor.mostly_blocked": "more than half of all targets failed (partial blocking; OONI's threshold)",
        "tor.partial": "some targets failed, no kind entirely and at most half in all: reachable",
        "tor.ok": "every target was reached",
    },
)
BOOTSTRAP = Family(
    name="bootstrap", tests=("vanilla_tor", "torsf", "psiphon", "bridge_reachability", "bridgereachability"),
    version="bootstrap-2", classify=classify_bootstrap,
    summary="whether Tor (directly, over Snowflake or through one bridge) or Psiphon bootstrapped",
    rules={
        "bootstrap.no_data": "no failure or bootstrap_time recorded",
        "bootstrap.failed": "the bootstrap failed after reaching the network",
        "bootstrap.not_started": "the tool never left 0 % (starting): it did not reach the network",
        "bootstrap.probe_error": "the probe could not run the tool (tor too old, transport missing)",
        "bootstrap.ok": "the bootstrap completed",
    },
)
FAMILIES = [TOR, BOOTSTRAP]
