"""Build a ``Verdict`` with the identity fields of the measurement it judges."""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.rules import RULES, RULES_VERSION
from censorwatch.model.measurement import Measurement, format_time
from censorwatch.model.verdict import Fingerprint, Status, Verdict


def make_verdict(
    m: Measurement,
    status: Status,
    rule: str,
    explanation: str,
    *,
    method: str | None = None,
    fingerprint: Fingerprint | None = None,
    **ooni: Any,
) -> Verdict:
    """``ooni`` holds the OONI-compatible keys (blocking, accessible, dns_consistency, *_match, details)."""
    assert rule in RULES, f"undocumented rule id {rule!r}"
    return Verdict(
        source=m.source,
        measurement_uid=m.measurement_uid,
        report_id=m.report_id,
        test_name=m.test_name,
        probe_cc=m.probe_cc,
        probe_asn=m.probe_asn,
        input=m.input,
        domain=m.domain,
        measurement_start_time=format_time(m.measurement_start_time),
        status=status,
        method=method,
        rule=rule,
        rules_version=RULES_VERSION,
        explanation=explanation,
        fingerprint=fingerprint,
        **ooni,
    )
