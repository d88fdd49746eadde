"""The observatory's store loop: one thread owns the store's writing connection and keeps the store
current while the collector collects and the dashboard reads.

Each turn: run the queued jobs (writes sent through the admin API), pull the new leaves of the
evidence log into the store (``fromlog``: stored and classified), run the incremental analysis when
it is due (``run_analysis``: verdicts, aggregates, events, incidents), then deliver webhook alerts
(``alerts.deliver_alerts``). A stage that raises is logged and tried again after a backoff (1 s,
doubling up to ``max_backoff``) while the other stages go on; the collector runs in processes of its
own and never notices.

Analysis is due ``analyze_every`` seconds after the last pass at the latest, and sooner once new
measurements were stored, but never sooner than ``analyze_min_gap`` seconds after the last pass, nor
sooner than twice the last pass's duration after it: however large the store grows, analysis takes
at most about a third of the loop's time.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from censorwatch.pipeline import run_analysis
from censorwatch.pipeline.alerts import deliver_alerts
from censorwatch.pipeline.fromlog import NoLog, ingest_from_log
from censorwatch.store.db import Store

log = logging.getLogger("censorwatch.observatory")
T = TypeVar("T")
Analyze = Callable[[Store], dict[str, Any]]
STAGES = ("ingest", "analysis", "alerts")


class Stopping(RuntimeError):
    """The loop is shutting down and takes no more jobs."""


@dataclass(slots=True)
class Stage:
    """One stage's record: what ``/healthz`` and ``/metrics`` report."""

    name: str
    runs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_ok: float | None = None  # wall clock
    last_error: str | None = None
    last_seconds: float = 0.0
    retry_at: float = 0.0  # monotonic; 0 = whenever due

    def backoff(self, cap: float) -> float:
        return min(cap, 2.0 ** (self.consecutive_failures - 1))


@dataclass(slots=True)
class LoopSettings:
    analyze_every: float = 60.0
    analyze_min_gap: float = 5.0
    ingest_every: float = 1.0
    alerts_every: float = 15.0
    max_backoff: float = 300.0
    base_url: str | None = None
    fingerprints: Any = None


class StoreLoop:
    def __init__(self, store: Store, settings: LoopSettings | None = None, *, analyze: Analyze | None = None,
                 on_analysed: Callable[[dict[str, Any]], None] | None = None, evidence: Path | None = None) -> None:
        self.store = store
        self.s = settings or LoopSettings()
        self._analyze = analyze or (lambda st: run_analysis(st, fingerprints=self.s.fingerprints))
        self.on_analysed = on_analysed
        self.evidence = evidence
        self.stages = {n: Stage(n) for n in STAGES}
        self.log_size = 0  # signed leaves in the log, as last seen
        self.stored_leaves = 0  # leaves stored (the store's watermark)
        self.analysed_leaves = 0  # leaves stored when the last complete analysis pass started
        self.last_results: dict[str, Any] = {}
        self._jobs: queue.SimpleQueue[tuple[Callable[[Store], Any], Future[Any]]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stopping = False
        self._new_data = True  # a first pass after start
        self._last_pass = -math.inf  # monotonic end of the last analysis pass (ok or failed)
        self._next_ingest = 0.0
        self._next_alerts = 0.0
        self._pass_started = 0.0

    # -- jobs --------------------------------------------------------------------------------------------
    def submit(self, fn: Callable[[Store], T]) -> Future[T]:
        """Run ``fn(store)`` on the loop's thread between stages; its result or exception in the future."""
        fut: Future[T] = Future()
        if self._stopping:
            fut.set_exception(Stopping("the observatory is shutting down"))
            return fut
        self._jobs.put((fn, fut))
        self._wake.set()
        return fut

    def _run_jobs(self) -> None:
        while True:
            try:
                fn, fut = self._jobs.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn(self.store))
            except BaseException as exc:  # handed to the caller (an admin request)
                fut.set_exception(exc)

    def mark_new_data(self) -> None:
        """New measurements reached the store some other way (an admin ingest): analyse soon."""
        self._new_data = True

    # -- the loop ----------------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Turn until ``stop`` is set, then drain (``drain``)."""
        while not stop.is_set():
            self.turn()
            wait = min(self._next_due() - time.monotonic(), 1.0)
            if wait > 0:
                self._wake.wait(wait)
            self._wake.clear()
        self.drain()

    def wake(self) -> None:
        self._wake.set()

    def turn(self) -> None:
        """One round of whatever is due (also callable directly, e.g. from tests)."""
        self._run_jobs()
        now = time.monotonic()
        if now >= max(self._next_ingest, self.stages["ingest"].retry_at):
            self._next_ingest = now + self.s.ingest_every
            self._stage("ingest", self._ingest)
            self._run_jobs()
        analysed = False
        if self._analysis_due(time.monotonic()):
            analysed = self._stage("analysis", self._analysis)
            self._run_jobs()
        now = time.monotonic()
        if (analysed or now >= self._next_alerts) and now >= self.stages["alerts"].retry_at:
            self._next_alerts = now + self.s.alerts_every
            self._stage("alerts", self._alerts)

    def drain(self) -> None:
        """Stop taking jobs, finish the queued ones, and store every leaf the log has signed (the
        collector has stopped by now, so this is everything it acknowledged)."""
        self._stopping = True
        self._run_jobs()
        self._stage("ingest", self._ingest)

    def _next_due(self) -> float:
        ingest = max(self._next_ingest, self.stages["ingest"].retry_at)
        return min(ingest, self._analysis_at(), max(self._next_alerts, self.stages["alerts"].retry_at))

    def _analysis_at(self) -> float:
        st = self.stages["analysis"]
        if self._new_data:
            at = self._last_pass + max(self.s.analyze_min_gap, 2 * st.last_seconds)
        else:
            at = self._last_pass + self.s.analyze_every
        return max(at, st.retry_at)

    def _analysis_due(self, now: float) -> bool:
        return now >= self._analysis_at()

    def _stage(self, name: str, fn: Callable[[], None]) -> bool:
        st = self.stages[name]
        t0 = time.monotonic()
        try:
            fn()
        except Exception as exc:
            st.failures += 1
            st.consecutive_failures += 1
            st.last_error = f"{type(exc).__name__}: {exc}"[:500]
            delay = st.backoff(self.s.max_backoff)
            st.retry_at = time.monotonic() + delay
            log.exception("%s failed (%d in a row); trying again in %.0f s", name, st.consecutive_failures, delay)
            return False
        finally:
            st.runs += 1
            st.last_seconds = time.monotonic() - t0
        st.consecutive_failures = 0
        st.retry_at = 0.0
        st.last_ok = time.time()
        return True

    # -- stages ------------------------------------------------------------------------------------------
    def _ingest(self) -> None:
        try:
            run = ingest_from_log(self.store, fingerprints=self.s.fingerprints, evidence=self.evidence,
                                  on_error=lambda err: log.warning("%s", err))
        except NoLog:
            return  # the collector has not created its log yet
        self.log_size, self.stored_leaves = run.end, run.end
        if run.stats.new:
            self._new_data = True
            log.info("stored %d new measurements (leaves %d..%d)", run.stats.new, run.start, run.end)

    def _analysis(self) -> None:
        covered = self.stored_leaves
        self._new_data = False
        self._pass_started = time.monotonic()
        try:
            results = self._analyze(self.store)
        except BaseException:
            self._new_data = True  # what was new is still not analysed
            raise
        finally:
            self._last_pass = time.monotonic()
        self.analysed_leaves = covered
        self.last_results = results
        log.info("analysis pass took %.3f s: %s", time.monotonic() - self._pass_started, _brief(results))
        if self.on_analysed is not None:
            self.on_analysed(results)

    def _alerts(self) -> None:
        stats = deliver_alerts(self.store, self.s.base_url)
        if stats.queued or stats.attempted:
            log.info("alerts: %s", asdict(stats))

    def analyse_now(self, _store: Store) -> dict[str, Any]:
        """A job (``submit(loop.analyse_now)``): store the log's new leaves, analyse, deliver alerts;
        the stages' results, or ``RuntimeError`` naming the stage that failed."""
        for name, fn in (("ingest", self._ingest), ("analysis", self._analysis)):
            if not self._stage(name, fn):
                raise RuntimeError(f"{name} failed: {self.stages[name].last_error}")
        stats = deliver_alerts(self.store, self.s.base_url)
        return {**self.last_results, "alerts": asdict(stats)}

    def status(self) -> dict[str, Any]:
        return {
            "log_size": self.log_size, "stored_leaves": self.stored_leaves, "analysed_leaves": self.analysed_leaves,
            "stages": {n: asdict(s) for n, s in self.stages.items()},
        }


def _brief(results: dict[str, Any]) -> str:
    """The counts of a pass, one line: ``verdicts 12, events 3 (2 networks), incidents 1``."""
    v, e, i = (results.get(k) or {} for k in ("verdicts", "events", "incidents"))
    return (f"verdicts {v.get('classified', 0)}, changed {(results.get('aggregates') or {}).get('changed_hours', 0)} hours, "
            f"events {e.get('events', 0)} ({e.get('networks', 0)} networks), incidents {i.get('incidents', 0)}")
