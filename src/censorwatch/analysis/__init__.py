"""Layer 2: pure analysis: per-measurement classification, fingerprints, detection.

``classify(m, fingerprints=None) -> Verdict`` judges one measurement from its raw observations with
the rules of its test's family (``analysis/registry.py``); it never raises: unusable data gives
``status="failure"`` with an explanation. Every verdict stores its family's version
(``rules_version``); ``current_versions()`` are the versions a fresh verdict can carry, and
``RULES_VERSION`` changes whenever any of them does.
"""

from __future__ import annotations

from censorwatch.analysis.classify import classify
from censorwatch.analysis.rules import RULES, RULES_VERSION


def current_versions() -> frozenset[str]:
    """Every version a fresh verdict can carry (a stored verdict with another one is stale)."""
    from censorwatch.analysis.registry import registry

    return frozenset(registry().stamps)


__all__ = ["RULES", "RULES_VERSION", "classify", "current_versions"]
