"""The store loop's timing (pure, on an in-memory store): when analysis runs, and its jobs."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest

from censorwatch.pipeline.live import LoopSettings, Stopping, StoreLoop
from censorwatch.store.db import Store


def _loop(store: Store, calls: list[float], *, every: float = 100.0, gap: float = 0.2,
          work: float = 0.0) -> StoreLoop:
    def analyze(_store: Store) -> dict[str, Any]:
        calls.append(time.monotonic())
        time.sleep(work)
        return {}

    return StoreLoop(store, LoopSettings(analyze_every=every, analyze_min_gap=gap, ingest_every=0.05,
                                         alerts_every=100.0), analyze=analyze)


def _until(cond: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _running(loop: StoreLoop) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    t = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    t.start()
    return stop, t


def test_analysis_runs_at_start_then_only_when_due_or_after_new_data() -> None:
    calls: list[float] = []
    with Store(":memory:") as store:
        loop = _loop(store, calls)
        stop, t = _running(loop)
        try:
            _until(lambda: len(calls) >= 1)  # the first pass at start
            time.sleep(0.5)
            assert len(calls) == 1  # nothing new since, and 100 s are far away
            loop.mark_new_data()
            _until(lambda: len(calls) >= 2)
            assert len(calls) == 2 and calls[1] - calls[0] >= 0.2  # sooner, but not before the minimum gap
        finally:
            stop.set()
            t.join(10)


def test_a_slow_analysis_takes_at_most_a_third_of_the_time() -> None:
    calls: list[float] = []
    with Store(":memory:") as store:
        loop = _loop(store, calls, gap=0.0, work=0.3)
        stop, t = _running(loop)
        try:
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                loop.mark_new_data()  # new measurements all the time
                time.sleep(0.05)
        finally:
            stop.set()
            t.join(10)
    starts = [b - a for a, b in itertools.pairwise(calls)]
    assert len(calls) >= 3 and min(starts) >= 0.3 + 2 * 0.3 - 0.05  # its own 0.3 s, then 2 x 0.3 s of rest


def test_jobs_run_on_the_loop_and_none_are_taken_once_it_stopped() -> None:
    with Store(":memory:") as store:
        loop = _loop(store, [])
        stop, t = _running(loop)
        threads = loop.submit(lambda _s: threading.current_thread().name)
        assert threads.result(10) == t.name
        with pytest.raises(ZeroDivisionError):
            loop.submit(lambda _s: 1 / 0).result(10)
        stop.set()
        t.join(10)
        with pytest.raises(Stopping):
            loop.submit(lambda _s: None).result(1)
