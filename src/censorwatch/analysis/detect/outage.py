"""Network outages (IODA style): per (cc, asn), measurement volume and reachability across all
targets against the network's own sliding-window baseline.

The hourly volume of a network is binned at the smallest width in ``BIN_HOURS`` at which the network
normally has measurements in most bins (so bursty, sparse networks are judged on 3-, 6- or 12-hour
bins instead of raising alarms for every quiet hour). For each bin the baseline is the network's own
history: ``q``, the share of non-empty bins at the same time of day over the previous ``window_days``
days, shrunk towards the sliding-window median of the daily share, and ``rho``, the sliding-window
median of the reachable fraction of measurements. A two-state HMM (normal / outage) scores each bin:
an empty bin is likely in an outage (``p_empty_outage``) and unlikely when normal (``1 - q``); a bin
with measurements that mostly failed to reach anything is likely in an outage. The Viterbi path's
outage segments with enough evidence become ``kind="outage"`` events (``target`` None).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from censorwatch.model.events import Event

DETECTOR = "volume"
VERSION = "2"
BIN_HOURS = (1, 2, 3, 6, 12, 24)


@dataclass(frozen=True, slots=True)
class OutageParams:
    window_days: int = 7
    min_nonempty: float = 0.8  # a bin width is usable when this share of bins normally has data
    p_empty_outage: float = 0.97
    rho_outage: float = 0.1
    max_trials: int = 5  # cap on measurements per bin counted in the reachability likelihood
    switch: float = 0.01
    min_llr: float = 10.0
    min_bins: int = 2
    #: a network needs its own baseline before silence means anything: a network seen a handful of
    #: times (one volunteer, one afternoon) that then goes quiet has no outage, only no data
    min_history: int = 24  # measurements
    min_span_hours: int = 24  # from its first to its last measurement


@dataclass(frozen=True, slots=True)
class VolumeRow:
    hour: datetime
    total: int
    reachable: int


def _choose_bin(counts: Sequence[int], p: OutageParams) -> int:
    for b in BIN_HOURS:
        bins = [sum(counts[i : i + b]) for i in range(0, len(counts) - b + 1, b)]
        if not bins:
            return b
        nonempty = sorted(1 if c > 0 else 0 for c in bins)
        # robust: judge on the upper 80 % of bins so that an outage itself does not disqualify a width
        keep = nonempty[len(nonempty) // 5 :]
        if keep and sum(keep) / len(keep) >= p.min_nonempty:
            return b
    return BIN_HOURS[-1]


def detect(
    cc: str, asn: str, rows: Sequence[VolumeRow], until: datetime | None = None,
    params: OutageParams | None = None,
) -> list[Event]:
    """Outage events of one network; ``rows`` are its hourly volumes (any order, missing hours = 0)."""
    p = params or OutageParams()
    if not rows:
        return []
    by_hour = {r.hour: r for r in rows}
    seen_hours = [h for h, r in by_hour.items() if r.total > 0]
    if (
        sum(r.total for r in rows) < p.min_history
        or not seen_hours
        or (max(seen_hours) - min(seen_hours)) < timedelta(hours=p.min_span_hours)
    ):
        return []
    t0 = min(by_hour)
    last = max(max(by_hour), until or t0)
    n_hours = int((last - t0).total_seconds() // 3600) + 1
    tot = [0] * n_hours
    rch = [0] * n_hours
    for h, r in by_hour.items():
        i = int((h - t0).total_seconds() // 3600)
        tot[i], rch[i] = r.total, r.reachable
    b = _choose_bin(tot, p)
    nb = (n_hours + b - 1) // b
    bt = [sum(tot[i * b : (i + 1) * b]) for i in range(nb)]
    br = [sum(rch[i * b : (i + 1) * b]) for i in range(nb)]
    per_day = max(1, 24 // b)
    # daily baselines, then the sliding-window median of the previous days
    days = [bt[d : d + per_day] for d in range(0, nb, per_day)]
    dq = [sum(1 for c in d if c > 0) / len(d) for d in days]
    drho = [
        sum(br[d : d + per_day]) / sum(bt[d : d + per_day]) if sum(bt[d : d + per_day]) else None
        for d in range(0, nb, per_day)
    ]
    rhos_all = [x for x in drho if x is not None]
    overall_rho = statistics.median(rhos_all) if rhos_all else 0.9
    emis: list[tuple[float, float]] = []
    for i in range(nb):
        d = i // per_day
        hist_q = dq[max(0, d - p.window_days) : d] if d >= 3 else dq[: p.window_days]
        hist_r = [x for x in drho[max(0, d - p.window_days) : d] if x is not None] or [overall_rho]
        q = _time_of_day_q(bt, i, per_day, p.window_days, statistics.median(hist_q))
        rho = min(max(statistics.median(hist_r), 0.3), 0.99)
        n = bt[i]
        if n == 0:
            emis.append((math.log(1 - q), math.log(p.p_empty_outage)))
            continue
        k = min(n, p.max_trials)
        kr = round(k * rch_i / n) if (rch_i := br[i]) else 0
        norm = math.log(q) + kr * math.log(rho) + (k - kr) * math.log(1 - rho)
        out = math.log(1 - p.p_empty_outage) + kr * math.log(p.rho_outage) + (k - kr) * math.log(
            1 - p.rho_outage
        )
        emis.append((norm, out))
    events: list[Event] = []
    for i, j, llr in segments(viterbi(emis, p.switch), emis, p.min_bins, p.min_llr):
        start = t0 + timedelta(hours=i * b)
        end = t0 + timedelta(hours=(j + 1) * b) if j + 1 < nb else None
        seen = sum(bt[i : j + 1])
        events.append(
            Event(
                kind="outage", detector=DETECTOR, cc=cc, asn=asn, target=None, start=start, end=end,
                method="outage", confidence="likely" if (j - i + 1) * b >= 3 else "suspected",
                measurements=seen, asns=[asn],
                details={
                    "detector_version": VERSION, "bin_hours": b, "llr": round(llr, 2),
                    "bins": j - i + 1, "measurements_in_outage": seen,
                    "reachable_in_outage": sum(br[i : j + 1]),
                },
            )
        )
    return events


def segments(path: Sequence[int], emis: Sequence[tuple[float, float]], min_bins: int,
             min_llr: float) -> list[tuple[int, int, float]]:
    """(first bin, last bin, log-likelihood ratio) of each outage run of ``path`` with enough evidence."""
    out: list[tuple[int, int, float]] = []
    i, n = 0, len(path)
    while i < n:
        if not path[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and path[j + 1]:
            j += 1
        llr = sum(emis[k][1] - emis[k][0] for k in range(i, j + 1))
        if j - i + 1 >= min_bins and llr >= min_llr:
            out.append((i, j, llr))
        i = j + 1
    return out


def _time_of_day_q(bt: Sequence[int], i: int, per_day: int, days: int, day_q: float) -> float:
    """P(bin non-empty) for bin ``i``: the share of non-empty bins at the same time of day (+-1 bin) over
    the previous ``days`` days (the following days too while there are fewer than 3 before: analysis is
    offline), shrunk towards the daily median share ``day_q`` (weight 5 bins)."""
    before = i // per_day
    offsets = list(range(1, min(before, days) + 1))
    if len(offsets) < 3:
        offsets += [-d for d in range(1, days - len(offsets) + 1)]
    hits = seen = 0
    for d in offsets:
        for off in (-1, 0, 1):
            j = i - d * per_day + off
            if 0 <= j < len(bt) and j != i:
                seen += 1
                hits += bt[j] > 0
    q = (hits + 5 * day_q) / (seen + 5)
    return min(max(q, 0.05), 0.995)


def viterbi(emis: Sequence[tuple[float, float]], switch: float) -> list[int]:
    lsw, lst = math.log(switch), math.log(1 - switch)
    s0, s1 = math.log(0.99) + emis[0][0], math.log(0.01) + emis[0][1]
    n = len(emis)
    back0, back1 = bytearray(n), bytearray(n)
    for i in range(1, n):
        a, c = s0 + lst, s1 + lsw
        n0 = max(a, c) + emis[i][0]
        back0[i] = c > a
        a, c = s1 + lst, s0 + lsw
        n1 = max(a, c) + emis[i][1]
        back1[i] = c > a
        s0, s1 = n0, n1
    path = [0] * n
    st = 1 if s1 > s0 else 0
    for i in range(n - 1, -1, -1):
        path[i] = st
        if (back1 if st else back0)[i]:
            st = 1 - st
    return path


def suppress(blocking: Sequence[Event], outages: Sequence[Event]) -> tuple[list[Event], list[Event]]:
    """Drop blocking events of a network that start inside one of its outages: (kept, suppressed)."""
    kept: list[Event] = []
    dropped: list[Event] = []
    by_net: dict[tuple[str, str | None], list[Event]] = {}
    for o in outages:
        by_net.setdefault((o.cc, o.asn), []).append(o)
    for e in blocking:
        outs = by_net.get((e.cc, e.asn), [])
        if any(o.start <= e.start and (o.end is None or e.start < o.end) for o in outs):
            dropped.append(e)
        else:
            kept.append(e)
    return kept, dropped
