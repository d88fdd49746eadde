"""All detectors over one network, and over a whole corpus held in memory (tests, benchmarks)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import groupby

from censorwatch.analysis.detect import bayes, cusum, incidents, live, outage
from censorwatch.analysis.detect.series import VerdictRow
from censorwatch.model.events import Event, Incident

#: pooled series hold several networks' noise: a country-wide event needs more evidence than a network's
COUNTRY_PARAMS = bayes.BayesParams(min_blocked=6, min_llr=16.0)


def detect_network(
    cc: str, asn: str, rows: Iterable[VerdictRow], volume: Sequence[outage.VolumeRow], until: datetime | None
) -> tuple[list[Event], int]:
    """``rows`` of one network ordered by (target, time): (events, blocking events suppressed by outages).

    ``until``: the newest measurement time of the store (the end of the data). Outages come from the
    hourly volume detector and, for a densely measured network, from the live one (``live.py``)."""
    outs = outage.detect(cc, asn, volume, until=until)
    ours: list[Event] = []
    base: list[Event] = []
    # only the samples of the live window are kept (``live.detect`` reads no others): a network's
    # memory here is its last day's measurements, not its whole history
    samples: list[live.Sample] = []
    for _target, group in groupby(rows, key=lambda r: r.target):
        series = list(group)
        if until is not None:
            since = until - live.WINDOW
            samples.extend(live.Sample(r.time, live.reached(r.status, r.method))
                           for r in series if since <= r.time <= until)
        ours.extend(bayes.detect(series))
        base.extend(cusum.detect(series))
    outs += live.without_overlap(live.detect(cc, asn, samples, until), outs)
    kept_ours, dropped = outage.suppress(ours, outs)
    kept_base, _ = outage.suppress(base, outs)
    return [*outs, *kept_ours, *kept_base], len(dropped)


def detect_country(rows: Iterable[VerdictRow]) -> list[Event]:
    """Country-wide blocking events: every network of one country pooled per target.

    ``rows`` ordered by (target, time). Pooling finds blocks that each network alone measures too
    sparsely to show, and the earliest onset any network saw. Only events that 2+ networks show are
    kept (one network's block is that network's own event), with stricter thresholds than a
    network's (``COUNTRY_PARAMS``: the pool holds several networks' noise).
    """
    out: list[Event] = []
    for _target, group in groupby(rows, key=lambda r: r.target):
        out.extend(e for e in bayes.detect(list(group), COUNTRY_PARAMS, country_wide=True) if len(e.asns) >= 2)
    return out


def hourly_volume(rows: Iterable[VerdictRow]) -> list[outage.VolumeRow]:
    tot: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        h = r.time.replace(minute=0, second=0, microsecond=0)
        tot[h][0] += 1
        tot[h][1] += r.status != "failure"
    return [outage.VolumeRow(h, t, k) for h, (t, k) in sorted(tot.items())]


def detect_corpus(rows: Iterable[VerdictRow]) -> tuple[list[Event], list[Incident]]:
    """Events and incidents of a corpus of verdict rows (the same logic the pipeline runs per network)."""
    nets: dict[tuple[str, str], list[VerdictRow]] = defaultdict(list)
    for r in rows:
        nets[(r.cc, r.asn)].append(r)
    if not nets:
        return [], []
    until = max(r.time for rs in nets.values() for r in rs)
    events: list[Event] = []
    for (cc, asn), rs in sorted(nets.items()):
        rs.sort(key=lambda r: (r.target, r.time, r.uid))
        evs, _ = detect_network(cc, asn, rs, hourly_volume(rs), until)
        events.extend(evs)
    by_cc: dict[str, list[VerdictRow]] = defaultdict(list)
    for (cc, _asn), rs in nets.items():
        by_cc[cc].extend(rs)
    for _cc, rs in sorted(by_cc.items()):
        rs.sort(key=lambda r: (r.target, r.time, r.uid))
        events.extend(detect_country(rs))
    ours = [e for e in events if e.detector in (bayes.DETECTOR, outage.DETECTOR)]
    return events, incidents.merge(ours, until.replace(minute=0, second=0, microsecond=0))
