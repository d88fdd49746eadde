"""Layer 2: pure analysis: per-measurement classification, fingerprints, detection.

``classify(m, fingerprints=None) -> Verdict`` judges one measurement from its raw observations,
dispatching on ``m.test_name``; it never raises: unusable data gives ``status="failure"`` with an
explanation. ``RULES_VERSION`` is stored with every verdict.
"""

from __future__ import annotations

from censorwatch.analysis.classify import classify
from censorwatch.analysis.rules import RULES, RULES_VERSION

__all__ = ["RULES", "RULES_VERSION", "classify"]
