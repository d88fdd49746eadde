"""Score events (the ``censorwatch events --format json`` shape) against a simulator truth.

- A truth block (cc, asn, target, start) is *found* when a blocking event of that cc and target on
  that network (``asn`` or in ``asns``) starts within [-2 h, +6 h] of the truth start; the onset
  error is event start - truth start. The end error is measured when both ends are known.
- A blocking event is *false* when one of its networks (``asn``, or each of ``asns`` for a
  country-wide event) has no truth block of that target overlapping the event (extended by the
  tolerance window); false events are also reported per 1,000 series-days
  (series = networks x targets, days = the scenario's length).
- A truth outage is *found* when an outage event of that network overlaps it; an outage event
  overlapping no truth outage is false.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

EARLY, LATE = timedelta(hours=2), timedelta(hours=6)
FAR = datetime.fromisoformat("9000-01-01T00:00:00+00:00")


def _t(v: str | None) -> datetime | None:
    return None if v is None else datetime.fromisoformat(v.replace("Z", "+00:00"))


def _nets(e: dict[str, Any]) -> set[str]:
    return {a for a in [e.get("asn"), *(e.get("asns") or [])] if a}


def _hours(d: timedelta) -> float:
    return d.total_seconds() / 3600.0


def score(truth: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    blocking = [e for e in events if e.get("kind") == "blocking"]
    outages = [e for e in events if e.get("kind") == "outage"]
    onset: list[float] = []
    onset_any: list[float] = []  # onsets detected at all (start within [-2 h, +48 h]), however late
    ends: list[float] = []
    missed: list[dict[str, Any]] = []
    for b in truth["blocks"]:
        ts = _t(b["start"])
        assert ts is not None
        late = [
            _hours((_t(e["start"]) or FAR) - ts) for e in blocking
            if e["cc"] == b["cc"] and e["target"] == b["target"] and b["asn"] in _nets(e)
            and ts - EARLY <= (_t(e["start"]) or FAR) <= ts + timedelta(hours=48)
        ]
        if late:
            onset_any.append(min(late, key=abs))
        cands = [
            e for e in blocking
            if e["cc"] == b["cc"] and e["target"] == b["target"] and b["asn"] in _nets(e)
            and ts - EARLY <= (_t(e["start"]) or FAR) <= ts + LATE
        ]
        if not cands:
            missed.append(b)
            continue
        best = min(cands, key=lambda e: abs(_hours((_t(e["start"]) or FAR) - ts)))
        onset.append(_hours((_t(best["start"]) or FAR) - ts))
        te, ee = _t(b["end"]), _t(best["end"])
        if te is not None and ee is not None:
            ends.append(_hours(ee - te))
    false_events = []
    for e in blocking:
        es, ee = _t(e["start"]) or FAR, _t(e["end"]) or FAR
        ok = all(
            any(
                b["cc"] == e["cc"] and b["target"] == e["target"] and b["asn"] == asn
                and es < (_t(b["end"]) or FAR) + LATE and (_t(b["start"]) or FAR) - EARLY < ee
                for b in truth["blocks"]
            )
            for asn in _nets(e)
        )
        if not ok:
            false_events.append(e)
    o_found, o_missed = 0, []
    for o in truth["outages"]:
        os_, oe = _t(o["start"]) or FAR, _t(o["end"]) or FAR
        if any(e["cc"] == o["cc"] and o["asn"] in _nets(e) and (_t(e["start"]) or FAR) < oe
               and os_ < (_t(e["end"]) or FAR) for e in outages):
            o_found += 1
        else:
            o_missed.append(o)
    false_outages = [
        e for e in outages
        if not any(e["cc"] == o["cc"] and o["asn"] in _nets(e) and (_t(e["start"]) or FAR) < (_t(o["end"]) or FAR)
                   and (_t(o["start"]) or FAR) < (_t(e["end"]) or FAR) for o in truth["outages"])
    ]
    days = _hours((_t(truth["end"]) or FAR) - (_t(truth["start"]) or FAR)) / 24.0
    series_days = len(truth["networks"]) * len(truth["targets"]) * days
    uncensored = set(truth.get("uncensored_countries", []))
    return {
        "truth_blocks": len(truth["blocks"]),
        "found": len(onset),
        "missed": missed,
        "median_onset_error_h": round(statistics.median(onset), 3) if onset else None,
        "mean_abs_onset_error_h": round(statistics.fmean(abs(x) for x in onset), 3) if onset else None,
        "max_onset_error_h": round(max(onset), 3) if onset else None,
        "median_end_error_h": round(statistics.median(ends), 3) if ends else None,
        "found_within_48h": len(onset_any),
        "median_onset_error_within_48h_h": round(statistics.median(onset_any), 3) if onset_any else None,
        "false_events": len(false_events),
        "false_event_list": false_events,
        "false_per_1000_series_days": round(1000.0 * len(false_events) / series_days, 3) if series_days else None,
        "events_in_uncensored_countries": sum(e["cc"] in uncensored for e in blocking),
        "truth_outages": len(truth["outages"]),
        "outages_found": o_found,
        "outages_missed": o_missed,
        "false_outages": len(false_outages),
        "series_days": round(series_days, 1),
    }
