"""Incidents: a country's events of the same target (or a country's outages) over overlapping
periods, merged, with a confidence set by the first matching rule of ``RULES``.

The rules are data: each has a stable id, the level it grants and the reason stored with the
incident. ``anomaly``/``confirmed`` verdicts already imply that the control reached the site (a site
the control cannot reach is ``down``), so every blocking event's evidence satisfies "the control
reaching the site".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from censorwatch.model.events import Confidence, Event, Incident, iso

RULES_VERSION = "1"
MERGE_GAP = timedelta(hours=6)  # events this close in time are one incident
_FAR = datetime(9000, 1, 1, tzinfo=UTC)  # "ongoing" when comparing ends


@dataclass(frozen=True, slots=True)
class Facts:
    kind: str
    networks: int
    hours: float  # incident span (start to end, or to the last evidence while ongoing)
    overlap_hours: float  # longest time during which >= 2 networks were blocked at once
    fingerprint: bool  # some evidence matched a blockpage / DNS-injection fingerprint
    measurements: int


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    level: Confidence
    reason: str
    applies: Callable[[Facts], bool]


RULES: tuple[Rule, ...] = (
    Rule("inc.blocking.fingerprint", "confirmed",
         "a measurement matched a known blockpage or DNS-injection fingerprint",
         lambda f: f.kind == "blocking" and f.fingerprint),
    Rule("inc.blocking.networks_agree", "confirmed",
         "2+ networks blocked at the same time for 3+ hours, with the control reaching the site",
         lambda f: f.kind == "blocking" and f.networks >= 2 and f.overlap_hours >= 3.0),
    Rule("inc.blocking.sustained", "likely",
         "one network blocked for 6+ hours, or 2+ networks blocked in overlapping periods",
         lambda f: f.kind == "blocking" and (f.hours >= 6.0 or f.networks >= 2)),
    Rule("inc.outage.networks", "likely",
         "2+ networks of the country dark at the same time, or one network dark for 3+ hours",
         lambda f: f.kind == "outage" and (f.networks >= 2 or f.hours >= 3.0)),
    Rule("inc.suspected", "suspected", "one network, short", lambda f: True),
)


def _until(e: Event, now: datetime) -> datetime:
    if e.end is not None:
        return e.end
    lb = e.details.get("last_blocked")
    if isinstance(lb, str):
        return max(datetime.fromisoformat(lb.replace("Z", "+00:00")), e.start)
    return max(now, e.start)


def _overlap_hours(events: Sequence[Event], now: datetime) -> float:
    best = 0.0
    events = [e for e in events if e.asn is not None]  # per-network events only
    for i, a in enumerate(events):
        for b in events[i + 1 :]:
            if a.asn == b.asn:
                continue
            lo, hi = max(a.start, b.start), min(_until(a, now), _until(b, now))
            best = max(best, (hi - lo).total_seconds() / 3600.0)
    return best


def merge(events: Sequence[Event], now: datetime) -> list[Incident]:
    """Incidents from blocking and outage events (one detector's); ``now`` = end of the data."""
    groups: dict[tuple[str, str, str | None], list[Event]] = {}
    for e in events:
        groups.setdefault((e.kind, e.cc, e.target), []).append(e)
    out: list[Incident] = []
    for (kind, cc, target), evs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        evs.sort(key=lambda e: (e.start, e.asn or ""))
        cluster: list[Event] = []
        hi: datetime | None = None
        for e in evs:
            if cluster and hi is not None and e.start > hi + MERGE_GAP:
                out.append(_incident(kind, cc, target, cluster, now))
                cluster = []
            if not cluster:
                hi = None
            cluster.append(e)
            u = e.end if e.end is not None else _FAR
            hi = u if hi is None else max(hi, u)
        if cluster:
            out.append(_incident(kind, cc, target, cluster, now))
    return out


def _incident(kind: str, cc: str, target: str | None, evs: list[Event], now: datetime) -> Incident:
    start = min(e.start for e in evs)
    end = None if any(e.end is None for e in evs) else max(e.end for e in evs if e.end is not None)
    last = max(_until(e, now) for e in evs)
    asns = sorted({a for e in evs for a in [*e.asns, e.asn] if a})
    methods: dict[str, int] = {}
    for e in evs:
        if e.method:
            methods[e.method] = methods.get(e.method, 0) + e.measurements
    facts = Facts(
        kind=kind, networks=len(asns), hours=(last - start).total_seconds() / 3600.0,
        overlap_hours=_overlap_hours(evs, now),
        fingerprint=any(e.confidence == "confirmed" for e in evs if e.kind == "blocking"),
        measurements=sum(e.measurements for e in evs),
    )
    rule = next(r for r in RULES if r.applies(facts))
    evidence: list[str] = []
    for e in evs:
        evidence.extend(e.evidence)
    return Incident(
        kind=kind,  # type: ignore[arg-type]
        cc=cc, target=target, asns=asns,
        methods=sorted(methods, key=lambda m: (-methods[m], m)),
        start=start, end=end, confidence=rule.level, confidence_rule=rule.id,
        confidence_reason=rule.reason, event_ids=[e.id for e in evs], evidence=evidence,
        measurements=facts.measurements,
        details={
            "rules_version": RULES_VERSION, "networks": facts.networks,
            "hours": round(facts.hours, 2), "overlap_hours": round(facts.overlap_hours, 2),
            "last_evidence": iso(last),
        },
    )
