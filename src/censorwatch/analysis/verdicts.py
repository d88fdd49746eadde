"""The one constructor of ``Verdict``: identity fields from the measurement, the family's stamp."""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.registry import COMMON_RULES, Family, current, family_of
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
    family: Family | None = None,
    **ooni: Any,
) -> Verdict:
    """A verdict on ``m`` by ``family`` (by default the family that judges ``m``), which must declare
    ``rule``; ``ooni`` holds the OONI-compatible keys (blocking, accessible, dns_consistency, *_match)
    and ``details``. ``rules_version`` is the family's stamp."""
    fam = current(family) if family is not None else family_of(m)
    assert rule in fam.rules or rule in COMMON_RULES, f"rule {rule!r} is not declared by family {fam.name!r}"
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
        rules_version=fam.stamp,
        explanation=explanation,
        fingerprint=fingerprint,
        **ooni,
    )
