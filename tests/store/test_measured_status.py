"""Verdicts with status ``measured`` (speed tests, diagnostics) through the store, detection and web
aggregates: counted apart, shown, never evidence of blocking or of reachability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from censorwatch.analysis.detect.series import NO_EVIDENCE, signal
from censorwatch.model.measurement import Measurement
from censorwatch.pipeline import run_analysis
from censorwatch.pipeline.ingest import ingest
from censorwatch.report.charts import cell_status
from censorwatch.store import detection as sql
from censorwatch.store import views_agg
from censorwatch.store.db import Store

T0 = datetime(2024, 2, 17, 10, tzinfo=UTC)


def _m(test: str, tk: dict[str, Any], i: int, inp: str | None = None) -> Measurement:
    return Measurement.from_raw({
        "test_name": test, "input": inp, "probe_cc": "PK", "probe_asn": "AS17557", "report_id": f"r{i}",
        "measurement_start_time": (T0 + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S"), "test_keys": tk,
    }, source=f"t.jsonl:{i}")


NDT = {"failure": None, "protocol": 7, "summary": {"download": 20000.0, "upload": 5000.0, "ping": 30.0}}
TOR_BLOCKED = {"targets": {f"t{i}": {"target_protocol": "obfs4", "failure": "generic_timeout_error"}
                           for i in range(3)}}


def test_measured_is_counted_apart_and_never_evidence(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.duckdb")
    ingest(store, [_m("ndt", NDT, i) for i in range(4)] + [_m("tor", TOR_BLOCKED, 10)])
    run_analysis(store)
    rows = dict(store.con.execute("SELECT test_name, status FROM verdicts").fetchall())
    assert rows == {"ndt": "measured", "tor": "anomaly"}
    agg = store.con.execute(
        "SELECT domain, total, ok, anomaly, failure, measured FROM agg_daily ORDER BY domain").fetchall()
    assert agg == [("ndt", 4, 0, 0, 0, 4), ("tor", 1, 0, 1, 0, 0)]
    # the verdict rows the detectors read: the speed tests are not among them
    targets = {r[3] for r in sql.country_rows(store.con, "PK")}
    assert targets == {"tor"}
    day = T0.replace(hour=0)
    countries = views_agg.countries(store.con, day - timedelta(days=1), day + timedelta(days=1))
    assert (countries[0]["total"], countries[0]["measured"], countries[0]["anomaly"]) == (5, 4, 1)
    store.close()


def test_cells_and_signals() -> None:
    assert signal("measured") == NO_EVIDENCE
    assert cell_status(4, 0, 0, 0, 0, measured=4) == "measured"
    # measured verdicts do not dilute the share of anomalies among the verdicts that are evidence
    # 2 anomalies among 10 verdicts that are evidence (20 %): three speed tests beside them change nothing
    assert cell_status(10, 8, 2, 0, 0) == "anomaly"
    assert cell_status(13, 8, 2, 0, 0, measured=3) == "anomaly"
    assert cell_status(30, 20, 2, 0, 0, measured=8) == "ok"


def test_a_store_of_schema_2_gains_the_measured_column(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""CREATE TABLE agg_daily (probe_cc VARCHAR NOT NULL, probe_asn VARCHAR NOT NULL,
        domain VARCHAR NOT NULL, day DATE NOT NULL, total INTEGER NOT NULL, ok INTEGER NOT NULL,
        anomaly INTEGER NOT NULL, confirmed INTEGER NOT NULL, down INTEGER NOT NULL, failure INTEGER NOT NULL,
        methods JSON, PRIMARY KEY (probe_cc, probe_asn, domain, day))""")
    con.close()
    store = Store(path)
    ingest(store, [_m("ndt", NDT, 1)])
    run_analysis(store)
    assert store.con.execute("SELECT total, measured FROM agg_daily").fetchall() == [(1, 1)]
    store.close()
