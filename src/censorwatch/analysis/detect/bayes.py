"""Our blocking detector: a two-state hidden Markov model over per-measurement verdicts.

States are *open* and *blocked*. Each measurement with evidence is a Bernoulli observation: the
blocked signal (``anomaly``/``confirmed``) has probability ``e0`` when open (flaky networks, false
positives) and ``e1`` when blocked (``e1 < 1`` is partial blocking); ``down``/``failure`` rows carry
no evidence and are skipped. The probability of switching state between two consecutive observations
grows with the time between them, ``1 - exp(-dt / mean_duration)``, so sparse hours and long gaps are
handled by the model instead of by binning. The maximum-a-posteriori state path (Viterbi) gives the
segments; ``e0``/``e1`` are re-estimated per series from that path (a few rounds of Viterbi training,
with Beta priors and clipping), which adapts the detector to flaky networks and partial blocks.

Onset = the first measurement of a blocked segment; the last open measurement before it is kept as
``details.onset_after`` (the true onset lies between the two). When those two are more than 6 h
apart (sparse data), the onset is reported 2 h before the first blocked measurement (but not before
the last open one): the change happened somewhere in the gap, and this keeps the error within
[-2 h, +6 h] for gaps of up to 8 h instead of 6 h; end = the first open measurement after
the segment (None while ongoing). The detector has no hourly binning, so with 1-2 measurements per
hour it reports an onset within about an hour of the truth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from censorwatch.analysis.detect.series import BLOCKED, OPEN, VerdictRow, dominant_method, signal
from censorwatch.model.events import Event, iso

DETECTOR = "bayes"
VERSION = "2"
SPARSE_GAP = timedelta(hours=6)
SPARSE_SHIFT = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class BayesParams:
    e0: float = 0.05  # prior P(blocked signal | open)
    e1: float = 0.85  # prior P(blocked signal | blocked)
    mean_duration_h: float = 150.0  # expected hours between state changes
    min_dt_h: float = 0.5  # floor on the time between observations when pricing a switch
    max_switch: float = 0.3
    p_blocked_start: float = 0.05
    rounds: int = 3
    min_blocked: int = 4  # blocked-signal measurements a segment needs to become an event
    min_llr: float = 10.0  # log-likelihood ratio (blocked vs open) a segment needs
    likely_hours: float = 6.0


@dataclass(slots=True)
class Segment:
    first: int  # index into the evidence rows
    last: int  # inclusive


def _viterbi(sig: Sequence[int], hours: Sequence[float], e0: float, e1: float, p: BayesParams) -> list[int]:
    lb1, lo1 = math.log(e1), math.log(1 - e1)
    lb0, lo0 = math.log(e0), math.log(1 - e0)
    n = len(sig)
    # scores for state 0 (open) and 1 (blocked); back pointers as bytearrays (1 = came from other)
    s0 = math.log(1 - p.p_blocked_start) + (lb0 if sig[0] == BLOCKED else lo0)
    s1 = math.log(p.p_blocked_start) + (lb1 if sig[0] == BLOCKED else lo1)
    back0 = bytearray(n)
    back1 = bytearray(n)
    inv = 1.0 / p.mean_duration_h
    for i in range(1, n):
        dt = max(hours[i] - hours[i - 1], p.min_dt_h)
        sw = min(1.0 - math.exp(-dt * inv), p.max_switch)
        lsw, lst = math.log(sw), math.log(1.0 - sw)
        stay0, from1 = s0 + lst, s1 + lsw
        stay1, from0 = s1 + lst, s0 + lsw
        if sig[i] == BLOCKED:
            e_0, e_1 = lb0, lb1
        else:
            e_0, e_1 = lo0, lo1
        if from1 > stay0:
            n0, back0[i] = from1 + e_0, 1
        else:
            n0 = stay0 + e_0
        if from0 > stay1:
            n1, back1[i] = from0 + e_1, 1
        else:
            n1 = stay1 + e_1
        s0, s1 = n0, n1
    path = [0] * n
    state = 1 if s1 > s0 else 0
    for i in range(n - 1, -1, -1):
        path[i] = state
        if (back1 if state else back0)[i]:
            state = 1 - state
    return path


def _segments(path: Sequence[int]) -> list[Segment]:
    segs: list[Segment] = []
    start = None
    for i, s in enumerate(path):
        if s and start is None:
            start = i
        elif not s and start is not None:
            segs.append(Segment(start, i - 1))
            start = None
    if start is not None:
        segs.append(Segment(start, len(path) - 1))
    return segs


def _reestimate(sig: Sequence[int], path: Sequence[int], p: BayesParams) -> tuple[float, float]:
    k0 = n0 = k1 = n1 = 0
    for s, st in zip(sig, path, strict=True):
        if st:
            n1 += 1
            k1 += s == BLOCKED
        else:
            n0 += 1
            k0 += s == BLOCKED
    w0, w1 = 40.0, 10.0  # prior weights (pseudo-observations)
    e0 = (k0 + w0 * p.e0) / (n0 + w0)
    e1 = (k1 + w1 * p.e1) / (n1 + w1)
    e0 = min(max(e0, 0.01), 0.35)
    e1 = min(max(e1, 0.45), 0.99)
    if e1 < e0 + 0.3:
        e1 = min(e0 + 0.3, 0.99)
    return e0, e1


def _showing(inside: Sequence[VerdictRow]) -> list[str]:
    """Networks whose own measurements in a pooled segment show the block: at least 2 blocked and
    at least half of their evidence blocked (else the network with the most blocked rows)."""
    n: dict[str, list[int]] = {}
    for r in inside:
        c = n.setdefault(r.asn, [0, 0])
        c[0] += signal(r.status) == BLOCKED
        c[1] += 1
    nets = sorted(a for a, (b, t) in n.items() if b >= 2 and b * 2 >= t)
    return nets or [max(sorted(n), key=lambda a: n[a][0])]


def detect(
    rows: Sequence[VerdictRow], params: BayesParams | None = None, *, country_wide: bool = False
) -> list[Event]:
    """Blocking events of one (cc, asn, target) series; ``rows`` sorted by time.

    ``country_wide``: ``rows`` pool every network of the country (one (cc, target) series); events
    then have ``asn`` None and ``asns`` = the networks whose measurements showed the block.
    """
    p = params or BayesParams()
    ev = [r for r in rows if signal(r.status) in (BLOCKED, OPEN)]
    if not ev:
        return []
    sig = [signal(r.status) for r in ev]
    t0 = ev[0].time
    hours = [(r.time - t0).total_seconds() / 3600.0 for r in ev]
    e0, e1 = p.e0, p.e1
    path = _viterbi(sig, hours, e0, e1, p)
    for _ in range(p.rounds - 1):
        ne0, ne1 = _reestimate(sig, path, p)
        if abs(ne0 - e0) < 1e-3 and abs(ne1 - e1) < 1e-3:
            break
        e0, e1 = ne0, ne1
        path = _viterbi(sig, hours, e0, e1, p)
    llr_b, llr_o = math.log(e1 / e0), math.log((1 - e1) / (1 - e0))
    cc, asn, target = ev[0].cc, ev[0].asn, ev[0].target
    events: list[Event] = []
    for seg in _segments(path):
        first = seg.first
        while first <= seg.last and sig[first] != BLOCKED:
            first += 1
        if first > seg.last:
            continue
        inside = ev[first : seg.last + 1]
        blocked = [r for r in inside if signal(r.status) == BLOCKED]
        llr = sum(llr_b if signal(r.status) == BLOCKED else llr_o for r in inside)
        if len(blocked) < p.min_blocked or llr < p.min_llr:
            continue
        end = ev[seg.last + 1].time if seg.last + 1 < len(ev) else None
        first_blocked = ev[first].time
        start = first_blocked
        if first > 0 and first_blocked - ev[first - 1].time > SPARSE_GAP:
            # the change happened somewhere in a long gap: report it earlier than the first blocked
            # measurement (never before the last open one)
            start = max(ev[first - 1].time, first_blocked - SPARSE_SHIFT)
        last_blocked = blocked[-1].time
        span_h = ((end or last_blocked) - start).total_seconds() / 3600.0
        if any(r.status == "confirmed" for r in blocked):
            conf = "confirmed"
        elif span_h >= p.likely_hours and len(blocked) >= 4:
            conf = "likely"
        else:
            conf = "suspected"
        events.append(
            Event(
                kind="blocking",
                detector=DETECTOR,
                cc=cc,
                asn=None if country_wide else asn,
                target=target,
                start=start,
                end=end,
                method=dominant_method(blocked),
                confidence=conf,  # type: ignore[arg-type]
                measurements=len(inside),
                evidence=[r.uid for r in blocked],
                asns=_showing(inside) if country_wide else [asn],
                details={
                    "detector_version": VERSION,
                    "onset_after": iso(ev[first - 1].time) if first > 0 else None,
                    "first_blocked": iso(first_blocked),
                    "last_blocked": iso(last_blocked),
                    "blocked_measurements": len(blocked),
                    "open_measurements": len(inside) - len(blocked),
                    "llr": round(llr, 2),
                    "e0": round(e0, 3),
                    "e1": round(e1, 3),
                },
            )
        )
    return events
