"""Tables behind alerts and admin actions: webhooks, their delivery log, incident annotations.

The DDL lives in ``store/schema.py`` (``WEB``); this module is the SQL that reads and writes it.
Alert events are found by diffing incidents against ``alert_state`` (the last state alerted on).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

ANNOTATION_KINDS = ("note", "statement", "court_filing", "link", "false_positive", "not_false_positive")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _next_id(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()
    return int(row[0]) if row else 1


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# ---------------------------------------------------------------- annotations


def add_annotation(
    con: duckdb.DuckDBPyConnection, incident_id: str, kind: str, text: str | None, url: str | None
) -> dict[str, Any]:
    if kind not in ANNOTATION_KINDS:
        raise ValueError(f"kind: one of {', '.join(ANNOTATION_KINDS)}")
    con.execute("BEGIN TRANSACTION")
    try:
        aid = _next_id(con, "annotations")
        now = _now()
        con.execute(
            "INSERT INTO annotations VALUES (?, ?, ?, ?, ?, ?)", [aid, incident_id, kind, text, url, now]
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return {"id": aid, "incident_id": incident_id, "kind": kind, "text": text, "url": url, "created_at": now}


# ---------------------------------------------------------------- webhooks


def add_webhook(
    con: duckdb.DuckDBPyConnection, url: str, cc: str | None, target: str | None, secret: str | None = None
) -> dict[str, Any]:
    wid = _next_id(con, "webhooks")
    sec = secret or secrets.token_hex(32)
    con.execute(
        "INSERT INTO webhooks (id, url, secret, cc, target, created_at, active) VALUES (?, ?, ?, ?, ?, ?, true)",
        [wid, url, sec, cc, target, _now()],
    )
    return {"id": wid, "url": url, "secret": sec, "cc": cc, "target": target}


def list_webhooks(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _rows(
        con.execute(
            """SELECT w.id, w.url, w.cc, w.target, w.created_at, w.active,
                      count(d.id) FILTER (WHERE d.status = 'delivered') AS delivered,
                      count(d.id) FILTER (WHERE d.status = 'failed') AS failed,
                      count(d.id) FILTER (WHERE d.status = 'pending') AS pending
               FROM webhooks w LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id
               WHERE w.active GROUP BY ALL ORDER BY w.id"""
        )
    )


def remove_webhook(con: duckdb.DuckDBPyConnection, webhook_id: int) -> bool:
    row = con.execute(
        "UPDATE webhooks SET active = false WHERE id = ? AND active RETURNING id", [webhook_id]
    ).fetchone()
    return row is not None


def webhook_secret(con: duckdb.DuckDBPyConnection, webhook_id: int) -> str | None:
    row = con.execute("SELECT secret FROM webhooks WHERE id = ?", [webhook_id]).fetchone()
    return str(row[0]) if row else None


# ---------------------------------------------------------------- alert events


@dataclass(slots=True)
class AlertEvent:
    incident_id: str
    event: str  # started | confidence_changed | ended | withdrawn
    incident: dict[str, Any]
    previous_confidence: str | None
    replaces: str | None = None  # the id the same incident was alerted under before it was revised


_INCIDENT_COLS = ("id", "cc", "target", "kind", "asns", "methods", "start_time", "end_time", "confidence",
                  "confidence_rule", "confidence_reason", "measurements")


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """The same incident revised: same kind, country and target, overlapping periods."""
    if (old["kind"], old["cc"], old["target"]) != (new["kind"], new["cc"], new["target"]) or old["start_time"] is None:
        return False
    far = datetime.max
    return bool(old["start_time"] <= (new["end_time"] or far) and new["start_time"] <= (old["end_time"] or far))


#: an alerted incident that disappeared is withdrawn only once it stayed gone this long (a live
#: detector on the edge of its threshold may drop an incident for one pass and find it again)
WITHDRAW_AFTER = timedelta(seconds=60)


def diff_incidents(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> list[AlertEvent]:
    """Incidents that started, changed confidence, ended or were withdrawn since the last call;
    updates the state.

    Detection may revise an incident as data arrives (a live detector moves its start when a late
    measurement fills a gap), which gives it a new id: an alerted incident that disappeared while a
    new one of the same kind, country and target overlaps it is that one revised (no new
    ``started``; ``replaces`` names the old id). One that stayed gone ``WITHDRAW_AFTER`` with nothing
    in its place is ``withdrawn``. False positives (admin-marked) produce no alerts.
    """
    rows = _rows(
        con.execute(
            f"""SELECT {", ".join("i." + c for c in _INCIDENT_COLS)},
                      s.confidence AS prev_confidence, s.ended AS prev_ended, s.incident_id IS NOT NULL AS seen
               FROM incidents i LEFT JOIN alert_state s ON s.incident_id = i.id
               LEFT JOIN (
                   SELECT incident_id, arg_max(kind = 'false_positive', id) AS fp FROM annotations
                   WHERE kind IN ('false_positive', 'not_false_positive') GROUP BY incident_id
               ) fp ON fp.incident_id = i.id
               WHERE NOT coalesce(fp.fp, false)
                 AND (s.incident_id IS NULL OR s.confidence <> i.confidence
                      OR s.ended <> (i.end_time IS NOT NULL))
               ORDER BY i.start_time, i.id"""
        )
    )
    vanished = _rows(con.execute(
        "SELECT s.incident_id AS id, s.kind, s.cc, s.target, s.start_time, s.end_time, s.confidence, s.ended, "
        "s.gone_since FROM alert_state s ANTI JOIN incidents i ON i.id = s.incident_id ORDER BY s.start_time"
    ))
    out: list[AlertEvent] = []
    now = now or _now()
    con.execute("UPDATE alert_state SET gone_since = NULL WHERE gone_since IS NOT NULL "
                "AND incident_id IN (SELECT id FROM incidents)")
    for r in rows:
        ended = r["end_time"] is not None
        prev = r.pop("prev_confidence")
        prev_ended = r.pop("prev_ended")
        seen = r.pop("seen")
        replaces = None
        if not seen:
            old = next((v for v in vanished if _same(v, r)), None)
            if old is not None:
                vanished.remove(old)
                con.execute("DELETE FROM alert_state WHERE incident_id = ?", [old["id"]])
                seen, prev, prev_ended, replaces = True, old["confidence"], old["ended"], old["id"]
        if not seen:
            out.append(AlertEvent(r["id"], "started", r, None))
            if ended:
                out.append(AlertEvent(r["id"], "ended", r, None))
        else:
            if prev != r["confidence"]:
                out.append(AlertEvent(r["id"], "confidence_changed", r, prev, replaces))
            if ended and not prev_ended:
                out.append(AlertEvent(r["id"], "ended", r, prev, replaces))
        con.execute(
            "INSERT OR REPLACE INTO alert_state (incident_id, confidence, ended, seen_at, kind, cc, target, "
            "start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r["id"], r["confidence"], ended, now, r["kind"], r["cc"], r["target"], r["start_time"], r["end_time"]],
        )
    for v in vanished:
        if v["gone_since"] is None and v["kind"] is not None:
            con.execute("UPDATE alert_state SET gone_since = ? WHERE incident_id = ?", [now, v["id"]])
            continue
        if v["gone_since"] is not None and now - v["gone_since"] < WITHDRAW_AFTER:
            continue
        if v["kind"] is not None:  # (state rows from before it kept what the incident was: dropped quietly)
            inc = {k: v[k] for k in ("id", "kind", "cc", "target", "start_time", "end_time", "confidence")}
            out.append(AlertEvent(v["id"], "withdrawn", inc, v["confidence"]))
        con.execute("DELETE FROM alert_state WHERE incident_id = ?", [v["id"]])
    return out


def matching_webhooks(con: duckdb.DuckDBPyConnection, cc: str, target: str | None) -> list[dict[str, Any]]:
    return _rows(
        con.execute(
            """SELECT id, url, secret FROM webhooks WHERE active
               AND (cc IS NULL OR cc = ?) AND (target IS NULL OR target = ?) ORDER BY id""",
            [cc, target],
        )
    )


def enqueue_delivery(
    con: duckdb.DuckDBPyConnection, webhook_id: int, incident_id: str, event: str, payload: bytes
) -> int:
    did = _next_id(con, "webhook_deliveries")
    now = _now()
    con.execute(
        """INSERT INTO webhook_deliveries (id, webhook_id, incident_id, event, payload, created_at,
                                           attempts, status, next_attempt_at)
           VALUES (?, ?, ?, ?, ?, ?, 0, 'pending', ?)""",
        [did, webhook_id, incident_id, event, payload.decode(), now, now],
    )
    return did


def due_deliveries(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> list[dict[str, Any]]:
    return _rows(
        con.execute(
            """SELECT d.id, d.webhook_id, d.incident_id, d.event, d.payload, d.attempts, w.url, w.secret
               FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
               WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.id""",
            [now or _now()],
        )
    )


def record_attempt(
    con: duckdb.DuckDBPyConnection,
    delivery_id: int,
    *,
    ok: bool,
    status_code: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
) -> None:
    status = "delivered" if ok else ("pending" if next_attempt_at is not None else "failed")
    con.execute(
        """UPDATE webhook_deliveries SET attempts = attempts + 1, status = ?, last_attempt_at = ?,
                  next_attempt_at = ?, last_status_code = ?, last_error = ? WHERE id = ?""",
        [status, _now(), next_attempt_at, status_code, error, delivery_id],
    )


def deliveries(con: duckdb.DuckDBPyConnection, webhook_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    where, params = ("WHERE webhook_id = ?", [webhook_id]) if webhook_id is not None else ("", [])
    return _rows(
        con.execute(
            f"""SELECT id, webhook_id, incident_id, event, created_at, attempts, status, last_attempt_at,
                       next_attempt_at, last_status_code, last_error
                FROM webhook_deliveries {where} ORDER BY id DESC LIMIT {int(limit)}""",
            params,
        )
    )
