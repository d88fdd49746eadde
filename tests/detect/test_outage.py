from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

from censorwatch.analysis.detect import outage
from censorwatch.analysis.detect.outage import VolumeRow
from detect.synth import T0, at


def _volume(hours: int, rate: float, seed: int, *, dark: tuple[float, float] | None = None,
            unreachable: tuple[float, float] | None = None, diurnal: float = 0.5,
            bursty: bool = False) -> list[VolumeRow]:
    rnd = random.Random(seed)
    rows = []
    for h in range(hours):
        if dark and dark[0] <= h < dark[1]:
            continue
        lam = rate * (1 + diurnal * math.sin(2 * math.pi * (h % 24) / 24))
        n = 0
        # Poisson by inversion; bursty = a whole test list (12 targets) per run
        k, p, limit = 0, 1.0, math.exp(-lam / (12 if bursty else 1))
        while True:
            p *= rnd.random()
            if p <= limit:
                break
            k += 1
        n = k * (12 if bursty else 1)
        if n == 0:
            continue
        reach = 0 if unreachable and unreachable[0] <= h < unreachable[1] else sum(
            rnd.random() > 0.03 for _ in range(n))
        rows.append(VolumeRow(T0 + timedelta(hours=h), n, reach))
    return rows


def _h(d: timedelta) -> float:
    return d / timedelta(hours=1)


@pytest.mark.parametrize("seed", range(4))
def test_network_going_dark_is_one_outage(seed: int) -> None:
    vol = _volume(24 * 14, 15.0, seed, dark=(200, 212))
    evs = outage.detect("PK", "AS1", vol, until=T0 + timedelta(hours=24 * 14 - 1))
    assert len(evs) == 1
    e = evs[0]
    assert e.kind == "outage" and e.target is None and e.method == "outage"
    assert abs(_h(e.start - at(200))) <= 1 and e.end is not None and abs(_h(e.end - at(212))) <= 1


@pytest.mark.parametrize("seed", range(4))
def test_bursty_sparse_network_dark_for_a_day(seed: int) -> None:
    vol = _volume(24 * 14, 8.0, seed, dark=(150, 180), bursty=True)
    evs = outage.detect("PK", "AS1", vol, until=T0 + timedelta(hours=24 * 14 - 1))
    assert len(evs) == 1
    assert -3 <= _h(evs[0].start - at(150)) <= 6
    assert evs[0].details["bin_hours"] > 1


def test_unreachable_network_is_an_outage() -> None:
    vol = _volume(24 * 10, 12.0, 5, unreachable=(100, 110))
    evs = outage.detect("PK", "AS1", vol, until=T0 + timedelta(hours=24 * 10 - 1))
    assert len(evs) == 1 and abs(_h(evs[0].start - at(100))) <= 1
    assert evs[0].details["measurements_in_outage"] > 0 and evs[0].details["reachable_in_outage"] == 0


@pytest.mark.parametrize("seed", range(6))
def test_no_outage_on_a_quiet_or_bursty_healthy_network(seed: int) -> None:
    for rate, bursty in ((3.0, False), (6.0, True), (0.8, False)):
        vol = _volume(24 * 21, rate, seed, bursty=bursty)
        assert outage.detect("IT", "AS2", vol, until=T0 + timedelta(hours=24 * 21 - 1)) == []


def test_outage_still_running_at_the_end_of_the_data() -> None:
    vol = _volume(24 * 7, 10.0, 1, dark=(150, 24 * 7))
    evs = outage.detect("PK", "AS1", vol, until=T0 + timedelta(hours=24 * 7 - 1))
    assert len(evs) == 1 and evs[0].end is None


def test_a_network_seen_a_few_times_then_silent_has_no_outage() -> None:
    # one volunteer, one afternoon, years ago: silence afterwards is missing data, not a shutdown
    rows = [VolumeRow(T0 + timedelta(hours=h), 3, 3) for h in range(4)]
    assert outage.detect("AT", "AS6830", rows, until=T0 + timedelta(days=400)) == []


def test_the_same_silence_after_a_regular_history_is_an_outage() -> None:
    rows = [VolumeRow(T0 + timedelta(hours=h), 3, 3) for h in range(24 * 10)]
    events = outage.detect("AT", "AS6830", rows, until=T0 + timedelta(days=12))
    assert len(events) == 1 and events[0].start >= T0 + timedelta(days=10)
