"""What each page shows, as plain data: the HTML pages and the JSON API render the same dicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from censorwatch.model.names import Names, add_names
from censorwatch.report import proofs
from censorwatch.report.charts import cell_status
from censorwatch.store import views, views_agg
from censorwatch.store.names import names as stored_names

HOME_DAYS = 30
COUNTRY_DAYS = 14
TARGET_DAYS = 30
TARGETS_SHOWN = 12
#: a window fitted to the data is at least this long (a few measurements still make a readable strip)
MIN_SPAN = timedelta(hours=6)


def utc(v: Any) -> Any:
    """Naive UTC datetimes from the store become aware (serialised with ``Z``)."""
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v
    if isinstance(v, dict):
        return {k: utc(x) for k, x in v.items()}
    if isinstance(v, list):
        return [utc(x) for x in v]
    return v


def incident_out(r: dict[str, Any]) -> dict[str, Any]:
    d = dict(r)
    d["start"], d["end"] = d.pop("start_time"), d.pop("end_time")
    d["asns"] = list(d.get("asns") or [])
    d["methods"] = list(d.get("methods") or [])
    d["url"] = f"/incident/{d['id']}"
    return d


def event_out(r: dict[str, Any]) -> dict[str, Any]:
    d = dict(r)
    d["start"], d["end"] = d.pop("start_time"), d.pop("end_time")
    return d


def country_status(row: dict[str, Any]) -> str:
    active = row["active"]
    if active.get("confirmed"):
        return "confirmed"
    if active.get("outage"):
        return "down"
    if active.get("likely") or active.get("suspected"):
        return "anomaly"
    if not row["total"]:
        return "nodata"
    return "ok"


def fitted_window(con: duckdb.DuckDBPyConnection, since: datetime | None, until: datetime | None, days: int,
                  **where: str | None) -> tuple[datetime, datetime]:
    """The window a page shows: the one asked for; without ``since`` and ``until``, the hours that have
    data among the last ``days`` (so the bucket, chosen from the span, fits the data: a one-day
    incident is drawn by the hour, not as two cells of a fortnight), at least MIN_SPAN long."""
    start, end = views.window(con, since, until, days)
    if since is not None or until is not None:
        return start, end
    span = views_agg.data_span(con, start, end, **where)
    if span is None:
        return start, end
    first, last = span
    return min(first, last - MIN_SPAN), last


def names_of(con: duckdb.DuckDBPyConnection) -> Names:
    return stored_names(con)


def home(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    start, end = views.window(con, None, None, HOME_DAYS)
    rows = views_agg.countries(con, start, end)
    for r in rows:
        r["status"] = country_status(r)
    active = views.incidents(con, active=True, include_false_positives=False, limit=50)
    recent = views.incidents(con, active=False, since=start, include_false_positives=False, limit=20)
    return add_names({
        "window": {"since": start, "until": end},
        "countries": rows,
        "active": [incident_out(i) for i in active.items],
        "recent": [incident_out(i) for i in recent.items],
        "timeline": views_agg.timeline(con, start, end),
    }, names_of(con))


def _cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for c in rows:
        c["status"] = cell_status(c["total"], c["ok"], c["anomaly"], c["confirmed"], c["down"], c.get("measured") or 0)
    return rows


def country(
    con: duckdb.DuckDBPyConnection, cc: str, since: datetime | None, until: datetime | None, target: str | None
) -> dict[str, Any]:
    start, end = fitted_window(con, since, until, COUNTRY_DAYS, cc=cc, domain=target)
    targets = views_agg.country_targets(con, cc, start, end)
    shown = [target] if target else [t["domain"] for t in targets[:TARGETS_SHOWN]]
    bucket, cells = views_agg.heatmap(con, start=start, end=end, cc=cc, domains=shown)
    incs = views.incidents(con, cc=cc, target=target, since=start, until=end, limit=100)
    names = names_of(con)
    for c in cells:  # rows are networks
        c["row_name"] = names.network_name(c["row"])
    return add_names({
        "cc": cc,
        "window": {"since": start, "until": end},
        "bucket": bucket,
        "targets": targets,
        "shown_targets": shown,
        "cells": _cells(cells),
        "outages": [event_out(o) for o in views_agg.outages(con, cc, start, end)],
        "incidents": [incident_out(i) for i in incs.items],
    }, names)


def target(con: duckdb.DuckDBPyConnection, domain: str, since: datetime | None, until: datetime | None) -> dict[str, Any]:
    start, end = fitted_window(con, since, until, TARGET_DAYS, domain=domain)
    bucket, cells = views_agg.heatmap(con, start=start, end=end, domains=[domain], group_by="probe_cc")
    incs = views.incidents(con, target=domain, since=start, until=end, limit=100)
    return add_names({
        "domain": domain,
        "window": {"since": start, "until": end},
        "bucket": bucket,
        "countries": sorted({c["row"] for c in cells}),
        "cells": _cells(cells),
        "incidents": [incident_out(i) for i in incs.items],
    }, names_of(con))


def incident(con: duckdb.DuckDBPyConnection, incident_id: str, db_path: Path | None) -> dict[str, Any] | None:
    inc = views.incident(con, incident_id)
    if inc is None:
        return None
    out = incident_out(inc)
    out["event_ids"] = list(out.get("event_ids") or [])
    out["events"] = [event_out(e) for e in inc["events"]]
    out["series"] = views.incident_series(con, inc)
    out["networks"] = views.incident_networks(con, inc)
    page = views.incident_evidence(con, incident_id, limit=50)
    if page is not None:
        add_names(page.items, names_of(con))
    out["evidence_page"] = page
    info = proofs.lookup(db_path, [e["measurement_uid"] for e in page.items]) if page else None
    out["log"] = info
    add_names(out, names_of(con))
    out["_raw"] = inc
    return out


def log_out(info: proofs.LogInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "tree_size": info.tree_size,
        "root_hash": info.root_hash,
        "sth_b64": info.sth_b64,
        "leaves": {u: {"index": p.index, "leaf_hash": p.leaf_hash, "audit_path": p.audit_path}
                   for u, p in info.leaves.items()},
    }
