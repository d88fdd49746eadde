"""Layer 2: pure analysis: per-measurement classification, fingerprints, detection.

``classify(m, fingerprints=None) -> Verdict`` judges one measurement from its raw observations with
the rules of its test's family (``analysis/registry.py``); it never raises: unusable data gives
``status="failure"`` with an explanation. Every verdict stores its family's stamp (``rules_version``);
``RULES_VERSION`` changes whenever any family's version does.
"""

from __future__ import annotations

from censorwatch.analysis.classify import classify
from censorwatch.analysis.rules import RULES, RULES_VERSION

__all__ = ["RULES", "RULES_VERSION", "classify"]
