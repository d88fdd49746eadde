"""SQL of detection: incremental aggregates, verdict rows for the detectors, events and incidents.

Incrementality: ``detect_sums`` holds, per (cc, asn, target, hour), what the aggregates were last
computed from: the number of verdicts and the sum of a 64-bit hash of each one's (uid, status,
method). Each pass computes the same from the verdicts (one streaming aggregate: memory follows the
number of hours, not of verdicts); the hours whose row differs (new, re-classified or deleted
measurements, whatever wrote them) are the dirty keys. Only those hours (and their days) are
recomputed, and the touched series are queued in ``detect_pending`` for the event stage, which
clears them when done.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from censorwatch.model.events import Event, Incident
from censorwatch.model.verdict import STATUSES, VERDICT_ROW
from censorwatch.store.sqlwhere import RUNNING_SINCE, where_equal

TARGET = "coalesce(domain, input, test_name)"

#: the verdict rows the aggregates count, with their target and hour
_ROWS = f"""SELECT measurement_uid, probe_cc, probe_asn, {TARGET} AS domain,
       date_trunc('hour', measurement_start_time) AS hour, status, method FROM verdicts"""
#: per (cc, asn, target, hour): how many verdicts, and the sum of DuckDB's 64-bit hash of each one's
#: (uid, status, method). Should a DuckDB upgrade change its hash, every hour differs once and the
#: next pass recomputes all aggregates: slower, never wrong.
_SUMS = f"""
CREATE OR REPLACE TEMP TABLE _sums AS
SELECT probe_cc, probe_asn, domain, hour, count(*) AS n,
       sum(hash(measurement_uid, status, coalesce(method, '')))::HUGEINT AS sig
FROM ({_ROWS}) GROUP BY ALL
"""
#: the (cc, asn, target, hour) keys whose verdicts changed since the aggregates were computed
_DIRTY = """
CREATE OR REPLACE TEMP TABLE _dirty AS
SELECT DISTINCT probe_cc, probe_asn, domain, hour FROM (
    (SELECT * FROM _sums EXCEPT SELECT * FROM detect_sums)
    UNION ALL
    (SELECT * FROM detect_sums EXCEPT SELECT * FROM _sums))
"""


def _counts_sql(keys: Sequence[str], time_expr: str, time_name: str, dirty: str, source: str) -> str:
    """The aggregate rows of the ``dirty`` keys, counted from every verdict row of ``source``."""
    k = ", ".join(keys)
    on = " AND ".join(f"r.{c} = d.{c}" for c in keys)
    counts = ", ".join(f"count(*) FILTER (WHERE status = '{s}')::INTEGER" for s in STATUSES)
    return f"""
    WITH r AS (SELECT {k}, {time_expr} AS {time_name}, status, method FROM {source}),
    rows AS (SELECT r.* FROM r SEMI JOIN {dirty} d ON {on} AND r.{time_name} = d.{time_name}),
    m AS (SELECT {k}, {time_name}, method, count(*) AS n FROM rows WHERE method IS NOT NULL
          GROUP BY ALL),
    mj AS (SELECT {k}, {time_name}, json_group_object(method, n) AS methods FROM m GROUP BY ALL),
    c AS (SELECT {k}, {time_name}, count(*)::INTEGER AS total, {counts} FROM rows GROUP BY ALL)
    SELECT c.*, mj.methods FROM c LEFT JOIN mj USING ({k}, {time_name})
    """


_AGGS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("agg_hourly", ("probe_cc", "probe_asn", "domain"), "hour", "hour"),
    ("agg_daily", ("probe_cc", "probe_asn", "domain"), "CAST(hour AS DATE)", "day"),
    ("agg_hourly_cc", ("probe_cc", "domain"), "hour", "hour"),
    ("agg_daily_cc", ("probe_cc", "domain"), "CAST(hour AS DATE)", "day"),
)


def _agg_columns(keys: Sequence[str], time_name: str) -> str:
    """An aggregate table's columns by name (stores upgraded from an older schema hold them in another order)."""
    return ", ".join((*keys, time_name, "total", *STATUSES, "methods"))


def update_aggregates(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Recompute the aggregates of the hours touched since the last call; queue touched series."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_SUMS)
        con.execute(_DIRTY)
        out: dict[str, int] = {"changed_hours": _one(con, "SELECT count(*) FROM _dirty")}
        for table, keys, time_expr, time_name in _AGGS:
            k = ", ".join(keys)
            dirty = f"_dirty_{table}"
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {dirty} AS "
                f"SELECT DISTINCT {k}, {time_expr} AS {time_name} FROM _dirty"
            )
            on = " AND ".join(f"a.{c} = d.{c}" for c in (*keys, time_name))
            con.execute(f"DELETE FROM {table} a USING {dirty} d WHERE {on}")
            con.execute(f"INSERT INTO {table} ({_agg_columns(keys, time_name)}) "
                        + _counts_sql(keys, time_expr, time_name, dirty, f"({_ROWS})"))
            out[table] = _one(con, f"SELECT count(*) FROM {dirty}")
            con.execute(f"DROP TABLE {dirty}")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _dv AS SELECT DISTINCT probe_cc, probe_asn, hour FROM _dirty"
        )
        con.execute(
            "DELETE FROM volume_hourly a USING _dv d WHERE a.probe_cc = d.probe_cc "
            "AND a.probe_asn = d.probe_asn AND a.hour = d.hour"
        )
        con.execute(
            "INSERT INTO volume_hourly SELECT c.probe_cc, c.probe_asn, c.hour, count(*)::INTEGER, "
            f"(count(*) FILTER (WHERE status <> 'failure'))::INTEGER FROM ({_ROWS}) c "
            "SEMI JOIN _dv d ON c.probe_cc = d.probe_cc AND c.probe_asn = d.probe_asn AND c.hour = d.hour "
            "GROUP BY ALL"
        )
        out["volume_hourly"] = _one(con, "SELECT count(*) FROM _dv")
        con.execute(
            "INSERT OR IGNORE INTO detect_pending SELECT DISTINCT probe_cc, probe_asn, domain FROM _dirty"
        )
        con.execute(
            "DELETE FROM detect_sums a USING _dirty d WHERE a.probe_cc = d.probe_cc AND a.probe_asn = d.probe_asn "
            "AND a.domain = d.domain AND a.hour = d.hour"
        )
        con.execute(
            "INSERT INTO detect_sums SELECT s.* FROM _sums s SEMI JOIN _dirty d ON s.probe_cc = d.probe_cc "
            "AND s.probe_asn = d.probe_asn AND s.domain = d.domain AND s.hour = d.hour"
        )
        for t in ("_sums", "_dirty", "_dv"):
            con.execute(f"DROP TABLE {t}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return out


#: the verdict row's columns (model/verdict.py), JSON ones cast back from the Parquet strings
_VERDICT_NAMES = ", ".join(c.name for c in VERDICT_ROW)
_VERDICT_COLS = ", ".join(f"{c.name}::JSON" if c.type == "json" else c.name for c in VERDICT_ROW)


def load_engine_outputs(con: duckdb.DuckDBPyConnection, out_dir: Path) -> dict[str, int]:
    """Load a batch engine's outputs (the Spark job's Parquet directories named after the tables):
    verdicts replace those of the same uids, aggregates replace the tables; every series is queued."""
    def src(name: str) -> str:
        return "read_parquet('" + str(out_dir / name / "*.parquet").replace("'", "''") + "')"

    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM verdicts WHERE measurement_uid IN (SELECT measurement_uid FROM {src('verdicts')})")
        # one verdict per uid (the table has no unique index: store/schema.py UID_KEYED), should the
        # job have met one measurement twice (an archive can hold a measurement in two files)
        con.execute(
            f"INSERT INTO verdicts ({_VERDICT_NAMES}) SELECT {_VERDICT_COLS} FROM {src('verdicts')} "
            "QUALIFY row_number() OVER (PARTITION BY measurement_uid ORDER BY rules_version) = 1"
        )
        counts["verdicts"] = _one(con, f"SELECT count(*) FROM {src('verdicts')}")
        for table, keys, _expr, tname in _AGGS:
            k = ", ".join(keys)
            counts_cols = ", ".join(STATUSES)
            con.execute(f"DELETE FROM {table}")
            con.execute(
                f"INSERT INTO {table} ({_agg_columns(keys, tname)}) SELECT {k}, {tname}, total, {counts_cols}, "
                f"methods::JSON FROM {src(table)}"
            )
            counts[table] = _one(con, f"SELECT count(*) FROM {table}")
        con.execute("DELETE FROM volume_hourly")
        con.execute(
            "INSERT INTO volume_hourly SELECT probe_cc, probe_asn, hour, total, reachable "
            f"FROM {src('volume_hourly')}"
        )
        counts["volume_hourly"] = _one(con, "SELECT count(*) FROM volume_hourly")
        con.execute(_SUMS)
        con.execute("DELETE FROM detect_sums")
        con.execute("INSERT INTO detect_sums SELECT * FROM _sums")
        con.execute("INSERT OR IGNORE INTO detect_pending SELECT DISTINCT probe_cc, probe_asn, domain FROM _sums")
        con.execute("DROP TABLE _sums")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def requeue_on_new_version(con: duckdb.DuckDBPyConnection, version: str) -> bool:
    """Queue every series when the detectors' version differs from the one that made the stored
    events (new code re-detects the whole history); returns whether it did."""
    row = con.execute("SELECT value FROM meta WHERE key = 'detect_version'").fetchone()
    if row is not None and row[0] == version:
        return False
    con.execute("INSERT OR IGNORE INTO detect_pending SELECT DISTINCT probe_cc, probe_asn, domain FROM detect_sums")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('detect_version', ?)", [version])
    return True


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> int:
    row = con.execute(sql, list(params)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _utc(dt: datetime | None) -> datetime | None:
    return None if dt is None else dt.replace(tzinfo=UTC)


def _naive(dt: datetime | None) -> datetime | None:
    return None if dt is None else dt.astimezone(UTC).replace(tzinfo=None)


# -- inputs of the detectors ---------------------------------------------------------------------
def pending_networks(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in con.execute(
            "SELECT DISTINCT probe_cc, probe_asn FROM detect_pending ORDER BY 1, 2"
        ).fetchall()
    ]


def data_end(con: duckdb.DuckDBPyConnection) -> datetime | None:
    row = con.execute("SELECT max(hour) FROM volume_hourly").fetchone()
    return _utc(row[0]) if row and row[0] else None


def latest_time(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The newest measurement time among the verdicts (the end of the data), never later than now:
    a probe whose clock runs ahead does not make every other network look silent."""
    row = con.execute("SELECT max(measurement_start_time) FROM verdicts").fetchone()
    if not row or row[0] is None:
        return None
    return min(row[0].replace(tzinfo=UTC), datetime.now(UTC))


def quiet_live_networks(
    con: duckdb.DuckDBPyConnection, until: datetime | None, window: timedelta, *,
    quiet_after: timedelta = timedelta(seconds=30), dense: int = 12,
) -> list[tuple[str, str]]:
    """Networks measured densely (``dense`` measurements in the hour before their last one) whose
    last measurement is between ``quiet_after`` and one hour before ``until``, within ``window``."""
    if until is None:
        return []
    hour = timedelta(hours=1)
    lo = _naive(until - min(window, hour))
    rows = con.execute(
        """WITH last AS (SELECT probe_cc, probe_asn, max(measurement_start_time) AS l FROM verdicts
                         WHERE measurement_start_time >= ? GROUP BY ALL)
           SELECT v.probe_cc, v.probe_asn FROM verdicts v JOIN last USING (probe_cc, probe_asn)
           WHERE last.l <= ? AND v.measurement_start_time >= ? AND v.measurement_start_time >= last.l - INTERVAL 1 HOUR
           GROUP BY ALL HAVING count(*) >= ? ORDER BY 1, 2""",
        [lo, _naive(until - quiet_after), _naive(until - min(window, hour) - hour), dense],
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def network_volume(
    con: duckdb.DuckDBPyConnection, cc: str, asn: str
) -> list[tuple[datetime, int, int]]:
    return [
        (r[0].replace(tzinfo=UTC), int(r[1]), int(r[2]))
        for r in con.execute(
            "SELECT hour, total, reachable FROM volume_hourly WHERE probe_cc = ? AND probe_asn = ? "
            "ORDER BY hour",
            [cc, asn],
        ).fetchall()
    ]


def network_rows(
    con: duckdb.DuckDBPyConnection, cc: str, asn: str
) -> Iterator[tuple[datetime, str, str, str, str, str | None, str]]:
    """(time, cc, asn, target, status, method, uid) of one network, ordered by target then time."""
    cur = con.execute(
        f"SELECT measurement_start_time, probe_cc, probe_asn, {TARGET} AS target, status, method, "
        "measurement_uid FROM verdicts WHERE probe_cc = ? AND probe_asn = ? "
        "ORDER BY target, measurement_start_time, measurement_uid",
        [cc, asn],
    )
    while True:
        chunk = cur.fetchmany(50_000)
        if not chunk:
            return
        for r in chunk:
            yield (r[0].replace(tzinfo=UTC), r[1], r[2], r[3], r[4], r[5], r[6])


def country_rows(
    con: duckdb.DuckDBPyConnection, cc: str
) -> Iterator[tuple[datetime, str, str, str, str, str | None, str]]:
    """(time, cc, asn, target, status, method, uid) of every network of a country, by target then time."""
    cur = con.execute(
        f"SELECT measurement_start_time, probe_cc, probe_asn, {TARGET} AS target, status, method, "
        "measurement_uid FROM verdicts WHERE probe_cc = ? AND status IN ('ok', 'anomaly', 'confirmed') "
        "ORDER BY target, measurement_start_time, measurement_uid",
        [cc],
    )
    while True:
        chunk = cur.fetchmany(50_000)
        if not chunk:
            return
        for r in chunk:
            yield (r[0].replace(tzinfo=UTC), r[1], r[2], r[3], r[4], r[5], r[6])


# -- events and incidents ------------------------------------------------------------------------
_EVENT_COLS = (
    "id", "kind", "detector", "cc", "asn", "asns", "target", "start_time", "end_time", "method",
    "confidence", "measurements", "evidence", "details",
)


def _events_table(events: Iterable[Event]) -> pa.Table:
    evs = list(events)
    return pa.table(
        {
            "id": pa.array([e.id for e in evs], pa.string()),
            "kind": pa.array([e.kind for e in evs], pa.string()),
            "detector": pa.array([e.detector for e in evs], pa.string()),
            "cc": pa.array([e.cc for e in evs], pa.string()),
            "asn": pa.array([e.asn for e in evs], pa.string()),
            "asns": pa.array([list(e.asns) for e in evs], pa.list_(pa.string())),
            "target": pa.array([e.target for e in evs], pa.string()),
            "start_time": pa.array([_naive(e.start) for e in evs], pa.timestamp("us")),
            "end_time": pa.array([_naive(e.end) for e in evs], pa.timestamp("us")),
            "method": pa.array([e.method for e in evs], pa.string()),
            "confidence": pa.array([e.confidence for e in evs], pa.string()),
            "measurements": pa.array([e.measurements for e in evs], pa.int32()),
            "evidence": pa.array([list(e.evidence) for e in evs], pa.list_(pa.string())),
            "details": pa.array([orjson.dumps(e.details).decode() for e in evs], pa.string()),
        }
    )


def replace_network_events(
    con: duckdb.DuckDBPyConnection, cc: str, asn: str, events: Sequence[Event]
) -> None:
    """Replace every event of one network (all detectors, all targets) and clear its pending series."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM events WHERE cc = ? AND asn = ?", [cc, asn])
        if events:
            tbl = _events_table({e.id: e for e in events}.values())
            con.register("_ev", tbl)
            con.execute(
                f"INSERT INTO events ({', '.join(_EVENT_COLS)}) SELECT id, kind, detector, cc, asn, asns, "
                "target, start_time, end_time, method, confidence, measurements, evidence, "
                "details::JSON FROM _ev"
            )
            con.unregister("_ev")
        con.execute("DELETE FROM detect_pending WHERE probe_cc = ? AND probe_asn = ?", [cc, asn])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def replace_country_events(con: duckdb.DuckDBPyConnection, cc: str, events: Sequence[Event]) -> None:
    """Replace the country-wide events (``asn`` NULL) of one country."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM events WHERE cc = ? AND asn IS NULL", [cc])
        if events:
            con.register("_ev", _events_table({e.id: e for e in events}.values()))
            con.execute(
                f"INSERT INTO events ({', '.join(_EVENT_COLS)}) SELECT id, kind, detector, cc, asn, asns, "
                "target, start_time, end_time, method, confidence, measurements, evidence, "
                "details::JSON FROM _ev"
            )
            con.unregister("_ev")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _event_from_row(r: Sequence[Any]) -> Event:
    return Event(
        kind=r[1], detector=r[2], cc=r[3], asn=r[4], asns=list(r[5] or []), target=r[6],
        start=r[7].replace(tzinfo=UTC), end=_utc(r[8]), method=r[9], confidence=r[10],
        measurements=int(r[11]), evidence=list(r[12] or []),
        details=orjson.loads(r[13]) if r[13] else {},
    )


def load_events(
    con: duckdb.DuckDBPyConnection,
    *,
    cc: str | None = None,
    since: datetime | None = None,
    detector: str | None = None,
    kind: str | None = None,
) -> list[Event]:
    """Events ordered by start; ``since`` keeps events still running at or after that time."""
    where, params = where_equal((("cc", cc or None), ("detector", detector or None), ("kind", kind or None)))
    if since is not None:
        where.append(RUNNING_SINCE)
        params.append(_naive(since))
    rows = con.execute(
        f"SELECT {', '.join(_EVENT_COLS)} FROM events WHERE {' AND '.join(where)} "
        "ORDER BY start_time, cc, asn, target, detector",
        params,
    ).fetchall()
    return [_event_from_row(r) for r in rows]


def replace_incidents(con: duckdb.DuckDBPyConnection, cc: str, incidents: Sequence[Incident]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM incidents WHERE cc = ?", [cc])
        for i in {x.id: x for x in incidents}.values():
            con.execute(
                "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::JSON)",
                [i.id, i.cc, i.target, i.kind, i.asns, i.methods, _naive(i.start), _naive(i.end),
                 i.confidence, i.confidence_rule, i.confidence_reason, i.event_ids, i.evidence,
                 i.measurements, now, orjson.dumps(i.details).decode()],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def load_incidents(
    con: duckdb.DuckDBPyConnection, *, cc: str | None = None, since: datetime | None = None
) -> list[Incident]:
    where, params = where_equal((("cc", cc or None),))
    if since is not None:
        where.append(RUNNING_SINCE)
        params.append(_naive(since))
    rows = con.execute(
        "SELECT kind, cc, target, asns, methods, start_time, end_time, confidence, confidence_rule, "
        "confidence_reason, event_ids, evidence, measurements, details FROM incidents "
        f"WHERE {' AND '.join(where)} ORDER BY start_time, cc, target",
        params,
    ).fetchall()
    return [
        Incident(
            kind=r[0], cc=r[1], target=r[2], asns=list(r[3]), methods=list(r[4]),
            start=r[5].replace(tzinfo=UTC), end=_utc(r[6]), confidence=r[7], confidence_rule=r[8],
            confidence_reason=r[9], event_ids=list(r[10]), evidence=list(r[11]),
            measurements=int(r[12]), details=orjson.loads(r[13]) if r[13] else {},
        )
        for r in rows
    ]
