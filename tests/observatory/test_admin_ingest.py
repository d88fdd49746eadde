"""The admin ingest endpoint reads each record with the same checks and limits as a file line: a bad or
hostile record is that record's error (named by its source), the good ones are stored, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from collector.helpers import make_measurement
from observatory.helpers import TOKEN, ObservatoryProcess


def _line(source: str, raw: bytes) -> bytes:
    return orjson.dumps({"source": source, "raw": raw.decode()})


def test_hostile_records_are_their_own_errors(tmp_path: Path) -> None:
    obs = ObservatoryProcess(tmp_path / "cw.duckdb", "--analyze-every", "3600", "--collector-workers", "1").start()
    try:
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"}
        url = f"{obs.url}/api/v1/admin/ingest"
        good = [orjson.dumps(make_measurement(i)) for i in range(3)]
        body = b"\n".join([
            _line("a.jsonl:1", good[0]),
            _line("a.jsonl:2", b"[" * 5000 + b"]" * 5000),  # nested past any decoder's depth
            _line("a.jsonl:3", b"[1, 2]"),  # a list, but not of measurements
            _line("a.jsonl:4", b'{"test_name": "web_connectivity"}'),  # no envelope
            _line("a.jsonl:5", b"{not json"),
            _line("a.jsonl:6", b"[" + good[1] + b", " + good[2] + b"]"),  # a list of two
        ])
        r = httpx.post(url, content=body, headers=auth, timeout=120)
        assert r.status_code == 200, r.text
        res = r.json()
        assert (res["read"], res["new"], res["bad"]) == (8, 3, 5), res
        located = sorted(e.split(": ", 1)[0] for e in res["errors"])
        assert located == ["a.jsonl:2", "a.jsonl:3[0]", "a.jsonl:3[1]", "a.jsonl:4", "a.jsonl:5"], res["errors"]
        # a line that is not {"source", "raw"}: the request is refused with the line's number
        r = httpx.post(url, content=_line("b:1", good[0]) + b'\n{"raw": 1}', headers=auth, timeout=60)
        assert r.status_code == 400 and "line 2" in r.json()["detail"], r.text
    finally:
        obs.kill()


def test_ingest_through_batches_and_adds_up() -> None:
    from censorwatch.model.measurement import Measurement
    from censorwatch.pipeline.ingest import ingest_through
    from censorwatch.store.reader import ReadError

    sent: list[list[tuple[str, bytes]]] = []

    def send(batch: list[tuple[str, bytes]]) -> dict[str, object]:
        sent.append(list(batch))
        return {"read": len(batch), "new": len(batch) - 1, "duplicates": 1, "seconds": 0.5, "errors": ["remote: x"]}

    items: list[Measurement | ReadError] = []
    for i in range(5):
        raw = orjson.dumps(make_measurement(i))
        items.append(Measurement.from_raw(orjson.loads(raw), source=f"f:{i + 1}", raw_bytes=raw))
    items.insert(2, ReadError("f:99", "invalid JSON"))
    local: list[str] = []
    remote: list[str] = []
    stats = ingest_through(send, items, batch_size=2, on_error=lambda e: local.append(str(e)),
                           on_remote_error=remote.append)
    assert [[s for s, _ in b] for b in sent] == [["f:1", "f:2"], ["f:3", "f:4"], ["f:5"]]
    assert sent[0][0][1] == orjson.dumps(make_measurement(0))  # the bytes as read, not re-encoded
    assert (stats.read, stats.new, stats.duplicates, stats.bad) == (6, 2, 3, 1)
    assert stats.seconds == 1.5 and local == ["f:99: invalid JSON"] and remote == ["remote: x"] * 3
