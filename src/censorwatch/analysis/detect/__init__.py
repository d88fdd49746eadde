"""Detection (issue 5): pure functions over verdict rows and hourly volumes.

- ``bayes.detect``: our blocking detector (two-state HMM over per-measurement verdicts);
- ``cusum.detect``: OONI's CUSUM baseline with OONI's parameters;
- ``outage.detect``: network outages against the network's own sliding-window baseline;
- ``incidents.merge``: events of one target across a country's networks, with confidence rules.
"""

from __future__ import annotations

from censorwatch.analysis.detect.series import VerdictRow, group_series, signal

__all__ = ["VerdictRow", "group_series", "signal"]
