"""The observatory as a service: it stores what the collector accepts, drains on SIGTERM, loses
nothing when it is SIGKILLed and restarted, and a failing analysis never takes the intake down."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from censorwatch.observatory.config import resolve
from censorwatch.observatory.service import Observatory
from censorwatch.probe.submit import SubmitQueue
from censorwatch.store.db import Store
from censorwatch.store.evidence import EvidenceStore, evidence_dir
from collector.helpers import free_port, make_measurement
from observatory.helpers import ObservatoryProcess, wait_for

POST = "/api/v1/measurements"


def _log_uids(db: Path) -> list[str]:
    ev = EvidenceStore(evidence_dir(db) / "evidence.sqlite", readonly=True)
    try:
        return [leaf.measurement_uid for leaf in ev.leaves(0)]
    finally:
        ev.close()


def _store_uids(db: Path) -> list[str]:
    with Store(db, read_only=True) as store:
        return [r[0] for r in store.con.execute("SELECT measurement_uid FROM measurements").fetchall()]


def test_stores_what_the_collector_accepts_and_drains_on_sigterm(tmp_path: Path) -> None:
    obs = ObservatoryProcess(tmp_path / "cw.duckdb", "--analyze-every", "2", "--collector-workers", "2").start()
    try:
        with httpx.Client(base_url=obs.collector, timeout=30) as c:
            for i in range(40):
                assert c.post(POST, content=orjson.dumps(make_measurement(i))).status_code == 201
        wait_for(lambda: obs.metrics().get("stored_leaves") == 40, 60, "40 leaves stored")
        m = wait_for(lambda: (x := obs.metrics()).get("analysed_leaves") == 40 and x, 60, "40 leaves analysed")
        assert m["log_leaves"] == 40 and m['lag_leaves{stage="store"}'] == 0 and m["collector_up"] == 1
        health = httpx.get(obs.url + "/healthz", timeout=10).json()
        assert health["status"] == "ok" and health["lag"]["stored"] == 40
        # submissions right before SIGTERM are acknowledged by the collector, hence stored by the drain
        with httpx.Client(base_url=obs.collector, timeout=30) as c:
            for i in range(40, 60):
                assert c.post(POST, content=orjson.dumps(make_measurement(i))).status_code == 201
        assert obs.stop() == 0
    finally:
        obs.kill()
    assert not obs.state_file().exists()
    assert sorted(_store_uids(obs.db)) == sorted(_log_uids(obs.db)) and len(_log_uids(obs.db)) == 60


def test_sigkill_mid_run_then_restart_stores_every_leaf_once(tmp_path: Path) -> None:
    """Probes keep submitting through their spool while the service is SIGKILLed and started again:
    every measurement ends up in the log and in the store exactly once."""
    db = tmp_path / "cw.duckdb"
    obs = ObservatoryProcess(db, "--analyze-every", "1", "--collector-workers", "2").start()
    spool = tmp_path / "spool"
    total = 300
    done = threading.Event()
    result: dict[str, Any] = {}

    def probe() -> None:
        async def go() -> None:
            async with SubmitQueue(obs.collector, spool, backoff_start=0.2, backoff_max=1.0, timeout=5) as q:
                result["stats"] = q.stats
                for i in range(total):
                    await q.put(make_measurement(i))
                    if i % 10 == 9:
                        await asyncio.sleep(0.25)
                result["left"] = await q.drain(180)

        asyncio.run(go())
        done.set()

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    try:
        wait_for(lambda: obs.metrics().get("stored_leaves", 0) >= 60, 90, "some leaves stored")
        obs.kill()  # SIGKILL: no shutdown code runs; the collector dies with it
        assert result["stats"].delivered < total and not done.is_set()  # mid-run
        wait_for(lambda: _refused(obs.collector), 20, "the collector to die with the observatory")
        obs = ObservatoryProcess(db, "--analyze-every", "1", "--collector-workers", "2", port=obs.port,
                                 collector_port=obs.collector_port).start()
        assert done.wait(240), "the probe's spool did not drain"
        assert result["left"] == 0
        wait_for(lambda: (m := obs.metrics())["stored_leaves"] == m["log_leaves"] == total, 90, "every leaf stored")
        assert obs.stop() == 0
    finally:
        obs.kill()
    log_uids, store_uids = _log_uids(db), _store_uids(db)
    receipts = {p.stem for p in (spool / "receipts").glob("*.json")}
    assert len(log_uids) == len(set(log_uids)) == total
    assert sorted(store_uids) == sorted(log_uids)  # each leaf stored, once (the uid is the primary key)
    assert receipts == set(log_uids)  # every acknowledged submission is in the store


def _refused(url: str) -> bool:
    try:
        httpx.get(url + "/api/v1/log/sth", timeout=1.0)
    except httpx.TransportError:
        return True
    return False


def test_a_failing_analysis_stage_is_retried_with_backoff_and_the_intake_keeps_going(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    failing = threading.Event()
    failing.set()
    calls: list[float] = []

    def analyze(store: Store) -> dict[str, Any]:
        import time

        from censorwatch.pipeline import run_analysis

        calls.append(time.monotonic())
        if failing.is_set():
            raise RuntimeError("injected failure of the analysis stage")
        return run_analysis(store)

    cfg = resolve({"db": tmp_path / "cw.duckdb", "port": free_port(), "collector_port": free_port(),
                   "collector_workers": 1, "analyze_every": 0.5, "analyze_min_gap": 0.1, "ingest_every": 0.2,
                   "client_rate": 0}, env={})
    obs = Observatory(cfg, analyze=analyze)
    caplog.set_level(logging.ERROR, logger="censorwatch.observatory")
    obs.start()
    try:
        with httpx.Client(base_url=obs.collector_url, timeout=30) as c:
            for i in range(10):
                assert c.post(POST, content=orjson.dumps(make_measurement(i))).status_code == 201
            assert obs.loop is not None
            loop = obs.loop
            wait_for(lambda: loop.stages["analysis"].consecutive_failures >= 3, 60, "three failed passes")
            health = httpx.get(obs.dashboard_url + "/healthz", timeout=10).json()
            assert health["status"] == "degraded" and health["store_loop"]["failing_stages"] == ["analysis"]
            # the intake and the ingest stage keep going while analysis fails
            for i in range(10, 20):
                assert c.post(POST, content=orjson.dumps(make_measurement(i))).status_code == 201
            wait_for(lambda: loop.stored_leaves == 20, 30, "the new leaves stored")
            assert loop.analysed_leaves == 0
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        assert gaps[0] >= 0.9 and gaps[1] >= 1.9  # 1 s, then 2 s: backing off
        assert "analysis failed" in caplog.text and "injected failure" in caplog.text
        failing.clear()
        wait_for(lambda: loop.stages["analysis"].consecutive_failures == 0 and loop.analysed_leaves == 20, 60,
                 "analysis to recover")
        assert httpx.get(obs.dashboard_url + "/healthz", timeout=10).json()["status"] == "ok"
    finally:
        obs.stop()
    assert len(_store_uids(cfg.db)) == 20
