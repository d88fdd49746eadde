from __future__ import annotations

from datetime import timedelta

import pytest

from censorwatch.analysis.detect import bayes, cusum
from detect.synth import at, series


def _hours(d: timedelta) -> float:
    return d.total_seconds() / 3600


@pytest.mark.parametrize("seed", range(8))
def test_sparse_block_onset_and_end_within_bounds(seed: int) -> None:
    rows = series(24 * 7, 1.5, [(70.3, 130.7)], seed)
    evs = bayes.detect(rows)
    assert len(evs) == 1, [e.to_dict() for e in evs]
    e = evs[0]
    assert -2 <= _hours(e.start - at(70.3)) <= 6
    assert e.end is not None and -2 <= _hours(e.end - at(130.7)) <= 6
    assert e.method == "tls.reset"
    assert e.evidence and all(u.startswith(f"{seed}-") for u in e.evidence)


@pytest.mark.parametrize("seed", range(8))
def test_no_events_on_a_flaky_uncensored_series(seed: int) -> None:
    rows = series(24 * 21, 1.5, [], seed, flaky=0.08)
    assert bayes.detect(rows) == []


@pytest.mark.parametrize("seed", range(4))
def test_partial_blocking_is_found(seed: int) -> None:
    rows = series(24 * 7, 2.0, [(50.0, None)], seed, partial=0.6)
    evs = bayes.detect(rows)
    assert len(evs) == 1
    assert -2 <= _hours(evs[0].start - at(50.0)) <= 6
    assert evs[0].end is None


def test_restoration_gives_two_events() -> None:
    rows = series(24 * 10, 1.5, [(40.0, 80.0), (100.0, None)], 3)
    evs = bayes.detect(rows)
    assert [round(_hours(e.start - at(0))) for e in evs] == pytest.approx([40, 100], abs=3)
    assert evs[0].end is not None and evs[1].end is None


def test_gap_in_coverage_does_not_split_or_invent() -> None:
    rows = series(24 * 10, 1.5, [(40.0, 200.0)], 5)
    rows = [r for r in rows if not (at(90) <= r.time < at(140))]  # two days without data
    evs = bayes.detect(rows)
    assert len(evs) == 1 and evs[0].end is not None
    assert -2 <= _hours(evs[0].end - at(200)) <= 6


def test_site_down_is_no_evidence() -> None:
    rows = series(24 * 7, 1.5, [], 9, down=[(30, 90)])
    assert bayes.detect(rows) == []
    assert cusum.detect(rows) == []


def test_cusum_fires_about_six_hours_late() -> None:
    rows = series(24 * 7, 3.0, [(60.0, 120.0)], 11, flaky=0.0)
    evs = cusum.detect(rows)
    assert len(evs) == 1
    assert 4 <= _hours(evs[0].start - at(60)) <= 7
    assert evs[0].end is not None and _hours(evs[0].end - at(120)) >= 4


def test_onset_in_a_long_gap_is_reported_before_the_first_blocked_measurement() -> None:
    from censorwatch.analysis.detect.series import VerdictRow

    rows = [VerdictRow(at(h), "PK", "AS1", "x.com", "ok", None, f"o{h}") for h in range(0, 50)]
    rows += [VerdictRow(at(h), "PK", "AS1", "x.com", "anomaly", "tls.reset", f"b{h}") for h in range(60, 70)]
    (e,) = bayes.detect(rows)
    assert e.start == at(58) and e.details["first_blocked"] == "2024-02-12T12:00:00Z"
    assert e.details["onset_after"] == "2024-02-12T01:00:00Z"
    # dense data: the onset is the first blocked measurement itself
    dense = [r for r in rows if r.time < at(50)] + [
        VerdictRow(at(h), "PK", "AS1", "x.com", "anomaly", "tls.reset", f"c{h}") for h in range(50, 60)]
    (d,) = bayes.detect(dense)
    assert d.start == at(50)
