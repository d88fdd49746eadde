"""Dispatch one measurement to the family that judges it; never raise."""

from __future__ import annotations

import logging

from censorwatch.analysis.fingerprints import Fingerprints, default_fingerprints
from censorwatch.analysis.registry import Classifier, fingerprints_identity, registry
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

log = logging.getLogger(__name__)

__all__ = ["Classifier", "classify"]


def classify(m: Measurement, fingerprints: Fingerprints | None = None) -> Verdict:
    """The verdict on ``m`` (pure: same input, same verdict). See docs/classification.md."""
    reg = registry()
    family = reg.family_of(m)
    if family is reg.unknown:
        return make_verdict(m, "failure", "unknown_test", f"censorwatch has no rules for the test "
                            f"{m.test_name!r}, so it gives no verdict.", family=family)
    fps = fingerprints if fingerprints is not None else default_fingerprints()
    try:
        v = family.classify(m, fps)
    except Exception as exc:  # pragma: no cover - a bug or data the rules never saw; keep going
        log.exception("classify failed on %s", m.source)
        v = make_verdict(m, "failure", "classify_error", f"The measurement could not be judged: it is "
                         f"malformed in an unexpected way ({type(exc).__name__}: {exc}).", family=family)
    if family.uses_fingerprints:
        v.fingerprints = fingerprints_identity(fps)
    return v
