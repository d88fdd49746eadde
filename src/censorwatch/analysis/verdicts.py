"""Build a ``Verdict`` with the identity fields of the measurement it judges."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from censorwatch.analysis.rules import RULES, RULES_VERSION
from censorwatch.model.measurement import Measurement, format_time
from censorwatch.model.verdict import Fingerprint, Status, Verdict

if TYPE_CHECKING:
    from censorwatch.analysis.registry import Family


def make_verdict(
    m: Measurement,
    status: Status,
    rule: str,
    explanation: str,
    *,
    method: str | None = None,
    fingerprint: Fingerprint | None = None,
    family: Family | None = None,
    **ooni: Any,
) -> Verdict:
    """``ooni`` holds the OONI-compatible keys (blocking, accessible, dns_consistency, *_match, details).

    A verdict of a registry ``family`` carries that family's rule ids and version; one without carries
    the common ``RULES`` and ``RULES_VERSION``."""
    rules, version = (family.rules, family.version) if family is not None else (RULES, RULES_VERSION)
    assert rule in rules, f"undocumented rule id {rule!r}"
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
        rules_version=version,
        explanation=explanation,
        fingerprint=fingerprint,
        **ooni,
    )
