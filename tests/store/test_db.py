"""The DuckDB store: idempotent batched writes, lossless raw bytes, flat observations, stale verdicts."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from censorwatch.model.measurement import Measurement
from censorwatch.pipeline.ingest import ingest
from censorwatch.store.db import Store, StoreError
from censorwatch.store.paths import ENV_DB, default_db_path, resolve_db_path
from censorwatch.store.reader import ReadError, read_paths
from censorwatch.store.rows import RowBatch
from censorwatch.store.uid import stable_uid


def _good(items: list[Measurement | ReadError]) -> list[Measurement]:
    return [m for m in items if isinstance(m, Measurement)]


def test_ingesting_twice_adds_nothing(samples: Path, tmp_path: Path) -> None:
    with Store(tmp_path / "db.duckdb") as store:
        first = ingest(store, read_paths([samples]))
        counts = store.counts()
        second = ingest(store, read_paths([samples]))
        assert store.counts() == counts
    good = _good(list(read_paths([samples])))
    distinct = {stable_uid(m) for m in good}
    assert first.bad == 0 and first.read == len(good)
    assert first.new == len(distinct) == counts["measurements"] == counts["verdicts"]
    # report2.json and report2blocked.json hold the same measurement: one row, one duplicate
    assert first.duplicates == len(good) - len(distinct)
    assert counts["observations"] > counts["measurements"]
    assert second.new == 0 and second.observations == 0
    assert second.duplicates == second.read == first.read


def test_raw_bytes_come_back_identical(samples: Path, tmp_path: Path) -> None:
    """Every stored measurement decompresses to the exact bytes it was read from."""
    odd = tmp_path / "odd.jsonl"
    lines = [
        b'{"test_name":"web_connectivity","measurement_start_time":"2024-02-17 10:00:00",'
        b'"probe_cc":"PK","input":"http://a.example/","test_keys":{"x":"\\u00e9\\ud83d\\ude00"},"extra":1.50}',
        '{ "test_name" : "dnscheck",  "measurement_start_time":"2024-02-17 10:00:01", "z":"é😀" }'.encode(),
    ]
    odd.write_bytes(b"\n".join(lines) + b"\n")
    items = _good(list(read_paths([samples, odd])))
    with Store(tmp_path / "db.duckdb") as store:
        ingest(store, iter(items))
        for m in items:
            assert m.raw_bytes is not None
            assert store.raw(stable_uid(m)) == m.raw_bytes, m.source
        assert store.raw(stable_uid(items[-2])) == lines[0]
        assert store.raw(stable_uid(items[-1])) == lines[1]
    single = samples / "fastpath" / "report1.json"
    with Store(tmp_path / "db2.duckdb") as store:
        (m,) = _good(list(read_paths([single])))
        ingest(store, iter([m]))
        assert store.raw(stable_uid(m)) == single.read_bytes().strip()


def test_bad_records_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    good = {"test_name": "web_connectivity", "measurement_start_time": "2024-02-17 10:00:00",
            "probe_cc": "IR", "input": "https://a.example/"}
    lines = [
        orjson.dumps(good),
        b'{"test_name": "web_connectivity", broken',
        b"[1, 2]",
        orjson.dumps({**good, "measurement_start_time": "2024-02-17 10:00:01"}),
        orjson.dumps({"measurement_start_time": "2024-02-17 10:00:02"}),
        orjson.dumps({**good, "measurement_start_time": "2024-02-17 10:00:03"}),
    ]
    f = tmp_path / "mixed.jsonl"
    f.write_bytes(b"\n".join(lines) + b"\n")
    errors: list[ReadError] = []
    with Store(tmp_path / "db.duckdb") as store:
        stats = ingest(store, read_paths([f]), on_error=errors.append)
        stored = store.con.execute("SELECT source FROM measurements ORDER BY source").fetchall()
    assert [e.source for e in errors] == [f"{f}:2", f"{f}:3[0]", f"{f}:3[1]", f"{f}:5"]
    assert all(e.reason for e in errors)
    assert "test_name" in errors[-1].reason
    assert (stats.read, stats.new, stats.bad, stats.duplicates) == (7, 3, 4, 0)
    assert [r[0] for r in stored] == [f"{f}:1", f"{f}:4", f"{f}:6"]


def test_observation_rows_follow_the_raw_test_keys(samples: Path, tmp_path: Path) -> None:
    files = [samples / "fastpath" / "web_connectivity_null2.json", samples / "probe-cli" / "manual-youtube.json"]
    with Store(tmp_path / "db.duckdb") as store:
        for m in _good(list(read_paths(files))):
            ingest(store, iter([m]))
            uid = stable_uid(m)
            tk = m.test_keys or {}
            rows = store.con.execute(
                "SELECT kind, count(*) FROM observations WHERE measurement_uid = ? GROUP BY kind", [uid]
            ).fetchall()
            expected = {k: len(tk.get(key) or []) for k, key in (
                ("dns", "queries"), ("tcp", "tcp_connect"), ("tls", "tls_handshakes"),
                ("http", "requests"), ("event", "network_events"))}
            assert dict(rows) == {k: n for k, n in expected.items() if n}
            tcp = store.con.execute(
                "SELECT ip, port, failure, t0 FROM observations WHERE measurement_uid = ? AND kind = 'tcp' "
                "ORDER BY idx", [uid]
            ).fetchall()
            assert tcp == [
                (c["ip"], c["port"], c["status"]["failure"], c.get("t0")) for c in tk["tcp_connect"]
            ]
            answers = store.con.execute(
                "SELECT answers FROM observations WHERE measurement_uid = ? AND kind = 'dns' ORDER BY idx", [uid]
            ).fetchall()
            assert [a[0] for a in answers] == [
                [x.get("ipv4") or x.get("ipv6") or x.get("hostname") for x in (q.get("answers") or [])]
                for q in tk["queries"]
            ]


def test_odd_observation_values_are_coerced_and_failures_canonical(tmp_path: Path) -> None:
    raw = {
        "test_name": "web_connectivity", "measurement_start_time": "2014-02-17 10:00:00", "probe_cc": "ZZ",
        "test_keys": {
            "tcp_connect": [{"ip": "198.18.0.1", "port": "443", "status": {"failure": "connection_refused_error"},
                             "t0": "soon"}],
            "requests": [{"request": {"url": "http://a.example/"}, "failure": "task_timed_out",
                          "response": {"code": 200.0, "body": {"format": "base64", "data": "aGVsbG8="}}}],
            "network_events": [{"operation": "read", "num_bytes": 10, "address": "[2001:db8::1]:443"}],
        },
    }
    m = Measurement.from_raw(raw, "x.json", orjson.dumps(raw))
    batch = RowBatch()
    batch.add_measurement("u1", m, orjson.dumps(raw))
    with Store(tmp_path / "db.duckdb") as store:
        assert store.write(batch).observations == 3
        rows = store.con.execute(
            "SELECT kind, ip, port, failure, t0, status_code, body_length, operation, num_bytes "
            "FROM observations ORDER BY kind"
        ).fetchall()
    assert rows == [
        ("event", "2001:db8::1", 443, None, None, None, None, "read", 10),
        ("http", None, None, "generic_timeout_error", None, 200, 5, None, None),
        ("tcp", "198.18.0.1", 443, "connection_refused", None, None, None, None, None),
    ]


def test_database_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(ENV_DB, raising=False)
    assert default_db_path() == tmp_path / "xdg" / "censorwatch" / "censorwatch.duckdb"
    assert resolve_db_path(None) == default_db_path()
    monkeypatch.setenv(ENV_DB, str(tmp_path / "env.duckdb"))
    assert resolve_db_path(None) == tmp_path / "env.duckdb"
    assert resolve_db_path(tmp_path / "flag.duckdb") == tmp_path / "flag.duckdb"
    with Store() as store:
        assert store.path == tmp_path / "env.duckdb"
    assert (tmp_path / "env.duckdb").is_file()


def test_unusable_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such database"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    (tmp_path / "notadb.duckdb").write_text("this is not a database")
    with pytest.raises(StoreError, match="cannot open"):
        Store(tmp_path / "notadb.duckdb")
    with Store(tmp_path / "ok.duckdb"):
        pass
    with Store(tmp_path / "ok.duckdb", read_only=True) as ro:
        assert ro.counts() == {"measurements": 0, "observations": 0, "verdicts": 0}
