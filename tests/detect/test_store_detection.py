"""Detection SQL against the real schema in an in-memory DuckDB (verdict rows inserted directly)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

import duckdb
import pyarrow as pa
import pytest

from censorwatch.analysis.detect.series import VerdictRow
from censorwatch.pipeline import detection
from censorwatch.store import detection as sql
from censorwatch.store import schema
from detect.synth import at, series


@dataclass
class _Db:  # the one attribute of Store the detection stages use
    con: duckdb.DuckDBPyConnection


@pytest.fixture
def db() -> Iterator[_Db]:
    con = duckdb.connect(":memory:")
    for ddl in schema.ALL:
        con.execute(ddl)
    yield _Db(con)
    con.close()


def _insert(con: duckdb.DuckDBPyConnection, rows: Sequence[VerdictRow]) -> None:
    tbl = pa.table({
        "uid": [r.uid for r in rows], "status": [r.status for r in rows],
        "method": pa.array([r.method for r in rows], pa.string()),
        "cc": [r.cc for r in rows], "asn": [r.asn for r in rows], "target": [r.target for r in rows],
        "t": pa.array([r.time.replace(tzinfo=None) for r in rows], pa.timestamp("us")),
    })
    con.register("_rows", tbl)
    con.execute("DELETE FROM verdicts WHERE measurement_uid IN (SELECT uid FROM _rows)")  # re-classified
    con.execute(
        "INSERT INTO verdicts (measurement_uid, rules_version, status, method, rule, test_name, "
        "probe_cc, probe_asn, input, domain, measurement_start_time) SELECT uid, '1', status, method, 'r', "
        "'web_connectivity', cc, asn, 'https://' || target || '/', target, t FROM _rows"
    )
    con.unregister("_rows")


def _run(db: _Db) -> dict[str, object]:
    a = detection.aggregates(db)  # type: ignore[arg-type]
    e = detection.events(db)  # type: ignore[arg-type]
    detection.incidents_for(db, list(e["countries"]))  # type: ignore[arg-type]
    return {"aggregates": a, "events": e}


def test_aggregates_count_every_status_and_method(db: _Db) -> None:
    rows = series(48, 3.0, [(20, None)], 1)
    _insert(db.con, rows)
    _run(db)
    tot = db.con.execute(
        "SELECT sum(total), sum(ok), sum(anomaly), sum(failure) FROM agg_hourly"
    ).fetchone()
    assert tot == (len(rows), sum(r.status == "ok" for r in rows),
                   sum(r.status == "anomaly" for r in rows), sum(r.status == "failure" for r in rows))
    daily = db.con.execute("SELECT sum(total) FROM agg_daily").fetchone()
    cc = db.con.execute("SELECT sum(total) FROM agg_hourly_cc").fetchone()
    vol = db.con.execute("SELECT sum(total) FROM volume_hourly").fetchone()
    assert daily == cc == vol == (len(rows),)
    m = db.con.execute(
        "SELECT methods->>'tls.reset' FROM agg_daily WHERE day = CAST(? AS DATE)", [at(30)]
    ).fetchone()
    assert m is not None and int(m[0]) == sum(
        r.method == "tls.reset" and r.time.date() == at(30).date() for r in rows
    )


def test_incremental_recompute_touches_only_new_hours(db: _Db) -> None:
    rows = series(24 * 4, 2.0, [(50, None)], 2, asn="AS1")
    early = [r for r in rows if r.time < at(60)]
    _insert(db.con, early)
    first = _run(db)
    assert first["events"]["networks"] == 1  # type: ignore[index]
    before = db.con.execute("SELECT * FROM agg_hourly WHERE hour < ? ORDER BY ALL", [at(59).replace(tzinfo=None)]).fetchall()
    _insert(db.con, [r for r in rows if r.time >= at(60)])
    second = _run(db)
    new_hours = {r.time.replace(minute=0, second=0, microsecond=0) for r in rows if r.time >= at(60)}
    assert second["aggregates"]["agg_hourly"] == len(new_hours)  # type: ignore[index]
    after = db.con.execute("SELECT * FROM agg_hourly WHERE hour < ? ORDER BY ALL", [at(59).replace(tzinfo=None)]).fetchall()
    assert after == before
    # nothing new: nothing recomputed, no network re-run
    third = _run(db)
    assert third["aggregates"]["changed_hours"] == 0  # type: ignore[index]
    assert third["events"]["networks"] == 0  # type: ignore[index]
    # a re-classification moves counts
    uid = rows[0].uid
    db.con.execute("UPDATE verdicts SET status = 'down' WHERE measurement_uid = ?", [uid])
    fourth = _run(db)
    assert fourth["aggregates"]["agg_hourly"] == 1  # type: ignore[index]
    # so do a method that changes alone and a verdict that goes away, each in its own hour only
    hour_of = {r.uid: r.time.replace(minute=0, second=0, microsecond=0, tzinfo=None) for r in rows}
    db.con.execute("UPDATE verdicts SET method = 'dns' WHERE measurement_uid = ?", [uid])
    gone = rows[-1].uid
    db.con.execute("DELETE FROM verdicts WHERE measurement_uid = ?", [gone])
    fifth = _run(db)
    assert fifth["aggregates"]["changed_hours"] == len({hour_of[uid], hour_of[gone]})  # type: ignore[index]
    fresh = db.con.execute("SELECT sum(total) FROM agg_hourly").fetchone()
    assert fresh == db.con.execute("SELECT count(*) FROM verdicts").fetchone()
    (methods,) = db.con.execute("SELECT methods FROM agg_hourly WHERE hour = ? AND methods IS NOT NULL "
                                "AND methods->>'dns' IS NOT NULL", [hour_of[uid]]).fetchone() or (None,)
    assert methods is not None
    assert db.con.execute("SELECT sum(down) FROM agg_hourly").fetchone() == (
        1 + sum(r.status == "down" for r in rows),
    )


def test_events_incidents_and_outage_suppression(db: _Db) -> None:
    # two networks block x.com from hour 40; a third network goes dark from hour 100 to 130
    rows: list[VerdictRow] = []
    for i, asn in enumerate(("AS1", "AS2")):
        rows += series(24 * 8, 1.5, [(40, None)], 10 + i, asn=asn)
    for j, target in enumerate(("a.org", "b.org", "c.org")):
        rows += [r for r in series(24 * 8, 2.0, [], 20 + j, asn="AS3", target=target)
                 if not (at(100) <= r.time < at(130))]
    _insert(db.con, rows)
    _run(db)
    evs = sql.load_events(db.con, detector="bayes")
    assert sorted((e.asn or "*", e.target) for e in evs) == [("*", "x.com"), ("AS1", "x.com"), ("AS2", "x.com")]
    country = next(e for e in evs if e.asn is None)
    assert country.asns == ["AS1", "AS2"]
    assert country.start == min(e.start for e in evs)
    for e in evs:
        assert abs((e.start - at(40)) / timedelta(hours=1)) <= 3 and e.end is None
    outs = sql.load_events(db.con, kind="outage")
    assert len(outs) == 1 and outs[0].asn == "AS3" and outs[0].target is None
    assert outs[0].end is not None
    assert abs((outs[0].start - at(100)) / timedelta(hours=1)) <= 2
    assert abs((outs[0].end - at(130)) / timedelta(hours=1)) <= 2
    assert len(sql.load_events(db.con, detector="cusum")) == 2
    incs = sql.load_incidents(db.con)
    block = [i for i in incs if i.kind == "blocking"]
    assert len(block) == 1 and block[0].asns == ["AS1", "AS2"]
    assert block[0].confidence == "confirmed" and block[0].confidence_rule == "inc.blocking.networks_agree"
    assert block[0].end is None
    assert [i.kind for i in incs if i.kind == "outage"] == ["outage"]
