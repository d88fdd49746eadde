"""The shape of one test family in the analysis registry.

A *family* is the unit the rules are versioned by: the OONI test names it judges (old spellings
included), one ``classify`` for all of them, every rule id its verdicts can carry with one line saying
what it decides, and a ``version`` that changes whenever any of its rules changes behaviour. A stored
verdict is stale only when its own family's version (or, for families that read fingerprints, the
active fingerprint set) differs from the one that made it, so changing the Tor rules re-judges Tor
measurements and nothing else.

Every family module declares ``FAMILY`` (or ``FAMILIES``) of this type; the dispatcher collects them
and refuses two families claiming one test name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

if TYPE_CHECKING:
    from censorwatch.analysis.fingerprints import Fingerprints

Classifier = Callable[[Measurement, "Fingerprints"], Verdict]


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    tests: tuple[str, ...]
    version: str
    rules: Mapping[str, str]
    classify: Classifier
    #: verdicts of this family depend on the active fingerprint sets (a new set makes them stale)
    uses_fingerprints: bool = False
    #: one sentence for docs and ``censorwatch rules``: what the family's tests measure
    summary: str = ""
