"""JSON API under ``/api/v1``: everything the pages show, keyset-paginated lists, exports, admin."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from censorwatch.model.names import add_names
from censorwatch.report.render import safe_url
from censorwatch.store import alerts as store_alerts
from censorwatch.store import views, views_agg
from censorwatch.web import data, params, schemas
from censorwatch.web.deps import cached, cursor, db_path
from censorwatch.web.security import require_admin

router = APIRouter(prefix="/api/v1", responses={400: {"model": schemas.Error}})
Con = Annotated[duckdb.DuckDBPyConnection, Depends(cursor)]
Limit = Annotated[int, Query(ge=1, le=views.MAX_LIMIT, description="items per page")]
Cursor = Annotated[str | None, Query(max_length=1000, description="the previous page's `next`")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": schemas.Error}}


def _page(p: views.Page, con: duckdb.DuckDBPyConnection, conv: Any = None) -> dict[str, Any]:
    """A page of items, each with the names beside its numbers (``model.names.add_names``)."""
    items = [conv(i) for i in p.items] if conv else p.items
    return {"items": data.utc(add_names(items, data.names_of(con))), "next": p.next}


@router.get("/home", response_model=schemas.Home, summary="Home page data: countries, incidents, timeline")
def home(con: Con, request: Request) -> Any:
    return data.utc(cached(request, ("home",), data.home, con))


@router.get("/countries/{cc}", response_model=schemas.CountryDetail, summary="A country: heatmap cells, outages, incidents")
def country(con: Con, request: Request, cc: str, since: str | None = None, until: str | None = None,
            target: str | None = None) -> Any:
    code = params.cc(cc, "cc")
    assert code is not None
    key = ("country", code, params.when(since, "since"), params.when(until, "until"), params.target(target))
    return data.utc(cached(request, key, lambda c: data.country(c, *key[1:]), con))


@router.get("/targets/{domain}", response_model=schemas.TargetDetail, summary="A target's status in every country")
def target(con: Con, request: Request, domain: str, since: str | None = None, until: str | None = None) -> Any:
    d = params.target(domain, "domain")
    assert d is not None
    key = ("target", d, params.when(since, "since"), params.when(until, "until"))
    return data.utc(cached(request, key, lambda c: data.target(c, *key[1:]), con))


@router.get("/incidents", response_model=schemas.Page[schemas.Incident], summary="Incidents, newest first")
def incidents(
    con: Con,
    cc: str | None = None,
    target: str | None = None,
    asn: str | None = None,
    method: str | None = None,
    kind: str | None = Query(None, pattern="^(blocking|outage)$"),
    active: bool | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    p = views.incidents(
        con, cc=params.cc(cc), target=params.target(target), asn=params.asn(asn),
        method=params.token(method, "method"), kind=kind, active=active,
        since=params.when(since, "since"), until=params.when(until, "until"), limit=limit, cursor=cursor,
    )
    return _page(p, con, data.incident_out)


@router.get("/incidents/{incident_id}", response_model=schemas.IncidentDetail, responses=NOT_FOUND,
            summary="One incident with its events, evidence series, networks and log proofs")
def incident(con: Con, request: Request, incident_id: str, path: Annotated[Path | None, Depends(db_path)]) -> Any:
    iid = params.uid(incident_id, "incident_id")
    inc = cached(request, ("incident", iid), lambda c: data.incident(c, iid, path) or {}, con)
    if not inc:
        raise HTTPException(404, f"incident {incident_id!r} not found")
    inc.pop("_raw")
    inc.pop("evidence_page")
    inc["log"] = data.log_out(inc["log"])
    return data.utc(inc)


@router.get("/incidents/{incident_id}/evidence", response_model=schemas.Page[schemas.EvidenceItem],
            responses=NOT_FOUND, summary="An incident's evidence measurements, newest first")
def evidence(con: Con, incident_id: str, limit: Limit = 50, cursor: Cursor = None) -> Any:
    p = views.incident_evidence(con, params.uid(incident_id, "incident_id"), limit=limit, cursor=cursor)
    if p is None:
        raise HTTPException(404, f"incident {incident_id!r} not found")
    return _page(p, con)


@router.get("/events", response_model=schemas.Page[schemas.Event], summary="Detector events, newest first")
def events(
    con: Con,
    cc: str | None = None,
    target: str | None = None,
    kind: str | None = Query(None, pattern="^(blocking|outage)$"),
    detector: str | None = Query(None, pattern="^[a-z0-9_-]{1,32}$", description="e.g. bayes, volume, cusum"),
    since: str | None = None,
    until: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    p = views_agg.events(con, cc=params.cc(cc), target=params.target(target), kind=kind, detector=detector,
                     since=params.when(since, "since"), until=params.when(until, "until"), limit=limit, cursor=cursor)
    return _page(p, con, data.event_out)


@router.get("/aggregates", response_model=schemas.Page[schemas.AggregateRow],
            summary="Per (country, network, target, hour|day) verdict counts, newest first")
def aggregates(
    con: Con,
    granularity: str = Query("daily", pattern="^(hourly|daily)$"),
    cc: str | None = None,
    asn: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Any:
    p = views_agg.aggregates(con, granularity=granularity, cc=params.cc(cc), asn=params.asn(asn),
                         target=params.target(target), since=params.when(since, "since"),
                         until=params.when(until, "until"), limit=limit, cursor=cursor)
    return _page(p, con)


@router.get("/measurements", response_model=schemas.Page[schemas.MeasurementItem],
            summary="Measurements (uid, time, network, input, verdict), newest first")
def measurements(
    con: Con,
    cc: str | None = None,
    asn: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
    status: str | None = None,
    method: str | None = None,
    test_name: str | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    p = views.measurements(
        con, cc=params.cc(cc), asn=params.asn(asn), target=params.target(target),
        since=params.when(since, "since"), until=params.when(until, "until"), status=params.status(status),
        method=params.token(method, "method"), test_name=params.token(test_name, "test_name"),
        limit=limit, cursor=cursor,
    )
    return _page(p, con)


@router.get("/measurements/{uid}", response_model=schemas.MeasurementDetail, responses=NOT_FOUND,
            summary="One measurement and its verdict (raw JSON at .../raw)")
def measurement(con: Con, uid: str) -> Any:
    m = views.measurement(con, params.uid(uid))
    if m is None:
        raise HTTPException(404, f"measurement {uid!r} not found")
    m.pop("raw")
    m["raw_url"] = f"/api/v1/measurements/{uid}/raw"
    return data.utc(add_names(m, data.names_of(con)))


@router.get("/measurements/{uid}/raw", responses=NOT_FOUND, response_class=Response,
            summary="The measurement's JSON exactly as it was ingested")
def measurement_raw(con: Con, uid: str) -> Response:
    m = views.measurement(con, params.uid(uid))
    if m is None:
        raise HTTPException(404, f"measurement {uid!r} not found")
    return Response(m["raw"], media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{uid}.json"'})


@router.get("/export/{what}.{fmt}", response_class=FileResponse,
            summary="CSV or Parquet export of aggregates or verdicts (same filters as the lists)")
def export(
    con: Con,
    what: str,
    fmt: str,
    granularity: str = Query("daily", pattern="^(hourly|daily)$"),
    cc: str | None = None,
    asn: str | None = None,
    target: str | None = None,
    since: str | None = None,
    until: str | None = None,
    status: str | None = None,
    max_rows: int = Query(1_000_000, ge=1, le=10_000_000),
) -> Any:
    if what not in ("aggregates", "verdicts"):
        raise HTTPException(404, "export: aggregates or verdicts")
    if fmt not in ("csv", "parquet"):
        raise HTTPException(404, "export format: csv or parquet")
    fd, name = tempfile.mkstemp(prefix="censorwatch-export-", suffix=f".{fmt}")
    os.close(fd)
    out = Path(name)
    try:
        views_agg.export(con, what, fmt, out, granularity=granularity, cc=params.cc(cc), asn=params.asn(asn),
                     target=params.target(target), since=params.when(since, "since"),
                     until=params.when(until, "until"), status=params.status(status), max_rows=max_rows)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    media = "text/csv" if fmt == "csv" else "application/vnd.apache.parquet"
    return FileResponse(out, media_type=media, filename=f"censorwatch-{what}.{fmt}",
                        background=BackgroundTask(out.unlink, missing_ok=True))


# ---------------------------------------------------------------- admin


def _known(con: duckdb.DuckDBPyConnection, incident_id: str) -> None:
    if con.execute("SELECT 1 FROM incidents WHERE id = ?", [incident_id]).fetchone() is None:
        raise HTTPException(404, f"incident {incident_id!r} not found")


@router.post("/incidents/{incident_id}/annotations", status_code=201, response_model=schemas.Annotation,
             dependencies=[Depends(require_admin)], responses={**NOT_FOUND, 401: {"model": schemas.Error}},
             summary="Admin: annotate an incident (note, official statement, court filing, link)")
def annotate(con: Con, request: Request, incident_id: str, body: schemas.AnnotationIn) -> Any:
    if body.kind not in ("note", "statement", "court_filing", "link"):
        raise HTTPException(400, "kind: one of note, statement, court_filing, link")
    if body.url is not None and safe_url(body.url) is None:
        raise HTTPException(400, "url: only http(s) links are accepted")
    if not body.text and not body.url:
        raise HTTPException(400, "text or url: give at least one")
    _known(con, incident_id)
    a = store_alerts.add_annotation(con, incident_id, body.kind, body.text, body.url)
    request.app.state.cache.clear()
    return data.utc(a)


@router.post("/incidents/{incident_id}/false-positive", response_model=schemas.Annotation,
             dependencies=[Depends(require_admin)], responses={**NOT_FOUND, 401: {"model": schemas.Error}},
             summary="Admin: mark (or unmark) an incident as a false positive")
def false_positive(con: Con, incident_id: str, body: schemas.FalsePositiveIn, request: Request) -> Any:
    _known(con, incident_id)
    kind = "false_positive" if body.false_positive else "not_false_positive"
    a = store_alerts.add_annotation(con, incident_id, kind, body.reason, None)
    request.app.state.cache.clear()
    return data.utc(a)
