"""SIGKILL the collector under concurrent load: everything it acknowledged survives, the log verifies."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from censorwatch.collector.keys import LogVerifier
from censorwatch.collector.merkle import leaf_hash, verify_consistency, verify_inclusion
from collector.helpers import CollectorProcess, cli, make_measurement

POST = "/api/v1/measurements"


async def _load(url: str, clients: int, stop: asyncio.Event,
                killed: asyncio.Event) -> tuple[dict[str, dict[str, Any]], int]:
    """``clients`` workers submitting distinct measurements until ``stop``; returns acked uid -> answer.

    Once ``killed`` is set, a 503 ``unavailable`` counts as an unacknowledged submission like a dropped
    connection: a front-end process sees its link to the dead writer close before the kernel's
    PR_SET_PDEATHSIG kill reaches it, and answers what it had in flight with that reason."""
    acked: dict[str, dict[str, Any]] = {}
    counter = itertools.count()
    errors = 0

    async def worker(c: httpx.AsyncClient) -> None:
        nonlocal errors
        while not stop.is_set():
            m = make_measurement(next(counter), padding=3000)
            try:
                r = await c.post(POST, content=orjson.dumps(m))
            except httpx.TransportError:
                errors += 1
                await asyncio.sleep(0.05)
                continue
            if killed.is_set() and r.status_code == 503 and r.json().get("error") == "unavailable":
                errors += 1
                continue
            assert r.status_code in (200, 201), r.text
            doc = r.json()
            acked[doc["measurement_uid"]] = {"status": r.status_code, "body": m, **doc}

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as c, asyncio.TaskGroup() as tg:
        for _ in range(clients):
            tg.create_task(worker(c))
    return acked, errors


@pytest.mark.parametrize("workers", ["1", "2"])  # one process; the writer process with two HTTP front-ends
def test_sigkill_during_load_loses_nothing_acknowledged(tmp_path: Path, workers: str) -> None:
    db = tmp_path / "cw.duckdb"
    proc = CollectorProcess(db, None, "--client-rate", "0", "--workers", workers).start()
    key = LogVerifier.from_document(httpx.get(proc.url + "/api/v1/log/key").json())
    early_sth: dict[str, Any] = {}

    async def scenario() -> tuple[dict[str, dict[str, Any]], int]:
        stop, killed = asyncio.Event(), asyncio.Event()
        load = asyncio.create_task(_load(proc.url, 40, stop, killed))
        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as c:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                sth = (await c.get("/api/v1/log/sth")).json()
                if sth["tree_size"] >= 100 and not early_sth:
                    early_sth.update(sth)
                if sth["tree_size"] >= 250:
                    break
        killed.set()
        proc.kill()  # SIGKILL while 40 clients are mid-request
        await asyncio.sleep(0.3)
        stop.set()
        return await asyncio.wait_for(load, 30)

    acked, errors = asyncio.run(scenario())
    assert early_sth and len(acked) >= 200
    assert errors > 0, "the kill landed after the load stopped; the test did not test anything"

    proc = CollectorProcess(db, proc.port, "--client-rate", "0", "--workers", workers).start()
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as c:
            sth = c.get("/api/v1/log/sth").json()
            assert key.check_sth(sth) is None  # same key after restart
            size, root = sth["tree_size"], bytes.fromhex(sth["root_hash"])
            assert size >= len(acked)
            for uid, ans in acked.items():
                receipt = ans["receipt"]
                assert key.check_receipt(receipt) is None
                body = c.get(f"{POST}/{uid}")
                assert body.status_code == 200, f"acknowledged {uid} is gone"
                assert leaf_hash(body.content).hex() == receipt["leaf_hash"]
                assert orjson.loads(body.content) == ans["body"]
                p = c.get("/api/v1/log/proof/inclusion", params={"uid": uid}).json()
                assert p["leaf_index"] == receipt["leaf_index"]
                path = [bytes.fromhex(h) for h in p["audit_path"]]
                assert verify_inclusion(bytes.fromhex(receipt["leaf_hash"]), p["leaf_index"], size, path, root)
            cons = c.get("/api/v1/log/proof/consistency", params={"first": early_sth["tree_size"]}).json()
            assert verify_consistency(
                early_sth["tree_size"], size, bytes.fromhex(early_sth["root_hash"]), root,
                [bytes.fromhex(h) for h in cons["proof"]],
            )
            # a resubmission of an acknowledged measurement gets the very same receipt
            uid, ans = next(iter(acked.items()))
            again = c.post(POST, content=orjson.dumps(ans["body"]))
            assert again.status_code == 200 and again.json()["receipt"] == ans["receipt"]
            # and the log keeps growing from where it was
            assert c.post(POST, content=orjson.dumps(make_measurement(10**9))).json()["receipt"]["leaf_index"] == size
    finally:
        proc.stop()

    # nothing half-written: the whole stored log, every receipt, recomputes to the signed root
    export = tmp_path / "export"
    res = cli("collector", "export", str(export), "--db", str(db))
    assert res.returncode == 0, res.stderr
    assert len((export / "leaves.jsonl").read_bytes().splitlines()) == size + 1
    res = cli("verify", "log", str(export), "--accept-export-key")  # integrity: the key is this test's own
    assert res.returncode == 0, res.stdout + res.stderr
    assert "recomputed root of" in res.stdout
