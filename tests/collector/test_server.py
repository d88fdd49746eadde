"""The collector's HTTP API against a real server process on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson

from censorwatch.collector.canonical import canonical_bytes
from censorwatch.collector.keys import LogVerifier
from censorwatch.collector.merkle import leaf_hash, verify_consistency, verify_inclusion
from collector.helpers import CollectorProcess, make_measurement

POST = "/api/v1/measurements"


def test_submit_store_serve_and_prove(collector: CollectorProcess, samples: Path) -> None:
    with httpx.Client(base_url=collector.url, timeout=10) as c:
        key = LogVerifier.from_document(c.get("/api/v1/log/key").json())
        m = make_measurement(1, padding=2000)
        r = c.post(POST, content=orjson.dumps(m, option=orjson.OPT_INDENT_2))
        assert r.status_code == 201, r.text
        doc = r.json()
        receipt = doc["receipt"]
        assert key.check_receipt(receipt) is None
        assert receipt["leaf_index"] == 0 and receipt["measurement_uid"] == doc["measurement_uid"]

        again = c.post(POST, content=orjson.dumps(m))
        assert again.status_code == 200 and again.json() == doc

        served = c.get(f"{POST}/{doc['measurement_uid']}")
        assert served.status_code == 200
        assert served.content == canonical_bytes(m)
        assert leaf_hash(served.content).hex() == receipt["leaf_hash"]
        assert c.get(f"{POST}/nope").status_code == 404

        uids = [doc["measurement_uid"]]
        for i in range(2, 12):
            r = c.post(POST, content=orjson.dumps(make_measurement(i)))
            assert r.status_code == 201
            uids.append(r.json()["measurement_uid"])
        sth = c.get("/api/v1/log/sth").json()
        assert key.check_sth(sth) is None and sth["tree_size"] == 11
        for i, uid in enumerate(uids):
            p = c.get("/api/v1/log/proof/inclusion", params={"uid": uid}).json()
            assert p["leaf_index"] == i and p["sth"] == sth
            path = [bytes.fromhex(x) for x in p["audit_path"]]
            assert verify_inclusion(bytes.fromhex(p["leaf_hash"]), i, 11, path, bytes.fromhex(sth["root_hash"]))
        old = c.get("/api/v1/log/proof/inclusion", params={"uid": uids[2], "tree_size": 5}).json()
        assert old["tree_size"] == 5 and "sth" not in old
        cons = c.get("/api/v1/log/proof/consistency", params={"first": 5}).json()
        first_root = _root_at(c, uids[4], 5)
        assert verify_consistency(5, 11, first_root, bytes.fromhex(sth["root_hash"]),
                                  [bytes.fromhex(x) for x in cons["proof"]])

        for params in ({"uid": uids[5], "tree_size": 3}, {"uid": uids[0], "tree_size": 99}, {"uid": uids[0], "tree_size": "x"}, {}):
            r = c.get("/api/v1/log/proof/inclusion", params=params)
            assert r.status_code == 400 and r.json()["error"] in {"bad_param", "missing_param"}
        assert c.get("/api/v1/log/proof/consistency", params={"first": 12}).status_code == 400
        assert c.get("/api/v1/log/proof/consistency").status_code == 400

        metrics = c.get("/metrics").text
        assert "censorwatch_collector_accepted_total 11" in metrics
        assert "censorwatch_collector_duplicates_total 1" in metrics
        assert "censorwatch_collector_tree_size 11" in metrics
        assert "censorwatch_collector_request_latency_seconds_count 12" in metrics

        big = (samples / "fastpath" / "mbx-1.json").read_bytes()  # 0.5 MB: checked off the event loop
        r = c.post(POST, content=big)
        assert r.status_code == 201 and r.json()["receipt"]["leaf_index"] == 11
        assert c.get(f"{POST}/{r.json()['measurement_uid']}").content == canonical_bytes(orjson.loads(big))


def _root_at(c: httpx.Client, uid: str, size: int) -> bytes:
    """The root at ``size`` recomputed from an inclusion proof of the last leaf of that tree."""
    from censorwatch.collector.merkle import node_hash

    p = c.get("/api/v1/log/proof/inclusion", params={"uid": uid, "tree_size": size}).json()
    idx, r = p["leaf_index"], bytes.fromhex(p["leaf_hash"])
    assert idx == size - 1
    fn, sn = idx, size - 1
    for h in (bytes.fromhex(x) for x in p["audit_path"]):
        if fn & 1 or fn == sn:
            r = node_hash(h, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, h)
        fn, sn = fn >> 1, sn >> 1
    return r


def test_bad_input_gets_clear_4xx_and_is_counted(collector: CollectorProcess) -> None:
    with httpx.Client(base_url=collector.url, timeout=30) as c:
        m = make_measurement(1)
        assert c.post(POST, content=orjson.dumps(m)).status_code == 201
        conflict = dict(m, measurement_uid=c.post(POST, content=orjson.dumps(m)).json()["measurement_uid"])
        r = c.post(POST, content=orjson.dumps(conflict))
        assert r.status_code == 409 and r.json()["error"] == "uid_conflict"
        r = c.post(POST, content=b"{not json")
        assert r.status_code == 400 and "not JSON" in r.json()["reason"]
        r = c.post(POST, content=b"x" * (4 * 1024 * 1024 + 1))
        assert r.status_code == 413 and r.json()["error"] == "too_large"

        def chunks():  # no Content-Length: the limit applies while streaming
            for _ in range(80):
                yield b" " * 65536

        r = c.post(POST, content=chunks())
        assert r.status_code == 413
        assert c.get(POST).status_code == 405
        metrics = c.get("/metrics").text
        assert 'censorwatch_collector_rejected_total{reason="too_large"} 2' in metrics
        assert 'censorwatch_collector_rejected_total{reason="uid_conflict"} 1' in metrics
        assert 'censorwatch_collector_rejected_total{reason="invalid_json"} 1' in metrics


def test_per_client_rate_limit(tmp_path: Path) -> None:
    proc = CollectorProcess(tmp_path / "rl.duckdb", None, "--client-rate", "2", "--client-burst", "3").start()
    try:
        with httpx.Client(base_url=proc.url, timeout=10) as c:
            codes = [c.post(POST, content=orjson.dumps(make_measurement(i))) for i in range(8)]
        assert [r.status_code for r in codes[:3]] == [201, 201, 201]
        limited = [r for r in codes if r.status_code == 429]
        assert len(limited) >= 4
        assert all(r.json()["error"] == "rate_limited" and int(r.headers["retry-after"]) >= 1 for r in limited)
    finally:
        proc.stop()


def test_backpressure_when_the_queue_is_full(tmp_path: Path) -> None:
    proc = CollectorProcess(tmp_path / "bp.duckdb", None, "--client-rate", "0", "--queue-size", "1").start()
    try:
        async def flood() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=64)
            async with httpx.AsyncClient(base_url=proc.url, timeout=30, limits=limits) as c:
                bodies = [orjson.dumps(make_measurement(i, padding=8000)) for i in range(200)]
                return await asyncio.gather(*(c.post(POST, content=b) for b in bodies))

        replies = asyncio.run(flood())
        codes = [r.status_code for r in replies]
        assert set(codes) <= {201, 429}
        full = [r for r in replies if r.status_code == 429]
        assert full, "a queue of one never filled under 64 concurrent clients"
        assert all(r.json()["error"] == "queue_full" and r.headers["retry-after"] == "1" for r in full)
        stored = httpx.get(proc.url + "/api/v1/log/sth").json()["tree_size"]
        assert stored == codes.count(201)
    finally:
        proc.stop()
