"""The detection stages of ``run_analysis``: aggregates -> events -> incidents (after verdicts).

Each stage is incremental: aggregates recompute only the hours whose verdicts changed and queue the
touched series; events re-run the detectors over every network with a queued series (the whole
network, because an outage of the network suppresses its blocking events); incidents re-merge the
countries whose events were re-run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from censorwatch.analysis.detect import bayes, cusum, incidents, live, outage, run
from censorwatch.analysis.detect.series import VerdictRow
from censorwatch.model.events import Event
from censorwatch.store import detection as sql

if TYPE_CHECKING:
    from censorwatch.store.db import Store

#: ``on_progress(stage, done, total)``, as the verdicts stage reports
Progress = Callable[[str, int, int], None]


#: stored with the events: a new version of any detector re-detects the whole history
DETECTION_VERSION = (
    f"bayes{bayes.VERSION}-cusum{cusum.VERSION}-volume{outage.VERSION}-live{live.VERSION}"
    f"-incidents{incidents.RULES_VERSION}"
)


def aggregates(store: Store) -> dict[str, Any]:
    t0 = time.perf_counter()
    out: dict[str, Any] = dict(sql.update_aggregates(store.con))
    out["requeued_all"] = sql.requeue_on_new_version(store.con, DETECTION_VERSION)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def detect_network(store: Store, cc: str, asn: str, until: datetime | None = None) -> tuple[list[Event], int]:
    """Every detector over one network: (events to store, blocking events suppressed by outages)."""
    vol = [outage.VolumeRow(h, t, r) for h, t, r in sql.network_volume(store.con, cc, asn)]
    rows = (VerdictRow(*r) for r in sql.network_rows(store.con, cc, asn))
    return run.detect_network(cc, asn, rows, vol, until or sql.latest_time(store.con))


def events(store: Store, on_progress: Progress | None = None) -> dict[str, Any]:
    """Re-detect the networks with queued series, and the densely measured networks that have gone
    quiet while the rest of the data moved on (their silence is news although nothing of theirs is)."""
    t0 = time.perf_counter()
    until = sql.latest_time(store.con)
    pending = sql.pending_networks(store.con)
    quiet = [n for n in sql.quiet_live_networks(store.con, until, live.WINDOW) if n not in set(pending)]
    nets = sorted({*pending, *quiet})
    n_events = suppressed = 0
    for i, (cc, asn) in enumerate(nets, 1):
        evs, dropped = detect_network(store, cc, asn, until)
        sql.replace_network_events(store.con, cc, asn, evs)
        n_events += len(evs)
        suppressed += dropped
        if on_progress is not None:
            on_progress("events", i, len(nets))
    countries = sorted({cc for cc, _ in nets})
    for cc in countries:
        cevs = run.detect_country(VerdictRow(*r) for r in sql.country_rows(store.con, cc))
        sql.replace_country_events(store.con, cc, cevs)
        n_events += len(cevs)
    return {
        "networks": len(nets), "quiet_networks": len(quiet), "events": n_events, "suppressed_by_outage": suppressed,
        "countries": countries, "seconds": round(time.perf_counter() - t0, 3),
    }


def incidents_for(store: Store, countries: list[str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    now = sql.data_end(store.con)
    n = 0
    for cc in countries:
        evs = [
            e for e in sql.load_events(store.con, cc=cc)
            if e.detector in (bayes.DETECTOR, outage.DETECTOR)
        ]
        incs = incidents.merge(evs, now) if now is not None else []
        sql.replace_incidents(store.con, cc, incs)
        n += len(incs)
    return {"countries": len(countries), "incidents": n, "seconds": round(time.perf_counter() - t0, 3)}
