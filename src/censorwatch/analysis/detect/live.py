"""Outages of networks measured densely (live probes): the volume detector on bins of seconds to minutes.

The hourly volume detector (``outage.py``) judges a network against days of its own history, so it
cannot say anything about a network watched for minutes, nor about an outage shorter than its bins.
A network measured every few seconds or minutes (a probe run on a timer and submitting as it goes)
carries its own, finer baseline: this detector judges the last ``WINDOW`` of such a network on the
smallest bin width in ``BIN_SECONDS`` at which the network normally has measurements in most bins
(the same rule as the hourly detector, on measurement times instead of hours).

For each bin, as in the hourly detector: an empty bin is likely in an outage (``p_empty_outage``)
and unlikely when normal (``1 - q``, ``q`` the network's own share of non-empty bins up to its last
measurement, so that a silence going on does not lower the baseline it is judged against); a bin whose
measurements mostly failed to reach anything (``reached``) is likely in an outage (reachable fraction ``rho`` of
the network normally, ``rho_outage`` in an outage). A two-state HMM's Viterbi path gives the outage
segments; a segment of ``min_bins`` bins or more with a log-likelihood ratio of ``min_llr`` or more
becomes an event (``kind="outage"``, detector ``volume``, ``details.mode = "live"``).

"Now" is the newest measurement of the whole store (``until``), never the wall clock: silence
counts only while other networks keep reporting, so a store that stops receiving anything (the
collector is down, an archive ends) shows no outage. An empty bin in the trailing ``grace`` carries
no evidence yet (measurements started there may still be on their way: a probe submits when a
measurement is done, a probe cut off submits when it is back); measurements that did arrive count
at once, so failed measurements delivered late from a spool show an outage as soon as they arrive.

What such a series supports: minutes of silence or of failed measurements from one network is a
*suspected* outage; ``likely`` needs the 3 hours the hourly detector asks for (or, at incident level,
two networks dark at once, ``inc.outage.networks``). A network measured less densely than one
measurement per ``BIN_SECONDS[-1]`` is left to the hourly detector.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from censorwatch.analysis.detect import outage
from censorwatch.model.events import Event

VERSION = "1"
BIN_SECONDS = (10, 15, 20, 30, 60, 120, 300)
WINDOW = timedelta(hours=24)
LIKELY_AFTER = timedelta(hours=3)


class Sample(NamedTuple):
    time: datetime  # aware UTC
    reachable: bool  # ``reached(status, method)``


def reached(status: str, method: str | None) -> bool:
    """Did the measurement reach anything? Not when it failed (``failure``: in a shutdown the control
    is cut off too), nor when its target's host could not be reached at all (method ``unreachable``,
    e.g. a VPN handshake that never got an answer)."""
    return status != "failure" and method != "unreachable"


@dataclass(frozen=True, slots=True)
class LiveParams:
    min_nonempty: float = 0.8  # a bin width is usable when this share of bins normally has data
    min_measurements: int = 12
    min_history_bins: int = 8  # non-empty bins the network needs before its silence means anything
    p_empty_outage: float = 0.97
    rho_outage: float = 0.1
    max_trials: int = 5
    switch: float = 0.01
    min_llr: float = 10.0
    min_bins: int = 2
    grace_bins: int = 2
    min_grace: timedelta = timedelta(seconds=30)


def choose_bin(times: Sequence[datetime], p: LiveParams) -> int | None:
    """The smallest width in ``BIN_SECONDS`` at which the network (from its first to its last
    measurement) has data in ``min_nonempty`` of the upper 80 % of bins; None if none does."""
    if len(times) < 2:
        return None
    t0, t1 = times[0], times[-1]
    span = (t1 - t0).total_seconds()
    for b in BIN_SECONDS:
        n = int(span // b) + 1
        if n < p.min_history_bins:
            continue  # too few bins to judge at this width: a wider one may still have enough
        seen = bytearray(n)
        for t in times:
            seen[int((t - t0).total_seconds() // b)] = 1
        keep = sorted(seen)[n // 5 :]
        if keep and sum(keep) / len(keep) >= p.min_nonempty:
            return b
    return None


def detect(cc: str, asn: str, samples: Sequence[Sample], until: datetime | None,
           params: LiveParams | None = None) -> list[Event]:
    """Outage events of one densely measured network in the ``WINDOW`` before ``until``."""
    p = params or LiveParams()
    if until is None or not samples:
        return []
    recent = sorted(s for s in samples if until - WINDOW <= s.time <= until)
    if len(recent) < p.min_measurements:
        return []
    times = [s.time for s in recent]
    b = choose_bin(times, p)
    if b is None:
        return []
    width = timedelta(seconds=b)
    t0 = times[0]
    grace_from = until - max(width * p.grace_bins, p.min_grace)
    nb = int((until - t0) / width)  # complete bins only
    if nb < p.min_history_bins:
        return []
    pending = max(0, math.ceil((grace_from - t0) / width))  # bins from here on may still fill
    tot = [0] * nb
    rch = [0] * nb
    for s in recent:
        i = int((s.time - t0) / width)
        if i < nb:
            tot[i] += 1
            rch[i] += s.reachable
    # the network's usual share of non-empty bins, up to its last measurement (a silence going on now
    # must not lower the baseline it is judged against), robust to earlier gaps (the upper 80 %)
    measured = [i for i in range(min(pending, nb)) if tot[i]]
    base = [1 if c else 0 for c in tot[: measured[-1] + 1]] if measured else [1]
    nonempty = sorted(base)[len(base) // 5 :] or [1]
    if sum(1 for c in tot if c) < p.min_history_bins:
        return []
    q = min(max(sum(nonempty) / len(nonempty), 0.05), 0.995)
    fractions = [r / t for r, t in zip(rch, tot, strict=True) if t]
    rho = min(max(statistics.median(fractions), 0.3), 0.99)
    emis: list[tuple[float, float]] = []
    for i, (n, r) in enumerate(zip(tot, rch, strict=True)):
        if n == 0:
            emis.append((math.log(1 - q), math.log(p.p_empty_outage)) if i < pending else (0.0, 0.0))
            continue
        k = min(n, p.max_trials)
        kr = round(k * r / n)
        norm = math.log(q) + kr * math.log(rho) + (k - kr) * math.log(1 - rho)
        out = math.log(1 - p.p_empty_outage) + kr * math.log(p.rho_outage) + (k - kr) * math.log(1 - p.rho_outage)
        emis.append((norm, out))
    events: list[Event] = []
    for i, j, llr in outage.segments(outage.viterbi(emis, p.switch), emis, p.min_bins, p.min_llr):
        start = t0 + width * i
        end = t0 + width * (j + 1) if j + 1 < nb else None
        seen = sum(tot[i : j + 1])
        events.append(Event(
            kind="outage", detector=outage.DETECTOR, cc=cc, asn=asn, target=None, start=start, end=end,
            method="outage", confidence="likely" if (end or until) - start >= LIKELY_AFTER else "suspected",
            measurements=seen, asns=[asn],
            details={
                "detector_version": f"{outage.VERSION}-live{VERSION}", "mode": "live", "bin_seconds": b,
                "llr": round(llr, 2), "bins": j - i + 1, "measurements_in_outage": seen,
                "reachable_in_outage": sum(rch[i : j + 1]),
            },
        ))
    return events


def without_overlap(live: Sequence[Event], hourly: Sequence[Event]) -> list[Event]:
    """Live events that no hourly outage event of the same network already covers."""
    def overlaps(a: Event, b: Event) -> bool:
        return a.start < (b.end or datetime.max.replace(tzinfo=a.start.tzinfo)) and b.start < (
            a.end or datetime.max.replace(tzinfo=b.start.tzinfo))

    return [e for e in live if not any(overlaps(e, h) for h in hourly)]
