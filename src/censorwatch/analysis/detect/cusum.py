"""OONI's event detector as the baseline (reference section 6), with OONI's parameters.

Hourly, per (cc, asn, target): the median of the blocking scores of that hour's measurements (1 for
``anomaly``/``confirmed``, 0 for ``ok``; ``down``/``failure``/``measured`` have no score and hours without scores
are gaps) feeds a two-sided CUSUM: ``s_up = max(0, s_up + x - mu0 - drift)`` and
``s_down = max(0, s_down + mu1 - x - drift)`` with mu0 = 0, mu1 = 0.7, drift = 0.35/h, threshold
h = 3.5. State is ok / blocked / unknown: ``s_up > h`` moves to blocked (an event starts at that
hour), ``s_down > h`` moves to ok (a blocked state ends at that hour); both sums reset on a move.
Across a gap of more than 24 h both sums decay by half per 48 h; after 10 days without data the state
is forgotten (unknown). A fully blocked signal fires on its 6th hour, as OONI's does.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from censorwatch.analysis.detect.series import BLOCKED, OPEN, VerdictRow, dominant_method, signal
from censorwatch.model.events import Event, iso

DETECTOR = "cusum"
VERSION = "1"


@dataclass(frozen=True, slots=True)
class CusumParams:
    mu0: float = 0.0
    mu1: float = 0.7
    drift: float = 0.35
    h: float = 3.5
    decay_after_h: float = 24.0
    half_life_h: float = 48.0
    forget_after_h: float = 240.0


def _hour(dt: datetime) -> datetime:
    return dt.replace(minute=0, second=0, microsecond=0)


def detect(rows: Sequence[VerdictRow], params: CusumParams | None = None) -> list[Event]:
    """CUSUM events of one (cc, asn, target) series; ``rows`` sorted by time."""
    p = params or CusumParams()
    hours: dict[datetime, list[VerdictRow]] = {}
    for r in rows:
        if signal(r.status) in (BLOCKED, OPEN):
            hours.setdefault(_hour(r.time), []).append(r)
    if not hours:
        return []
    first = rows[0]
    events: list[Event] = []
    s_up = s_down = 0.0
    state = "unknown"
    prev: datetime | None = None
    cur: Event | None = None
    cur_rows: list[VerdictRow] = []
    for hour in sorted(hours):
        hrows = hours[hour]
        if prev is not None:
            gap = (hour - prev).total_seconds() / 3600.0
            if gap > p.forget_after_h:
                s_up = s_down = 0.0
                if state != "blocked":
                    state = "unknown"
            elif gap > p.decay_after_h:
                f = 0.5 ** (gap / p.half_life_h)
                s_up, s_down = s_up * f, s_down * f
        prev = hour
        x = statistics.median(1.0 if signal(r.status) == BLOCKED else 0.0 for r in hrows)
        s_up = max(0.0, s_up + x - p.mu0 - p.drift)
        s_down = max(0.0, s_down + p.mu1 - x - p.drift)
        if cur is not None:
            cur_rows.extend(hrows)
        if state != "blocked" and s_up > p.h:
            state, s_up, s_down = "blocked", 0.0, 0.0
            cur = Event(
                kind="blocking", detector=DETECTOR, cc=first.cc, asn=first.asn, target=first.target,
                start=hour, end=None, method=None, confidence="suspected", measurements=0,
                asns=[first.asn], details={"fired_at": iso(hour)},
            )
            cur_rows = list(hrows)
            events.append(cur)
        elif state != "ok" and s_down > p.h:
            if cur is not None:
                cur.end = hour
                _finish(cur, cur_rows)
                cur, cur_rows = None, []
            state, s_up, s_down = "ok", 0.0, 0.0
    if cur is not None:
        _finish(cur, cur_rows)
    return events


def _finish(ev: Event, rows: list[VerdictRow]) -> None:
    blocked = [r for r in rows if signal(r.status) == BLOCKED]
    ev.method = dominant_method(blocked)
    ev.measurements = len(rows)
    ev.evidence = [r.uid for r in blocked]
    ev.confidence = "confirmed" if any(r.status == "confirmed" for r in blocked) else "likely"


def end_or(ev: Event, default: datetime) -> datetime:
    return ev.end if ev.end is not None else default


HOUR = timedelta(hours=1)
