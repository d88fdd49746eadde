"""Rules for the tests other than web_connectivity, one module per family."""

from __future__ import annotations

from collections.abc import Callable

from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

CLASSIFIERS: dict[str, Callable[[Measurement, Fingerprints], Verdict]] = {}
