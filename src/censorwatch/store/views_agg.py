"""Read-only overview queries: countries, timeline, heatmaps, outages, events, aggregates, exports.

Same conventions as ``store/views.py`` (keyset pages, naive UTC times); these read the precomputed
aggregate tables (``agg_hourly``, ``agg_daily``, ``volume_hourly``) and ``events``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from censorwatch.model.display import BIDI_CONTROLS, FORMULA_PREFIXES
from censorwatch.store.sqlwhere import RUNNING_SINCE, where_equal
from censorwatch.store.views import (
    _COUNTS,
    _FP,
    BadQuery,
    Page,
    _json_field,
    _limit,
    _page,
    _rows,
    decode_cursor,
)

# ---------------------------------------------------------------- overviews

def countries(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per country in the window: networks, verdict counts, active incidents (not false positives)."""
    rows = _rows(
        con.execute(
            f"""SELECT probe_cc AS cc, count(DISTINCT probe_asn) AS networks, count(DISTINCT domain) AS targets,
                       {_COUNTS}, max(day) AS last_day
                FROM agg_daily WHERE day >= ? AND day < ? GROUP BY probe_cc ORDER BY probe_cc""",
            [start.date(), end.date() + timedelta(days=1)],
        )
    )
    active = _rows(
        con.execute(
            f"""SELECT i.cc, i.kind, i.confidence, count(*) AS n FROM incidents i {_FP}
                WHERE i.end_time IS NULL AND NOT coalesce(fp.false_positive, false)
                GROUP BY ALL"""
        )
    )
    by_cc: dict[str, dict[str, Any]] = {r["cc"]: {**r, "active": {}} for r in rows}
    for a in active:
        entry = by_cc.setdefault(
            a["cc"],
            {"cc": a["cc"], "networks": 0, "targets": 0, "total": 0, "ok": 0, "anomaly": 0,
             "confirmed": 0, "down": 0, "measured": 0, "last_day": None, "active": {}},
        )
        k = "outage" if a["kind"] == "outage" else a["confidence"]
        entry["active"][k] = entry["active"].get(k, 0) + a["n"]
    return sorted(by_cc.values(), key=lambda r: r["cc"])


def timeline(con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, cc: str | None = None) -> list[dict[str, Any]]:
    """Per-day verdict counts across all networks (optionally one country)."""
    where = "day >= ? AND day < ?"
    params: list[Any] = [start.date(), end.date() + timedelta(days=1)]
    if cc:
        where += " AND probe_cc = ?"
        params.append(cc)
    return _rows(
        con.execute(
            f"SELECT CAST(day AS TIMESTAMP) AS t, {_COUNTS} FROM agg_daily WHERE {where} GROUP BY day ORDER BY day",
            params,
        )
    )


def _bucket(start: datetime, end: datetime) -> tuple[str, str]:
    return ("agg_hourly", "hour") if end - start <= timedelta(days=3) else ("agg_daily", "day")


def data_span(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, *, cc: str | None = None,
    domain: str | None = None,
) -> tuple[datetime, datetime] | None:
    """The hours with data in ``[start, end)`` (of a country, of a target): ``(first hour, end of the
    last hour)``, or None without data."""
    where = ["hour >= ?", "hour < ?"]
    params: list[Any] = [start, end]
    for col, v in (("probe_cc", cc), ("domain", domain)):
        if v is not None:
            where.append(f"{col} = ?")
            params.append(v)
    row = con.execute(f"SELECT min(hour), max(hour) FROM agg_hourly WHERE {' AND '.join(where)}", params).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1] + timedelta(hours=1)


def country_targets(
    con: duckdb.DuckDBPyConnection, cc: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Targets measured in a country in the window, most blocked first."""
    return _rows(
        con.execute(
            f"""SELECT domain, {_COUNTS} FROM agg_daily WHERE probe_cc = ? AND day >= ? AND day < ?
                GROUP BY domain ORDER BY sum(confirmed) DESC, sum(anomaly) DESC, domain""",
            [cc, start.date(), end.date() + timedelta(days=1)],
        )
    )


def heatmap(
    con: duckdb.DuckDBPyConnection,
    *,
    start: datetime,
    end: datetime,
    cc: str | None = None,
    domains: Sequence[str] | None = None,
    group_by: str = "probe_asn",
) -> tuple[str, list[dict[str, Any]]]:
    """Cells ``(domain, row, t, counts)``: rows are networks (country page) or countries (target page).

    Hourly buckets for windows up to three days, daily otherwise. Returns ``(bucket, cells)``.
    """
    if group_by not in ("probe_asn", "probe_cc"):
        raise BadQuery("group_by: probe_asn or probe_cc")
    table, col = _bucket(start, end)
    lo: Any = start if col == "hour" else start.date()
    hi: Any = end if col == "hour" else end.date() + timedelta(days=1)
    where: list[str] = [f"{col} >= ?", f"{col} < ?"]
    params: list[Any] = [lo, hi]
    if cc is not None:
        where.append("probe_cc = ?")
        params.append(cc)
    if domains is not None:
        where.append("list_contains(?, domain)")
        params.append(list(domains))
    rows = _rows(
        con.execute(
            f"""SELECT domain, {group_by} AS row, CAST({col} AS TIMESTAMP) AS t, {_COUNTS}
                FROM {table} WHERE {" AND ".join(where)} GROUP BY ALL ORDER BY domain, row, t""",
            params,
        )
    )
    return col, rows


def outages(con: duckdb.DuckDBPyConnection, cc: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return _rows(
        con.execute(
            f"""SELECT id, asn, asns, start_time, end_time, confidence, detector FROM events
               WHERE kind = 'outage' AND detector <> 'cusum' AND cc = ? AND start_time < ? AND {RUNNING_SINCE}
               ORDER BY start_time""",
            [cc, end, start],
        )
    )


# ---------------------------------------------------------------- events / aggregates (API lists)


def events(
    con: duckdb.DuckDBPyConnection,
    *,
    cc: str | None = None,
    target: str | None = None,
    kind: str | None = None,
    detector: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Detector events newest first; ``detector`` picks one (``cusum`` is OONI's baseline)."""
    limit = _limit(limit)
    where, params = where_equal((("cc", cc), ("target", target), ("kind", kind), ("detector", detector)))
    if since is not None:
        where.append(RUNNING_SINCE)
        params.append(since)
    if until is not None:
        where.append("start_time <= ?")
        params.append(until)
    key = decode_cursor(cursor, (datetime, str))
    if key:
        where.append("(start_time < ? OR (start_time = ? AND id < ?))")
        params += [key[0], key[0], key[1]]
    items = _rows(
        con.execute(
            f"""SELECT id, kind, detector, cc, asn, asns, target, start_time, end_time, method, confidence,
                       measurements, len(evidence) AS evidence_count
                FROM events WHERE {" AND ".join(where)} ORDER BY start_time DESC, id DESC LIMIT {limit + 1}""",
            params,
        )
    )
    return _page(items, limit, lambda r: (r["start_time"], r["id"]))


def _agg_query(
    granularity: str, cc: str | None, asn: str | None, target: str | None,
    since: datetime | None, until: datetime | None,
) -> tuple[str, str, list[str], list[Any]]:
    if granularity not in ("hourly", "daily"):
        raise BadQuery("granularity: hourly or daily")
    table, col = ("agg_hourly", "hour") if granularity == "hourly" else ("agg_daily", "day")
    where, params = where_equal((("probe_cc", cc), ("probe_asn", asn), ("domain", target)))
    if since is not None:
        where.append(f"{col} >= ?")
        params.append(since if col == "hour" else since.date())
    if until is not None:
        where.append(f"{col} < ?")
        params.append(until if col == "hour" else until.date())
    return table, col, where, params


def aggregates(
    con: duckdb.DuckDBPyConnection,
    *,
    granularity: str = "daily",
    cc: str | None = None,
    asn: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    cursor: str | None = None,
) -> Page:
    """Aggregate rows newest bucket first; ties broken by (cc, asn, domain) descending."""
    limit = _limit(limit)
    table, col, where, params = _agg_query(granularity, cc, asn, target, since, until)
    key = decode_cursor(cursor, (datetime, str, str, str))
    if key:
        where.append(f"(CAST({col} AS TIMESTAMP), probe_cc, probe_asn, domain) < (?, ?, ?, ?)")
        params += key
    items = _rows(
        con.execute(
            f"""SELECT CAST({col} AS TIMESTAMP) AS t, probe_cc, probe_asn, domain, total, ok, anomaly,
                       confirmed, down, failure, measured, methods
                FROM {table} WHERE {" AND ".join(where)}
                ORDER BY {col} DESC, probe_cc DESC, probe_asn DESC, domain DESC LIMIT {limit + 1}""",
            params,
        )
    )
    for it in items:
        it["methods"] = _json_field(it["methods"])
    return _page(items, limit, lambda r: (r["t"], r["probe_cc"], r["probe_asn"], r["domain"]))


def csv_safe(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``model.display.csv_cell`` on every text cell of ``batch``, column by column: a leading ``'``
    before what a spreadsheet would run as a formula, bidirectional controls shown as ``[U+202E]``."""
    import pyarrow.compute as pc

    formula = "^[" + "".join("\\" + c if c in "-\\]^" else c for c in FORMULA_PREFIXES) + "]"
    bidi = "[" + "".join(sorted(BIDI_CONTROLS)) + "]"
    cols = []
    for col in batch.columns:
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.if_else(pc.match_substring_regex(col, formula), pc.binary_join_element_wise("'", col, ""), col)
            if pc.any(pc.match_substring_regex(col, bidi)).as_py():
                for ch in BIDI_CONTROLS:
                    col = pc.replace_substring(col, ch, f"[U+{ord(ch):04X}]")
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=batch.schema)


def export(
    con: duckdb.DuckDBPyConnection,
    what: str,
    fmt: str,
    out: Path,
    *,
    granularity: str = "daily",
    cc: str | None = None,
    asn: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
    max_rows: int = 1_000_000,
) -> int:
    """Write aggregates or verdicts matching the filters to ``out`` as csv or parquet; return rows."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt not in ("csv", "parquet"):
        raise BadQuery("format: csv or parquet")
    where: list[str]
    params: list[Any]
    if what == "aggregates":
        table, col, where, params = _agg_query(granularity, cc, asn, target, since, until)
        sql = f"""SELECT CAST({col} AS TIMESTAMP) AS t, probe_cc, probe_asn, domain, total, ok, anomaly,
                         confirmed, down, failure, measured, CAST(methods AS VARCHAR) AS methods
                  FROM {table} WHERE {" AND ".join(where)} ORDER BY {col}, probe_cc, probe_asn, domain"""
    elif what == "verdicts":
        where, params = ["true"], []
        for c, val in (("probe_cc", cc), ("probe_asn", asn), ("domain", target), ("status", status)):
            if val is not None:
                where.append(f"{c} = ?")
                params.append(val)
        if since is not None:
            where.append("measurement_start_time >= ?")
            params.append(since)
        if until is not None:
            where.append("measurement_start_time < ?")
            params.append(until)
        sql = f"""SELECT measurement_uid, measurement_start_time, probe_cc, probe_asn, test_name, input,
                         domain, status, method, rule, rules_version, fingerprint_id, blocking, accessible,
                         explanation
                  FROM verdicts WHERE {" AND ".join(where)} ORDER BY measurement_start_time, measurement_uid"""
    else:
        raise BadQuery("what: aggregates or verdicts")
    reader = con.sql(f"{sql} LIMIT {int(max_rows)}", params=params).to_arrow_reader(65536)
    n = 0
    if fmt == "csv":  # CSV is read by people in spreadsheets: its text is neutralised (Parquet is data)
        with pacsv.CSVWriter(str(out), reader.schema) as w:
            for b in reader:
                w.write_batch(csv_safe(b))
                n += b.num_rows
    else:
        with pq.ParquetWriter(str(out), reader.schema) as pw:
            for b in reader:
                pw.write_batch(b)
                n += b.num_rows
    return n
