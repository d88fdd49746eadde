"""The live volume detector: outages of densely measured networks, on bins of seconds to minutes."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from censorwatch.analysis.detect import live, run
from censorwatch.analysis.detect.live import Sample
from censorwatch.analysis.detect.series import VerdictRow
from detect.synth import T0


def _samples(minutes: float, every_s: float, seed: int, *, dark: tuple[float, float] | None = None,
             failing: tuple[float, float] | None = None, per_round: int = 3) -> list[Sample]:
    """A probe measuring ``per_round`` targets every ``every_s`` seconds (with jitter) for ``minutes``."""
    rnd = random.Random(seed)
    out = []
    t = rnd.uniform(0, every_s)
    while t < minutes * 60:
        m = t / 60
        if not (dark and dark[0] <= m < dark[1]):
            bad = bool(failing and failing[0] <= m < failing[1])
            for _ in range(per_round):
                out.append(Sample(T0 + timedelta(seconds=t + rnd.uniform(0, 2)), not bad and rnd.random() > 0.02))
        t += every_s * rnd.uniform(0.85, 1.15)
    return out


def _m(d: timedelta) -> float:
    return d / timedelta(minutes=1)


@pytest.mark.parametrize("seed", range(5))
def test_a_network_falling_silent_for_two_minutes(seed: int) -> None:
    s = _samples(12, 7.5, seed, dark=(5, 7))
    (e,) = live.detect("PK", "AS1", s, until=T0 + timedelta(minutes=12))
    assert e.kind == "outage" and e.detector == "volume" and e.details["mode"] == "live"
    assert abs(_m(e.start - T0) - 5) <= 0.5 and e.end is not None and abs(_m(e.end - T0) - 7) <= 0.5
    assert e.confidence == "suspected"  # minutes of one network: never more


@pytest.mark.parametrize("seed", range(5))
def test_measurements_that_all_failed_are_an_outage_too(seed: int) -> None:
    s = _samples(12, 7.5, seed, failing=(5, 6))
    (e,) = live.detect("PK", "AS1", s, until=T0 + timedelta(minutes=12))
    assert abs(_m(e.start - T0) - 5) <= 0.5 and e.end is not None and abs(_m(e.end - T0) - 6) <= 0.5
    assert e.details["reachable_in_outage"] <= 0.25 * e.details["measurements_in_outage"]


@pytest.mark.parametrize("seed", range(20))
def test_a_steady_network_has_no_outage(seed: int) -> None:
    assert live.detect("PK", "AS1", _samples(30, 7.5, seed), until=T0 + timedelta(minutes=30)) == []
    assert live.detect("PK", "AS1", _samples(90, 60, seed, per_round=1), until=T0 + timedelta(minutes=90)) == []


def test_silence_up_to_now_is_an_ongoing_outage_once_past_the_grace() -> None:
    s = _samples(6, 7.5, 1)
    assert live.detect("PK", "AS1", s, until=T0 + timedelta(minutes=6, seconds=20)) == []  # still arriving
    (e,) = live.detect("PK", "AS1", s, until=T0 + timedelta(minutes=8))
    assert e.end is None and abs(_m(e.start - T0) - 6) <= 0.5


def test_sparse_or_short_networks_are_left_to_the_hourly_detector() -> None:
    sparse = _samples(24 * 60, 30 * 60, 2, per_round=1)
    assert live.choose_bin([x.time for x in sparse], live.LiveParams()) is None
    assert live.detect("PK", "AS1", sparse, until=T0 + timedelta(hours=30)) == []
    short = _samples(0.5, 7.5, 3)  # four rounds: no baseline yet
    assert live.detect("PK", "AS1", short, until=T0 + timedelta(minutes=10)) == []


def test_a_country_with_one_dark_network_gets_one_suspected_outage_incident() -> None:
    rows = []
    for n, asn in enumerate(("AS1", "AS2", "AS3")):
        for i, s in enumerate(_samples(12, 7.5, 10 + n, dark=(5, 7) if asn == "AS2" else None)):
            rows.append(VerdictRow(s.time, "PK", asn, f"t{i % 3}.example", "ok" if s.reachable else "failure",
                                   None, f"{asn}-{i}"))
    events, incidents = run.detect_corpus(rows)
    outages = [e for e in events if e.kind == "outage"]
    assert [e.asn for e in outages] == ["AS2"]
    (inc,) = incidents
    assert inc.kind == "outage" and inc.asns == ["AS2"] and inc.confidence == "suspected"


def test_a_network_keeps_only_its_last_day_for_the_live_detector() -> None:
    # three days of one measurement per 7.5 s (one target), dark for two minutes near the end: the
    # live outage found from the rows of a whole history is the one found from the last day alone
    s = _samples(3 * 24 * 60, 7.5, 3, dark=(3 * 24 * 60 - 10, 3 * 24 * 60 - 8), per_round=1)
    until = T0 + timedelta(days=3)
    rows = [VerdictRow(x.time, "PK", "AS1", "t.example", "ok" if x.reachable else "failure", None, f"u{i}")
            for i, x in enumerate(s)]
    events, _ = run.detect_network("PK", "AS1", rows, [], until)
    live_events = [e for e in events if e.details.get("mode") == "live"]
    assert live_events == live.detect("PK", "AS1", s, until)
    (e,) = live_events
    assert abs(_m(e.start - T0) - (3 * 24 * 60 - 10)) <= 1
