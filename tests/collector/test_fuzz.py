"""Fuzzing POST /api/v1/measurements with malformed and hostile input: every reply a clear 4xx (or a
201/200 for input that happens to be a valid measurement), never a 500, never a crash.

Runs twice, each time in-process with the real writer committing to a real SQLite file: the ASGI app
(Starlette's TestClient, lifespan included; a server bug raises here instead of hiding behind a 500)
and the collector's own HTTP server over a real loopback socket (``lean``; a bug shows as a 500).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():  # Starlette suggests httpx2 for its TestClient; httpx is what we have
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from censorwatch.collector.app import CollectorConfig, create_app
from collector.helpers import lean_server, make_measurement

POST = "/api/v1/measurements"
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", params=["asgi", "lean"])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    where: Path = tmp_path_factory.mktemp("fuzz") / "cw.duckdb.evidence"
    config = CollectorConfig(evidence_dir=where, client_rate=0, max_body_bytes=256 * 1024)
    if request.param == "asgi":
        with TestClient(create_app(config), raise_server_exceptions=True) as c:
            yield c
    else:
        with lean_server(config) as url, httpx.Client(base_url=url, timeout=30) as c:
            yield c


def _assert_clear(resp: Any) -> None:
    assert resp.status_code != 500
    if resp.status_code in (200, 201):
        doc = resp.json()
        assert doc["measurement_uid"] and doc["receipt"]["signature"]
        return
    assert 400 <= resp.status_code < 500, resp.status_code
    doc = resp.json()
    assert isinstance(doc["error"], str) and doc["error"]
    assert isinstance(doc["reason"], str) and doc["reason"]
    assert isinstance(doc["location"], str) and doc["location"].startswith(("$", "?", "{"))


json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=20,
)
ENVELOPE_KEYS = ["test_name", "measurement_start_time", "test_start_time", "test_keys", "probe_cc", "probe_asn",
                 "input", "annotations", "measurement_uid", "report_id", "data_format_version", "software_name"]


@FUZZ
@given(body=st.binary(max_size=2048))
def test_arbitrary_bytes(client: TestClient, body: bytes) -> None:
    _assert_clear(client.post(POST, content=body))


@FUZZ
@given(value=json_values)
def test_arbitrary_json(client: TestClient, value: Any) -> None:
    body = json.dumps(value).encode()  # stdlib: also writes integers beyond 64 bits
    _assert_clear(client.post(POST, content=body))


@FUZZ
@given(
    i=st.integers(0, 10**6),
    changes=st.dictionaries(st.sampled_from(ENVELOPE_KEYS), json_values, max_size=3),
    drop=st.lists(st.sampled_from(ENVELOPE_KEYS), max_size=2),
)
def test_mutated_measurements(client: TestClient, i: int, changes: dict[str, Any], drop: list[str]) -> None:
    m = make_measurement(i)
    m.update(changes)
    for k in drop:
        m.pop(k, None)
    body = json.dumps(m).encode()
    _assert_clear(client.post(POST, content=body))


@FUZZ
@given(
    depth=st.integers(1, 3000),
    opener=st.sampled_from([b"[", b'{"a":', b'{"test_keys":']),
    close=st.booleans(),
)
def test_deep_nesting(client: TestClient, depth: int, opener: bytes, close: bool) -> None:
    closer = {b"[": b"]", b'{"a":': b"}", b'{"test_keys":': b"}"}[opener]
    body = opener * depth + b"1" + (closer * depth if close else b"")
    _assert_clear(client.post(POST, content=body))


@pytest.mark.parametrize(
    "body",
    [
        b"\x00" * 100,
        b'{"test_name": "web_connectivity", "test_name": 5}',
        b'{"a": "\\ud800"}',
        b'{"a": 1e999}',
        b"\xef\xbb\xbf{}",
        b"9" * 5000,
        b"[" + b"1," * 50_000 + b"1]",
        b'"' + b"A" * 300_000 + b'"',
        orjson.dumps(dict(make_measurement(1), measurement_start_time="2024-13-45 99:99:99")),
        orjson.dumps(dict(make_measurement(1), test_keys={"x": "\x00\u202e" * 1000})),
        orjson.dumps(dict(make_measurement(1), test_name="a" * 10_000)),
        orjson.dumps(dict(make_measurement(1), input=["x"] * 20_000)),
    ],
)
def test_hostile_bodies(client: TestClient, body: bytes) -> None:
    _assert_clear(client.post(POST, content=body))


def test_hostile_headers(client: TestClient) -> None:
    if isinstance(client, TestClient):  # (httpx refuses to send this one; test_http.py sends it raw)
        _assert_clear(client.post(POST, content=b"{}", headers={"content-length": "-1"}))
    _assert_clear(client.post(POST, content=b"{}", headers={"content-type": "text/html"}))
    _assert_clear(client.get("/api/v1/log/proof/inclusion", params={"uid": "x" * 5000, "tree_size": "9" * 40}))
    _assert_clear(client.get("/api/v1/log/proof/consistency", params={"first": "-1"}))
    _assert_clear(client.get("/api/v1/measurements/" + "%00" * 50))
