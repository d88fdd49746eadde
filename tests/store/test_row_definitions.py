"""The observation and verdict rows are defined once (model/observations.py, model/verdict.py); the Arrow
schemas, the SQL tables and the positional tuples ``flat_rows`` builds must all agree with them."""

from __future__ import annotations

from typing import Any

import pytest

from censorwatch.model.columns import TYPES
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import OBSERVATION_ROW, flat_rows
from censorwatch.model.verdict import VERDICT_ROW, Verdict
from censorwatch.store.db import Store
from censorwatch.store.rows import ARROW_TYPES, OBSERVATION_SCHEMA, VERDICT_SCHEMA, RowBatch
from censorwatch.store.schema import SQL_TYPES

NAMES = [c.name for c in OBSERVATION_ROW]

#: one step of each kind, with a distinct value in every field the flat row reads
TK: dict[str, Any] = {
    "queries": [{"hostname": "h.example", "query_type": "AAAA", "engine": "doh", "resolver_address": "r:53",
                 "answers": [{"ipv6": "2001:db8::9"}], "failure": "dns_nxdomain_error", "t0": 1.5, "t": 2.5}],
    "tcp_connect": [{"ip": "192.0.2.7", "port": 8443, "status": {"success": False, "failure": "connection_refused"},
                     "t0": 3.5, "t": 4.5}],
    "tls_handshakes": [{"address": "192.0.2.8:9443", "server_name": "s.example", "failure": "ssl_unknown_authority",
                        "t0": 5.5, "t": 6.5}],
    "requests": [{"request": {"url": "http://u.example/"}, "response": {"code": 418, "body": "12345"},
                  "failure": None, "t0": 7.5, "t": 8.5}],
    "network_events": [{"operation": "read", "num_bytes": 77, "address": "192.0.2.9:99", "proto": "udp",
                        "failure": "eof_error", "t0": 9.5, "t": 10.5}],
}

#: kind -> the value each column must hold for the step above (columns not named are NULL)
EXPECTED: dict[str, dict[str, Any]] = {
    "dns": {"hostname": "h.example", "query_type": "AAAA", "engine": "doh", "resolver": "r:53",
            "answers": ["2001:db8::9"], "failure": "dns_nxdomain_error", "t0": 1.5, "t": 2.5},
    "tcp": {"ip": "192.0.2.7", "port": 8443, "failure": "connection_refused", "t0": 3.5, "t": 4.5},
    "tls": {"ip": "192.0.2.8", "port": 9443, "server_name": "s.example", "failure": "ssl_unknown_authority",
            "t0": 5.5, "t": 6.5},
    "http": {"url": "http://u.example/", "status_code": 418, "body_length": 5, "t0": 7.5, "t": 8.5},
    "event": {"engine": "udp", "ip": "192.0.2.9", "port": 99, "operation": "read", "num_bytes": 77,
              "failure": "eof_error", "t0": 9.5, "t": 10.5},
}


def test_every_column_type_maps_to_arrow_and_sql() -> None:
    assert set(ARROW_TYPES) == set(SQL_TYPES) == set(TYPES)
    assert {c.type for c in (*OBSERVATION_ROW, *VERDICT_ROW)} <= set(TYPES)


def test_flat_rows_fill_each_column_by_its_name() -> None:
    rows: list[tuple[Any, ...]] = []
    flat_rows("uid-1", TK, rows.append)
    assert [r[NAMES.index("kind")] for r in rows] == list(EXPECTED)
    for row in rows:
        assert len(row) == len(NAMES)
        got = dict(zip(NAMES, row, strict=True))
        assert (got["measurement_uid"], got["idx"]) == ("uid-1", 0)
        want = EXPECTED[got["kind"]]
        for name in NAMES[3:]:
            assert got[name] == want.get(name), (got["kind"], name)


@pytest.mark.parametrize(("table", "row", "schema"), [("observations", OBSERVATION_ROW, OBSERVATION_SCHEMA),
                                                       ("verdicts", VERDICT_ROW, VERDICT_SCHEMA)])
def test_arrow_and_sql_agree_with_the_definition(table: str, row: Any, schema: Any) -> None:
    assert [(f.name, f.type) for f in schema] == [(c.name, ARROW_TYPES[c.type]) for c in row]
    with Store(":memory:") as store:
        described = store.con.execute(f"DESCRIBE {table}").fetchall()
    assert [(d[0], d[1], d[2] == "YES") for d in described] == [(c.name, SQL_TYPES[c.type], c.nullable) for c in row]


def test_a_batch_writes_every_column_it_defines() -> None:
    m = Measurement.from_raw({"test_name": "web_connectivity", "input": "http://u.example/",
                              "measurement_start_time": "2024-02-17 10:00:00", "test_keys": TK}, source="t")
    batch = RowBatch()
    batch.add_measurement("uid-1", m, b"{}")
    v = Verdict(source="t", measurement_uid="uid-1", report_id=None, test_name="web_connectivity", probe_cc="ZZ",
                probe_asn="AS0", input=m.input, domain=m.domain, measurement_start_time=None, status="ok",
                method=None, rule="wc.http.match", rules_version="web_connectivity/x", explanation="e.",
                fingerprints="fp-1", details={"a": 1})
    batch.add_verdict("uid-1", v, m.measurement_start_time)
    assert list(batch.v) == [c.name for c in VERDICT_ROW]
    with Store(":memory:") as store:
        res = store.write(batch)
        assert (res.measurements, res.observations, res.verdicts) == (1, 5, 1)
        assert store.con.execute("SELECT rules_version, fingerprints, details->>'a' FROM verdicts").fetchall() == [
            ("web_connectivity/x", "fp-1", "1")]
        kinds = store.con.execute("SELECT kind, port, failure FROM observations ORDER BY kind").fetchall()
    assert kinds == [("dns", None, "dns_nxdomain_error"), ("event", 99, "eof_error"), ("http", None, None),
                     ("tcp", 8443, "connection_refused"), ("tls", 9443, "ssl_unknown_authority")]
