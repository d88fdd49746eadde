"""``--engine spark`` gives the same verdicts, aggregates and events as the local engine (real local Spark)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from censorwatch.pipeline import run_analysis
from censorwatch.pipeline.ingest import ingest
from censorwatch.pipeline.simulate import parse, write
from censorwatch.store.db import Store
from censorwatch.store.reader import read_paths

# Spark starts slowly (a JVM, Python workers); on a loaded 2-core machine this needs minutes
pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]

SCENARIO = {
    "name": "spark-equality", "start": "2024-03-01T00:00:00Z", "days": 2, "seed": 3, "noise": 0.05,
    "targets": ["x.com", "example.org", "dawn.com"],
    "countries": [
        {"cc": "PK", "networks": [{"asn": "AS17557", "rate": 1.5}, {"asn": "AS59257", "rate": 1, "bursty": True}]},
        {"cc": "IT", "networks": [{"asn": "AS30722", "rate": 1}]},
    ],
    "blocks": [{"cc": "PK", "target": "x.com", "method": "tls.reset", "start": "2024-03-01T10:30:00Z",
                "end": None},
               {"cc": "PK", "target": "dawn.com", "method": "http.blockpage", "asns": ["AS17557"],
                "start": "2024-03-01T20:00:00Z", "end": "2024-03-02T08:00:00Z"}],
    "site_outages": [{"target": "example.org", "start": "2024-03-01T12:00:00Z", "end": "2024-03-01T18:00:00Z"}],
}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from censorwatch.pipeline.spark.engine import session

    s = session("local[2]")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("spark")
    out = d / "m.jsonl.gz"
    write(parse(SCENARIO), out, d / "m.truth.json")
    return out


def _store(path: Path, corpus: Path) -> Store:
    store = Store(path)
    ingest(store, read_paths([corpus]))
    return store


def _rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    rows = store.con.execute(sql).fetchall()
    return sorted(tuple(orjson.loads(v) if isinstance(v, str) and v.startswith("{") else v for v in r)
                  for r in rows)


TABLES = {
    "verdicts": "SELECT * EXCLUDE (details), details::VARCHAR FROM verdicts",
    "agg_hourly": "SELECT * EXCLUDE (methods), methods::VARCHAR FROM agg_hourly",
    "agg_daily": "SELECT * EXCLUDE (methods), methods::VARCHAR FROM agg_daily",
    "agg_hourly_cc": "SELECT * EXCLUDE (methods), methods::VARCHAR FROM agg_hourly_cc",
    "agg_daily_cc": "SELECT * EXCLUDE (methods), methods::VARCHAR FROM agg_daily_cc",
    "volume_hourly": "SELECT * FROM volume_hourly",
    "events": "SELECT id, kind, detector, cc, asn, target, start_time, end_time, method, measurements, "
              "evidence FROM events",
}


def test_spark_engine_equals_local_engine(spark: Any, corpus: Path, tmp_path: Path) -> None:
    with _store(tmp_path / "local.duckdb", corpus) as local:
        run_analysis(local, "local")
        expected = {t: _rows(local, q) for t, q in TABLES.items()}
    with _store(tmp_path / "spark.duckdb", corpus) as other:
        # every verdict and aggregate must come from Spark, not from ingest's local classification
        for t in ("verdicts", "agg_hourly", "agg_daily", "agg_hourly_cc", "agg_daily_cc", "volume_hourly"):
            other.con.execute(f"DELETE FROM {t}")
        res = run_analysis(other, "spark")
        got = {t: _rows(other, q) for t, q in TABLES.items()}
    assert res["aggregates"]["engine"] == "spark"
    assert res["verdicts"]["classified"] == len(expected["verdicts"]) > 300
    for t in TABLES:
        assert got[t] == expected[t], t
    statuses = {r[2] for r in expected["verdicts"]}
    assert {"ok", "anomaly", "confirmed", "down"} <= statuses
    assert any(r[1] == "blocking" for r in expected["events"])


def test_spark_job_over_the_archive_layout_equals_local_engine(spark: Any, corpus: Path, tmp_path: Path) -> None:
    """The job reads OONI's raw/ layout (a local folder, as s3a:// would be), selected like `sync`;
    its outputs, loaded into an empty store, give the local engine's verdicts, aggregates and events."""
    import gzip
    from datetime import datetime

    from censorwatch.pipeline.archive.layout import Selection
    from censorwatch.pipeline.archive.local import write_archive
    from censorwatch.pipeline.spark import job

    root = tmp_path / "archive"
    with gzip.open(corpus, "rb") as fh:
        objects, n = write_archive(fh, root)
    decoy = tmp_path / "decoy"  # outside the selection: another day, and a country not asked for
    write_archive([_moved(corpus, "2024-03-05"), _moved(corpus, "2024-03-01", cc="DE")], decoy)
    for f in decoy.rglob("*.jsonl.gz"):
        (root / f.relative_to(decoy)).parent.mkdir(parents=True, exist_ok=True)
        f.rename(root / f.relative_to(decoy))
    bad = root / "raw/20240301/10/PK/webconnectivity/2024030110_PK_webconnectivity.n9.0.jsonl.gz"
    bad.write_bytes(gzip.compress(b'{"test_name": "web_connectivity", "probe_cc": \n\n'))  # counted, not a verdict
    sel = Selection.of(datetime(2024, 3, 1), datetime(2024, 3, 3), ["PK", "IT"], ["web_connectivity"])
    files = job.archive_files(spark, str(root), sel)
    assert len(files) == objects + 1 > 48
    out = tmp_path / "out"
    counts = job.run(spark, str(out), archive=files)
    assert counts == {"verdicts": n, "errors": 1}

    with _store(tmp_path / "local.duckdb", corpus) as local:
        run_analysis(local, "local")
        expected = {t: _rows(local, q) for t, q in TABLES.items()}
    with Store(tmp_path / "loaded.duckdb") as loaded:
        res = run_analysis(loaded, "spark", spark_output=out)
        got = {t: _rows(loaded, q) for t, q in TABLES.items()}
    assert res["verdicts"]["loaded"] == n
    for t in TABLES:
        assert got[t] == expected[t], t


def _moved(corpus: Path, day: str, cc: str | None = None) -> bytes:
    """The corpus's first measurement on another day (or in another country), with its own uid."""
    import gzip

    with gzip.open(corpus, "rb") as fh:
        obj = orjson.loads(fh.readline())
    obj["measurement_start_time"] = day + obj["measurement_start_time"][10:]
    obj["measurement_uid"] = f"{obj['measurement_uid']}-moved-{day}-{cc}"
    if cc:
        obj["probe_cc"] = cc
    return orjson.dumps(obj)
