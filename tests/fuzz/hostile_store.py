"""A store full of hostile strings, for the dashboard and API tests: the web fixture store, whose
incident, event, aggregate and verdict text then holds bidi controls, spreadsheet formulas and markup,
plus hostile measurements ingested through the real pipeline (``pipeline.ingest``)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
import web_fixture_db as fixture_db

from censorwatch.pipeline.ingest import ingest
from censorwatch.store.db import Store
from censorwatch.store.reader import read_paths
from fuzz.hostile import BIDI, measurement

#: a target that displays as "x.com.google.example" reversed: what a page must never show as it is
SPOOF_TARGET = "x.com\u202eelpmaxe.elgoog"
FORMULA = '=HYPERLINK("http://evil.example","click")'
MARKUP = '<img src=x onerror="window.__xss=9">'
HOSTILE_TEXT = [SPOOF_TARGET, FORMULA, MARKUP, BIDI, "+1-2", "@SUM(A1)", "-3", "\t=1", "\r=2", "\u2066x\u2069"]
INCIDENT = fixture_db.INCIDENT_IR


def build(path: Path) -> dict[str, Any]:
    facts = fixture_db.build(path)
    con = duckdb.connect(str(path))
    try:
        con.execute("UPDATE incidents SET target = ?, confidence_reason = ? WHERE id = ?",
                    [SPOOF_TARGET, f"{MARKUP} {BIDI} {FORMULA}", INCIDENT])
        con.execute("UPDATE events SET target = ? WHERE target = 'example.org'", [SPOOF_TARGET])
        for table in ("agg_daily", "agg_hourly"):
            con.execute(f"UPDATE {table} SET domain = ? WHERE domain = 'example.org'", [SPOOF_TARGET])
        con.execute("UPDATE verdicts SET domain = ?, input = ?, explanation = ? WHERE probe_cc = 'IR'",
                    [SPOOF_TARGET, FORMULA, f"{BIDI} {MARKUP}"])
        con.execute("UPDATE measurements SET domain = ?, input = ? WHERE probe_cc = 'IR'", [SPOOF_TARGET, FORMULA])
    finally:
        con.close()
    lines = []
    for i, text in enumerate(HOSTILE_TEXT):
        m = measurement(900_000 + i, input=f"https://{text}/", probe_network_name=text,
                        measurement_start_time=datetime(2024, 2, 15, 12, i).strftime("%Y-%m-%d %H:%M:%S"))
        m["test_keys"]["requests"] = [{"request": {"url": f"https://{text}/"}, "failure": None,
                                       "response": {"code": 200, "body": f"<title>{text}</title>{MARKUP}",
                                                    "headers": {"X": text}}}]
        lines.append(orjson.dumps(m))
    src = path.with_name("hostile.jsonl")
    src.write_bytes(b"\n".join(lines) + b"\n")
    with Store(path) as store:
        stats = ingest(store, read_paths([src]))
    assert stats.new == len(HOSTILE_TEXT), stats
    return facts


@contextlib.contextmanager
def serve(path: Path, **options: Any) -> Iterator[Any]:
    """A hostile store built at ``path``, served by the dashboard app in-process (a TestClient that
    answers 500s instead of raising them)."""
    import warnings

    with warnings.catch_warnings():  # (Starlette suggests httpx2 for its TestClient)
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from censorwatch.store.views import open_db
    from censorwatch.web.app import create_app

    build(path)
    con = open_db(path)
    try:
        with TestClient(create_app(con, db_path=path, cache_ttl=0, **options), raise_server_exceptions=False) as c:
            yield c
    finally:
        con.close()
