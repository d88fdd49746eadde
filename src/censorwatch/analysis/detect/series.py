"""Verdict rows, the input of every detector, and their grouping into series.

A row is one classified measurement reduced to what detection needs. ``signal`` maps a verdict status
to evidence: ``anomaly``/``confirmed`` are the blocked signal, ``ok`` the open signal, and ``down``
(the control failed too: the site is down), ``failure`` (the measurement itself failed) and
``measured`` (a speed test or diagnostic) carry no evidence about censorship at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

BLOCKED = 1
OPEN = 0
NO_EVIDENCE = -1


class VerdictRow(NamedTuple):
    time: datetime  # aware UTC
    cc: str
    asn: str
    target: str  # domain, or the test name for tests without a domain
    status: str  # ok | anomaly | confirmed | down | failure | measured
    method: str | None
    uid: str


def signal(status: str) -> int:
    if status in ("anomaly", "confirmed"):
        return BLOCKED
    if status == "ok":
        return OPEN
    return NO_EVIDENCE


SeriesKey = tuple[str, str, str]  # (cc, asn, target)


def group_series(rows: Iterable[VerdictRow]) -> dict[SeriesKey, list[VerdictRow]]:
    """Rows per (cc, asn, target), each list sorted by time (then uid, for determinism)."""
    out: dict[SeriesKey, list[VerdictRow]] = defaultdict(list)
    for r in rows:
        out[(r.cc, r.asn, r.target)].append(r)
    for v in out.values():
        v.sort(key=lambda r: (r.time, r.uid))
    return dict(out)


def dominant_method(rows: Iterable[VerdictRow]) -> str | None:
    """The most frequent method among blocked-signal rows; confirmed rows count double, ties by name."""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.method and signal(r.status) == BLOCKED:
            counts[r.method] += 2 if r.status == "confirmed" else 1
    if not counts:
        return None
    return min(counts, key=lambda m: (-counts[m], m))
