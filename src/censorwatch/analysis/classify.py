"""Dispatch one measurement to the rules of its test; never raise."""

from __future__ import annotations

import logging
from collections.abc import Callable

from censorwatch.analysis.fingerprints import Fingerprints, default_fingerprints
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.web_connectivity import classify_web_connectivity
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

log = logging.getLogger(__name__)

Classifier = Callable[[Measurement, Fingerprints], Verdict]


def _registry() -> dict[str, Classifier]:
    from censorwatch.analysis.experiments import CLASSIFIERS

    return {"web_connectivity": classify_web_connectivity, **CLASSIFIERS}


_CLASSIFIERS: dict[str, Classifier] | None = None


def classify(m: Measurement, fingerprints: Fingerprints | None = None) -> Verdict:
    """The verdict on ``m`` (pure: same input, same verdict). See docs/classification.md."""
    global _CLASSIFIERS
    if _CLASSIFIERS is None:
        _CLASSIFIERS = _registry()
    fps = fingerprints if fingerprints is not None else default_fingerprints()
    fn = _CLASSIFIERS.get(m.test_name)
    if fn is None:
        return make_verdict(m, "failure", "unknown_test", f"censorwatch has no rules for the test "
                            f"{m.test_name!r}, so it gives no verdict.")
    try:
        return fn(m, fps)
    except Exception as exc:  # pragma: no cover - a bug or data the rules never saw; keep going
        log.exception("classify failed on %s", m.source)
        return make_verdict(m, "failure", "classify_error", f"The measurement could not be judged: it is "
                            f"malformed in an unexpected way ({type(exc).__name__}: {exc}).")
