"""Layer 2: pure analysis: per-measurement classification, fingerprints, detection.

``classify(m, fingerprints=None) -> Verdict`` judges one measurement from its raw observations,
dispatching on ``m.test_name``; it never raises: unusable data gives ``status="failure"`` with an
explanation. Every verdict stores the version of the rules that made it: ``RULES_VERSION`` for the
common and Web Connectivity rules, each test family's own otherwise (``current_versions()``).
"""

from __future__ import annotations

from censorwatch.analysis.classify import classify
from censorwatch.analysis.rules import RULES, RULES_VERSION


def current_versions() -> frozenset[str]:
    """Every rules version a fresh verdict can carry: ``RULES_VERSION`` (common and web_connectivity),
    each test family's version and the platform area's (a stored verdict with any other is stale)."""
    from censorwatch.analysis import platform, throttle, vpn
    from censorwatch.analysis.experiments import FAMILIES

    return frozenset({RULES_VERSION, vpn.RULES_VERSION, throttle.RULES_VERSION, platform.RULES_VERSION,
                      *(f.version for f in FAMILIES)})


__all__ = ["RULES", "RULES_VERSION", "classify", "current_versions"]
