"""``collector serve --workers N``: HTTP front-end processes and one writer process, over real sockets."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path

import httpx
import orjson
import pytest

from censorwatch.collector.keys import LogVerifier
from collector.helpers import CollectorProcess, make_measurement

POST = "/api/v1/measurements"


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_gone(pids: list[int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), f"front-end processes still running: {[p for p in pids if _alive(p)]}"


def _per_process(metrics: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r'_http_requests_total\{process="([^"]+)"\} (\d+)', metrics)}


def _clients(url: str, n: int) -> list[httpx.Client]:
    """``n`` clients, one keep-alive connection each (the kernel spreads connections over the front-ends)."""
    return [httpx.Client(base_url=url, timeout=20, limits=httpx.Limits(max_connections=1)) for _ in range(n)]


def _fronts_up(url: str) -> int:
    return int(re.findall(r"front_processes (\d+)", httpx.get(url + "/metrics").text)[0])


@pytest.fixture
def three(tmp_path: Path):  # type: ignore[no-untyped-def]
    proc = CollectorProcess(tmp_path / "w.duckdb", None, "--client-rate", "0", "--workers", "3").start()
    deadline = time.monotonic() + 30
    while _fronts_up(proc.url) < 3 and time.monotonic() < deadline:  # (serving starts with the first)
        time.sleep(0.1)
    try:
        yield proc
    finally:
        proc.stop()


def test_every_worker_accepts_and_answers_the_same(three: CollectorProcess) -> None:
    assert len(three.children()) == 3
    clients = _clients(three.url, 24)
    try:
        key_doc = clients[0].get("/api/v1/log/key").content
        key = LogVerifier.from_document(orjson.loads(key_doc))
        acked: dict[str, tuple[bytes, dict]] = {}
        for i, c in enumerate(clients):
            body = orjson.dumps(make_measurement(i, padding=500))
            r = c.post(POST, content=body)
            assert r.status_code == 201, r.text
            doc = r.json()
            assert key.check_receipt(doc["receipt"]) is None
            acked[doc["measurement_uid"]] = (body, doc)
        indexes = sorted(doc["receipt"]["leaf_index"] for _, doc in acked.values())
        assert indexes == list(range(len(clients)))  # one log, one sequence, whichever process took it
        per = _per_process(clients[0].get("/metrics").text)
        assert sum(1 for n in per.values() if n) >= 2, f"all connections went to one front-end: {per}"

        # a duplicate is answered 200 with the very same receipt, through any front-end
        for c in clients:
            for uid, (body, doc) in list(acked.items())[:3]:
                again = c.post(POST, content=body)
                assert again.status_code == 200 and again.json() == doc, uid

        # every GET gives the same bytes whichever process took the connection
        uid = next(iter(acked))
        paths = ["/api/v1/log/sth", "/api/v1/log/key", f"{POST}/{uid}", f"/api/v1/log/proof/inclusion?uid={uid}",
                 "/api/v1/log/proof/inclusion?uid=" + uid + "&tree_size=20", "/api/v1/log/proof/consistency?first=5",
                 f"{POST}/nope", "/api/v1/log/proof/inclusion?tree_size=x", "/nowhere"]
        for path in paths:
            answers = {(r.status_code, r.content) for r in (c.get(path) for c in clients)}
            assert len(answers) == 1, (path, answers)
        sth = orjson.loads(clients[0].get("/api/v1/log/sth").content)
        assert key.check_sth(sth) is None and sth["tree_size"] == len(clients)

        # the metrics add up over the processes
        metrics = clients[5].get("/metrics").text
        assert f"censorwatch_collector_accepted_total {len(clients)}" in metrics
        assert f"censorwatch_collector_duplicates_total {3 * len(clients)}" in metrics
        assert f"censorwatch_collector_tree_size {len(clients)}" in metrics
        assert "censorwatch_collector_front_processes 3" in metrics
        assert f"censorwatch_collector_request_latency_seconds_count {4 * len(clients)}" in metrics
    finally:
        for c in clients:
            c.close()


def test_bad_input_through_the_workers_is_a_clear_4xx(three: CollectorProcess) -> None:
    clients = _clients(three.url, 9)
    try:
        for c in clients:
            r = c.post(POST, content=b"{not json")
            assert r.status_code == 400 and r.json()["error"] == "invalid_json"
            r = c.post(POST, content=orjson.dumps({"test_name": "web_connectivity"}))
            assert r.status_code == 422 and r.json()["location"] == "$.measurement_start_time"
            r = c.post(POST, content=b"x" * (4 * 1024 * 1024 + 1))
            assert r.status_code == 413 and r.json()["error"] == "too_large"
            assert c.get(POST).status_code == 405
            assert c.put("/api/v1/log/sth").status_code == 405
        m = make_measurement(1)
        assert clients[0].post(POST, content=orjson.dumps(m)).status_code == 201
        uid = clients[0].post(POST, content=orjson.dumps(m)).json()["measurement_uid"]
        r = clients[-1].post(POST, content=orjson.dumps(dict(m, measurement_uid=uid, probe_cc="IR")))
        assert r.status_code == 409 and r.json()["error"] == "uid_conflict"
        metrics = clients[1].get("/metrics").text
        assert f'censorwatch_collector_rejected_total{{reason="invalid_json"}} {len(clients)}' in metrics
        assert f'censorwatch_collector_rejected_total{{reason="too_large"}} {len(clients)}' in metrics
        assert 'censorwatch_collector_rejected_total{reason="uid_conflict"} 1' in metrics
    finally:
        for c in clients:
            c.close()


def test_a_front_end_that_dies_is_replaced(three: CollectorProcess) -> None:
    first = three.children()
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = three.children()
        if len(now) == 3 and first[0] not in now and _fronts_up(three.url) == 3:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no new front-end: {three.children()}\n{three.log.read_text()}")
    clients = _clients(three.url, 12)
    try:
        assert all(c.post(POST, content=orjson.dumps(make_measurement(i))).status_code == 201
                   for i, c in enumerate(clients))
    finally:
        for c in clients:
            c.close()


def test_sigterm_stops_every_process_and_keeps_what_was_acknowledged(tmp_path: Path) -> None:
    proc = CollectorProcess(tmp_path / "t.duckdb", None, "--client-rate", "0", "--workers", "2").start()
    fronts = proc.children()
    acked = []
    with httpx.Client(base_url=proc.url, timeout=20) as c:
        for i in range(30):
            acked.append(c.post(POST, content=orjson.dumps(make_measurement(i))).json()["measurement_uid"])
    assert proc.proc is not None
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(30) == 0, proc.log.read_text()
    _wait_gone(fronts)
    with socket.socket() as s:  # the port is free again
        s.bind(("127.0.0.1", proc.port))
    proc = CollectorProcess(tmp_path / "t.duckdb", proc.port, "--client-rate", "0", "--workers", "1").start()
    try:
        with httpx.Client(base_url=proc.url, timeout=20) as c:
            assert c.get("/api/v1/log/sth").json()["tree_size"] == 30
            assert all(c.get(f"{POST}/{u}").status_code == 200 for u in acked)
    finally:
        proc.stop()


def test_sigkill_of_the_writer_takes_the_front_ends_with_it(tmp_path: Path) -> None:
    proc = CollectorProcess(tmp_path / "k.duckdb", None, "--client-rate", "0", "--workers", "2").start()
    fronts = proc.children()
    assert len(fronts) == 2
    proc.kill()
    _wait_gone(fronts)
    again = CollectorProcess(tmp_path / "k.duckdb", proc.port, "--client-rate", "0", "--workers", "2").start()
    again.stop()


def test_the_port_is_refused_if_something_listens_there(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        proc = CollectorProcess(tmp_path / "p.duckdb", s.getsockname()[1], "--workers", "2")
        with pytest.raises(RuntimeError, match="exited"):
            proc.start(timeout=20)
