"""Read-only queries behind the dashboard, the JSON API and incident reports.

Every list is keyset-paginated: a page is ``Page(items, next)`` where ``next`` is an opaque cursor
(base64url JSON of the last row's sort key) or ``None``. Nothing here uses ``OFFSET``. Default time
windows are anchored at the newest aggregated hour in the store (``data_now``), not the wall clock, so
an archive of old measurements still shows its last days.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import zstandard

from censorwatch.store import schema
from censorwatch.store.rawstore import connection_raw_store, stored_bytes
from censorwatch.store.sqlwhere import where_equal

MAX_LIMIT = 500
_COUNTS = ("sum(total) AS total, sum(ok) AS ok, sum(anomaly) AS anomaly, sum(confirmed) AS confirmed, "
           "sum(down) AS down, sum(measured) AS measured")
_EVIDENCE_CAP = 20_000


class BadQuery(ValueError):
    """A query parameter (cursor, filter, window) is unusable; the message says which and why."""


@dataclass(slots=True)
class Page:
    items: list[dict[str, Any]]
    next: str | None


def open_db(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store. Read-write creates missing tables (additive DDL); read-only requires them.
    ``StoreError`` (one sentence) when it cannot be opened, e.g. another process holds it."""
    if read_only and not path.exists():
        raise FileNotFoundError(f"{path}: no such database")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        from censorwatch.store.db import open_error

        raise open_error(path, exc) from None
    if not read_only:
        for ddl in schema.ALL:
            con.execute(ddl)
        for ddl in schema.MIGRATIONS:
            con.execute(ddl)
        ensure_indexes(con)
    else:
        have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        missing = [t for t in ("measurements", "verdicts", "incidents", "agg_daily") if t not in have]
        if missing:
            con.close()
            raise ValueError(f"{path}: not a censorwatch store (missing tables: {', '.join(missing)})")
    return con


def ensure_indexes(con: duckdb.DuckDBPyConnection) -> None:
    # Point lookups the pages do besides primary keys.
    con.execute("CREATE INDEX IF NOT EXISTS annotations_incident ON annotations(incident_id)")


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()[0])  # type: ignore[index]


# ---------------------------------------------------------------- cursors


def encode_cursor(key: Sequence[Any]) -> str:
    vals = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    return base64.urlsafe_b64encode(orjson.dumps(vals)).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: Sequence[type]) -> list[Any] | None:
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        vals = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError) as e:
        raise BadQuery(f"cursor: not a cursor this API issued ({e.__class__.__name__})") from None
    if not isinstance(vals, list) or len(vals) != len(types):
        raise BadQuery("cursor: wrong shape (use the 'next' value of the previous page)")
    out: list[Any] = []
    for v, t in zip(vals, types, strict=True):
        if t is datetime:
            try:
                dt = datetime.fromisoformat(str(v))
                if dt.tzinfo is not None:  # the store's times are naive UTC
                    dt = dt.astimezone(UTC).replace(tzinfo=None)
            except (ValueError, OverflowError):
                raise BadQuery("cursor: bad time in cursor") from None
            out.append(dt)
        elif not isinstance(v, t):
            raise BadQuery("cursor: wrong value type in cursor")
        else:
            out.append(v)
    return out


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit: must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit



def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _json_field(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            return v
    return v


# ---------------------------------------------------------------- time anchor


def data_now(con: duckdb.DuckDBPyConnection) -> datetime:
    """The newest aggregated hour (else newest verdict), so default windows show data."""
    # agg_daily is ~24x smaller than agg_hourly; the hourly max is then read from its last day only
    # (zone maps skip the rest when rows are appended in time order, as the pipeline does).
    row = con.execute(
        "SELECT max(hour) FROM agg_hourly WHERE hour >= (SELECT CAST(max(day) AS TIMESTAMP) FROM agg_daily)"
    ).fetchone()
    t = row[0] if row else None
    if t is None:
        row = con.execute("SELECT max(hour) FROM agg_hourly").fetchone()
        t = row[0] if row else None
    if t is None:
        row = con.execute("SELECT max(measurement_start_time) FROM verdicts").fetchone()
        t = row[0] if row else None
    if t is None:
        return datetime(1970, 1, 1)
    return t + timedelta(hours=1)  # type: ignore[no-any-return]


def window(
    con: duckdb.DuckDBPyConnection, since: datetime | None, until: datetime | None, days: int
) -> tuple[datetime, datetime]:
    end = until or data_now(con)
    start = since or end - timedelta(days=days)
    if start >= end:
        raise BadQuery("since: must be before until")
    if end - start > timedelta(days=3660):
        raise BadQuery("since/until: window longer than ten years")
    return start, end


# ---------------------------------------------------------------- incidents

_FP = """
    LEFT JOIN (
        SELECT incident_id, arg_max(kind = 'false_positive', id) AS false_positive
        FROM annotations WHERE kind IN ('false_positive', 'not_false_positive') GROUP BY incident_id
    ) fp ON fp.incident_id = i.id
"""

_INCIDENT_COLS = """
    i.id, i.cc, i.target, i.kind, i.asns, i.methods, i.start_time, i.end_time, i.confidence,
    i.confidence_rule, i.confidence_reason, i.measurements, i.updated_at,
    coalesce(fp.false_positive, false) AS false_positive
"""


def incidents(
    con: duckdb.DuckDBPyConnection,
    *,
    cc: str | None = None,
    target: str | None = None,
    asn: str | None = None,
    method: str | None = None,
    kind: str | None = None,
    active: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    include_false_positives: bool = True,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Incidents newest first (by start), overlapping ``[since, until]`` when given."""
    limit = _limit(limit)
    where, params = where_equal((("i.cc", cc), ("i.target", target), ("i.kind", kind)))
    if asn is not None:
        where.append("list_contains(i.asns, ?)")
        params.append(asn)
    if method is not None:
        where.append("list_contains(i.methods, ?)")
        params.append(method)
    if active is True:
        where.append("i.end_time IS NULL")
    elif active is False:
        where.append("i.end_time IS NOT NULL")
    if since is not None:
        where.append("(i.end_time IS NULL OR i.end_time >= ?)")
        params.append(since)
    if until is not None:
        where.append("i.start_time <= ?")
        params.append(until)
    if not include_false_positives:
        where.append("NOT coalesce(fp.false_positive, false)")
    key = decode_cursor(cursor, (datetime, str))
    if key:
        where.append("(i.start_time < ? OR (i.start_time = ? AND i.id < ?))")
        params += [key[0], key[0], key[1]]
    sql = f"""SELECT {_INCIDENT_COLS} FROM incidents i {_FP} WHERE {" AND ".join(where)}
              ORDER BY i.start_time DESC, i.id DESC LIMIT {limit + 1}"""
    items = _rows(con.execute(sql, params))
    return _page(items, limit, lambda r: (r["start_time"], r["id"]))


def _page(items: list[dict[str, Any]], limit: int, key: Any) -> Page:
    nxt = None
    if len(items) > limit:
        items = items[:limit]
        nxt = encode_cursor(key(items[-1]))
    return Page(items, nxt)


def incident(con: duckdb.DuckDBPyConnection, incident_id: str) -> dict[str, Any] | None:
    rows = _rows(
        con.execute(
            f"SELECT {_INCIDENT_COLS}, i.event_ids, i.details, len(i.evidence) AS evidence_count "
            f"FROM incidents i {_FP} WHERE i.id = ?",
            [incident_id],
        )
    )
    if not rows:
        return None
    inc = rows[0]
    inc["details"] = _json_field(inc["details"])
    inc["annotations"] = _rows(
        con.execute(
            "SELECT id, kind, text, url, created_at FROM annotations WHERE incident_id = ? ORDER BY id",
            [incident_id],
        )
    )
    inc["events"] = (
        _rows(
            con.execute(
                """SELECT id, kind, detector, cc, asn, asns, target, start_time, end_time, method,
                          confidence, measurements FROM events WHERE list_contains(?, id)
                   ORDER BY start_time, id""",
                [inc["event_ids"] or []],
            )
        )
        if inc["event_ids"]
        else []
    )
    return inc


def incident_evidence(
    con: duckdb.DuckDBPyConnection, incident_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page | None:
    """The incident's evidence verdicts, newest uid first (OONI uids start with their time).

    The cursor is the last uid shown; each page is point lookups on the verdicts primary key.
    """
    limit = _limit(limit)
    row = con.execute("SELECT evidence FROM incidents WHERE id = ?", [incident_id]).fetchone()
    if row is None:
        return None
    uids = sorted(set((row[0] or [])[:_EVIDENCE_CAP]), reverse=True)
    key = decode_cursor(cursor, (str,))
    if key:
        uids = [u for u in uids if u < key[0]]
    want = uids[: limit + 1]
    found = {r["measurement_uid"]: r for r in verdicts_by_uid(con, want)}
    items = [found.get(u) or {"measurement_uid": u, "status": None} for u in want]
    return _page(items, limit, lambda r: (r["measurement_uid"],))


_VERDICT_LIST_COLS = """measurement_uid, measurement_start_time, probe_cc, probe_asn, test_name, input,
    domain, status, method, rule, fingerprint_id"""


def verdicts_by_uid(con: duckdb.DuckDBPyConnection, uids: Sequence[str]) -> list[dict[str, Any]]:
    if not uids:
        return []
    marks = ", ".join("?" for _ in uids)
    return _rows(
        con.execute(f"SELECT {_VERDICT_LIST_COLS} FROM verdicts WHERE measurement_uid IN ({marks})", list(uids))
    )


def _asn_filter(asns: list[str]) -> tuple[str, list[Any]]:
    """``probe_asn IN (...)`` as literal placeholders (pushed into the scan), or nothing."""
    if not asns:
        return "", []
    return f" AND probe_asn IN ({', '.join('?' for _ in asns)})", list(asns)


def incident_series(con: duckdb.DuckDBPyConnection, inc: dict[str, Any]) -> list[dict[str, Any]]:
    """Evidence over time for an incident's networks: per-bucket verdict counts (or volume for outages).

    Buckets are hours for spans up to 14 days, else days; the window pads the incident by a quarter
    of its length (at least a day) on both sides so the change is visible.
    """
    start: datetime = inc["start_time"]
    end: datetime = inc["end_time"] or data_now(con)
    pad = max((end - start) / 4, timedelta(days=1))
    lo, hi = start - pad, end + pad
    asn_sql, asn_params = _asn_filter(list(inc["asns"] or []))
    hourly = hi - lo <= timedelta(days=14)
    if inc["kind"] == "outage" or inc["target"] is None:
        t = "hour" if hourly else "date_trunc('day', hour)"
        sql = f"""SELECT {t} AS t, sum(total) AS total, sum(reachable) AS ok, 0 AS anomaly,
                         0 AS confirmed, sum(total) - sum(reachable) AS down, 0 AS measured
                  FROM volume_hourly WHERE probe_cc = ? AND hour >= ? AND hour < ?{asn_sql}
                  GROUP BY 1 ORDER BY 1"""
        return _rows(con.execute(sql, [inc["cc"], lo, hi, *asn_params]))
    table, col = ("agg_hourly", "hour") if hourly else ("agg_daily", "day")
    sql = f"""SELECT CAST({col} AS TIMESTAMP) AS t, {_COUNTS}
              FROM {table} WHERE probe_cc = ? AND domain = ? AND {col} >= ? AND {col} < ?{asn_sql}
              GROUP BY 1 ORDER BY 1"""
    lo_v: Any = lo if hourly else lo.date()
    hi_v: Any = hi if hourly else hi.date() + timedelta(days=1)
    return _rows(con.execute(sql, [inc["cc"], inc["target"], lo_v, hi_v, *asn_params]))


def incident_networks(con: duckdb.DuckDBPyConnection, inc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-network counts during the incident (the report's per-network table).

    Hourly aggregates for incidents up to 14 days, daily beyond (first/last are then days).
    """
    end = inc["end_time"] or data_now(con)
    asn_sql, asn_params = _asn_filter(list(inc["asns"] or []))
    if inc["target"] is None:
        return _rows(
            con.execute(
                f"""SELECT probe_asn, sum(total) AS total, sum(reachable) AS ok, 0 AS anomaly,
                           0 AS confirmed, sum(total) - sum(reachable) AS down, 0 AS measured,
                           min(hour) AS first, max(hour) AS last
                    FROM volume_hourly WHERE probe_cc = ? AND hour >= ? AND hour <= ?{asn_sql}
                    GROUP BY probe_asn ORDER BY probe_asn""",
                [inc["cc"], inc["start_time"], end, *asn_params],
            )
        )
    if end - inc["start_time"] <= timedelta(days=14):
        table, col, lo, hi = "agg_hourly", "hour", inc["start_time"].replace(minute=0, second=0, microsecond=0), end
    else:
        table, col, lo, hi = "agg_daily", "day", inc["start_time"].date(), end.date()
    return _rows(
        con.execute(
            f"""SELECT probe_asn, {_COUNTS}, CAST(min({col}) AS TIMESTAMP) AS first, CAST(max({col}) AS TIMESTAMP) AS last
                FROM {table} WHERE probe_cc = ? AND domain = ? AND {col} >= ? AND {col} <= ?{asn_sql}
                GROUP BY probe_asn ORDER BY probe_asn""",
            [inc["cc"], inc["target"], lo, hi, *asn_params],
        )
    )


# ---------------------------------------------------------------- measurements


def measurement(con: duckdb.DuckDBPyConnection, uid: str) -> dict[str, Any] | None:
    """One measurement: envelope columns, decompressed raw JSON bytes, and its verdict (or None)."""
    rows = _rows(
        con.execute(
            """SELECT measurement_uid, report_id, test_name, input, domain, probe_cc, probe_asn,
                      measurement_start_time, software_name, software_version, is_lab, source,
                      ingested_at, raw_size, raw, raw_part, raw_row FROM measurements
               WHERE measurement_uid = ?""",
            [uid],
        )
    )
    if not rows:
        return None
    m = rows[0]
    part, row = m.pop("raw_part"), m.pop("raw_row")
    m["raw"] = stored_bytes(m["raw"], part, row, None if m["raw"] is not None else connection_raw_store(con),
                            lambda b: zstandard.ZstdDecompressor().decompress(b, max_output_size=64 << 20))
    vrows = _rows(con.execute("SELECT * EXCLUDE (measurement_uid) FROM verdicts WHERE measurement_uid = ?", [uid]))
    v = vrows[0] if vrows else None
    if v is not None:
        v["details"] = _json_field(v["details"])
    m["verdict"] = v
    m["incidents"] = _rows(
        con.execute(
            "SELECT id, cc, target, confidence FROM incidents WHERE cc = ? AND list_contains(evidence, ?)",
            [m["probe_cc"], uid],
        )
    )
    return m


def measurements(
    con: duckdb.DuckDBPyConnection,
    *,
    cc: str | None = None,
    asn: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
    method: str | None = None,
    test_name: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Measurements newest first with their verdicts. Filtering by status/method reads ``verdicts``
    (which repeats the identity columns); otherwise ``measurements``, so unanalysed ones show too."""
    limit = _limit(limit)
    by_verdict = status is not None or method is not None
    table = "verdicts" if by_verdict else "measurements"
    where, params = where_equal((
        ("probe_cc", cc), ("probe_asn", asn), ("domain", target), ("status", status), ("method", method),
        ("test_name", test_name),
    ))
    if since is not None:
        where.append("measurement_start_time >= ?")
        params.append(since)
    if until is not None:
        where.append("measurement_start_time < ?")
        params.append(until)
    key = decode_cursor(cursor, (datetime, str))
    if key:
        where.append(
            "(measurement_start_time < ? OR (measurement_start_time = ? AND measurement_uid < ?))"
        )
        params += [key[0], key[0], key[1]]
    sql = f"""SELECT measurement_uid, measurement_start_time, probe_cc, probe_asn, test_name, input, domain
              FROM {table} WHERE {" AND ".join(where)}
              ORDER BY measurement_start_time DESC, measurement_uid DESC LIMIT {limit + 1}"""
    items = _rows(con.execute(sql, params))
    verdicts = {r["measurement_uid"]: r for r in verdicts_by_uid(con, [i["measurement_uid"] for i in items])}
    for it in items:
        v = verdicts.get(it["measurement_uid"])
        it["status"] = v["status"] if v else None
        it["method"] = v["method"] if v else None
    return _page(items, limit, lambda r: (r["measurement_start_time"], r["measurement_uid"]))
