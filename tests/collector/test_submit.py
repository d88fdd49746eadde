"""The probe's submission queue: measurements taken while the collector is unreachable wait in the
durable spool (across a probe restart) and arrive later, with their original measurement time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from censorwatch.collector.keys import LogVerifier
from censorwatch.collector.merkle import leaf_hash
from censorwatch.probe.submit import SubmitQueue
from collector.helpers import CollectorProcess, free_port, make_measurement


async def test_spooled_measurements_arrive_late_with_their_original_time(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet: the "network shutdown"
    spool = tmp_path / "spool"
    taken = [f"2026-01-{10 + i:02d} 08:00:00" for i in range(6)]
    sent = [make_measurement(i, start=t) for i, t in enumerate(taken)]
    invalid = make_measurement(99)
    del invalid["test_keys"]

    async with SubmitQueue(f"http://127.0.0.1:{port}", spool, backoff_start=0.05, backoff_max=0.3, timeout=2) as q:
        for m in [*sent[:3], invalid, *sent[3:]]:
            await q.put(m)
        assert await q.drain(timeout=1.0) == 7
        assert q.stats.failures >= 2 and q.stats.delivered == 0
    assert len(list((spool / "pending").glob("*.json"))) == 7  # survives the probe stopping

    proc = CollectorProcess(tmp_path / "cw.duckdb", port, "--client-rate", "0").start()
    try:
        async with SubmitQueue(f"http://127.0.0.1:{port}", spool, backoff_start=0.05, backoff_max=0.3) as q:
            assert await q.drain(timeout=30) == 0
            assert (q.stats.delivered, q.stats.rejected) == (6, 1)
        reasons = list((spool / "rejected").glob("*.reason"))
        assert len(reasons) == 1 and orjson.loads(reasons[0].read_bytes())["error"] == "missing_key"
        assert len(list((spool / "rejected").glob("*.json"))) == 1

        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as c:
            key = LogVerifier.from_document((await c.get("/api/v1/log/key")).json())
            receipts = [orjson.loads(p.read_bytes()) for p in (spool / "receipts").glob("*.json")]
            assert len(receipts) == 6
            by_index = sorted(receipts, key=lambda d: d["receipt"]["leaf_index"])
            for m, doc in zip(sent, by_index, strict=True):  # sent oldest first
                r = doc["receipt"]
                assert key.check_receipt(r) is None
                stored = (await c.get(f"/api/v1/measurements/{doc['measurement_uid']}")).content
                assert leaf_hash(stored).hex() == r["leaf_hash"]
                assert orjson.loads(stored)["measurement_start_time"] == m["measurement_start_time"]
                taken_at = datetime.strptime(m["measurement_start_time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                assert r["timestamp"] / 1000 > taken_at.timestamp() + 86400  # logged (much) later
    finally:
        proc.stop()


async def test_the_queue_honours_retry_after_from_a_rate_limit(tmp_path: Path) -> None:
    proc = CollectorProcess(tmp_path / "cw.duckdb", None, "--client-rate", "2", "--client-burst", "2").start()
    try:
        async with SubmitQueue(proc.url, tmp_path / "spool", backoff_start=0.05, backoff_max=2) as q:
            for i in range(6):
                await q.put(make_measurement(i))
            assert await q.drain(timeout=40) == 0
            assert q.stats.delivered == 6 and q.stats.failures >= 1  # some 429s, then delivered
        assert httpx.get(proc.url + "/api/v1/log/sth").json()["tree_size"] == 6
    finally:
        proc.stop()
