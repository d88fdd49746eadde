"""Server-rendered HTML pages with stable URLs; charts are inline SVG built on the server."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from censorwatch.model.names import add_names
from censorwatch.model.networks import network_label
from censorwatch.model.verdict import STATUSES
from censorwatch.report import charts
from censorwatch.report import incident as report
from censorwatch.store import views
from censorwatch.web import data, params, steps
from censorwatch.web.deps import cached, cursor, db_path
from censorwatch.web.templating import templates

router = APIRouter(include_in_schema=False)
Con = Annotated[duckdb.DuckDBPyConnection, Depends(cursor)]


def render(request: Request, name: str, **ctx: Any) -> HTMLResponse:
    html = templates().get_template(name).render(request=request, **ctx)
    return HTMLResponse(html)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, con: Con) -> HTMLResponse:
    d = cached(request, ("home",), data.home, con)
    strip = charts.stacked_bars(d["timeline"], title="Measurements per day, all countries", height=150)
    return render(request, "home.html", d=d, strip=strip)


def _heatmaps(d: dict[str, Any], rows_of: str,
              outages: list[dict[str, Any]] | None = None) -> list[tuple[str, str, charts.Chart]]:
    """(target, its name, heatmap) for each target shown."""
    hourly = d["bucket"] == "hour"
    times = charts.buckets(d["window"]["since"], d["window"]["until"], hourly)
    by_domain: dict[str, dict[tuple[str, Any], dict[str, Any]]] = {}
    rows: dict[str, set[str]] = {}
    for c in d["cells"]:
        by_domain.setdefault(c["domain"], {})[(c["row"], c["t"])] = c
        rows.setdefault(c["domain"], set()).add(c["row"])
    all_rows = sorted(set().union(*rows.values())) if rows else []
    labels = {c["row"]: network_label(c["row"], c.get("row_name")) for c in d["cells"]} if rows_of == "network" else {}
    marks = [(o["asn"], o["start"], o["end"]) for o in outages or []]
    target_names = {c["domain"]: c.get("target_name") or c["domain"] for c in d["cells"]}
    out = []
    for dom in d.get("shown_targets") or sorted(by_domain):
        name = target_names.get(dom, dom)
        title = f"{name}: status per {rows_of} and {'hour' if hourly else 'day'}"
        out.append((dom, name, charts.heatmap(all_rows, times, by_domain.get(dom, {}), title=title, hourly=hourly,
                                              outages=marks, row_labels=labels)))
    return out


@router.get("/country/{cc}", response_class=HTMLResponse)
def country(request: Request, con: Con, cc: str, since: str | None = None, until: str | None = None,
            target: str | None = None) -> HTMLResponse:
    code = params.cc(cc, "country")
    assert code is not None
    key = ("country", code, params.when(since, "since"), params.when(until, "until"), params.target(target))
    d = cached(request, key, lambda c: data.country(c, *key[1:]), con)
    if not d["targets"] and not d["incidents"] and not d["outages"]:
        exists = con.execute("SELECT 1 FROM agg_daily WHERE probe_cc = ? LIMIT 1", [code]).fetchone()
        if exists is None:
            raise HTTPException(404, f"no measurements from country {code}")
    return render(request, "country.html", d=d, maps=_heatmaps(d, "network", d["outages"]))


@router.get("/target/{domain}", response_class=HTMLResponse)
def target(request: Request, con: Con, domain: str, since: str | None = None, until: str | None = None) -> HTMLResponse:
    dom = params.target(domain, "target")
    assert dom is not None
    key = ("target", dom, params.when(since, "since"), params.when(until, "until"))
    d = cached(request, key, lambda c: data.target(c, *key[1:]), con)
    if not d["cells"] and not d["incidents"]:
        exists = con.execute("SELECT 1 FROM agg_daily WHERE domain = ? LIMIT 1", [dom]).fetchone()
        if exists is None:
            raise HTTPException(404, f"no measurements of {dom}")
    d["shown_targets"] = [dom]
    return render(request, "target.html", d=d, maps=_heatmaps(d, "country"))


@router.get("/incident/{incident_id}", response_class=HTMLResponse)
def incident(request: Request, con: Con, incident_id: str, path: Annotated[Path | None, Depends(db_path)],
             cursor: str | None = Query(None, max_length=1000)) -> HTMLResponse:
    iid = params.uid(incident_id, "incident")
    d = cached(request, ("incident", iid), lambda c: data.incident(c, iid, path) or {}, con)
    if not d:
        raise HTTPException(404, f"incident {incident_id!r} not found")
    if cursor:
        d["evidence_page"] = page = views.incident_evidence(con, incident_id, limit=50, cursor=cursor)
        if page is not None:
            add_names(page.items, data.names_of(con))
    what = f"{d['target_name'] or d['target']} in {d['cc']}" if d["target"] else f"network outage in {d['cc']}"
    chart = charts.stacked_bars(d["series"], title=f"Evidence over time: {what}", start=d["start"], end=d["end"])
    return render(request, "incident.html", d=d, chart=chart)


@router.get("/incident/{incident_id}/report.{fmt}")
def incident_report(con: Con, incident_id: str, fmt: str, path: Annotated[Path | None, Depends(db_path)]) -> Response:
    if fmt not in report.FORMATS:
        raise HTTPException(404, f"report format: one of {', '.join(report.FORMATS)}")
    try:
        rd = report.build(con, params.uid(incident_id, "incident"), path)
        body = report.render(rd, fmt)
    except report.ReportError as e:
        raise HTTPException(404 if "not found" in str(e) else 500, str(e)) from None
    media = {"html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8", "pdf": "application/pdf",
             "json": "application/json"}[fmt]
    headers = {"Content-Disposition": f'attachment; filename="incident-{incident_id}.{fmt}"'}
    if fmt == "html":
        # the report is self-contained: its one inline stylesheet is allowed by hash, nothing else
        headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src '{report.REPORT_CSS_HASH}'; img-src data:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'"
        )
    return Response(body, media_type=media, headers=headers)


@router.get("/measurement/{uid}", response_class=HTMLResponse)
def measurement(request: Request, con: Con, uid: str) -> HTMLResponse:
    m = views.measurement(con, params.uid(uid))
    if m is None:
        raise HTTPException(404, f"measurement {uid!r} not found")
    tables, obj, problem = steps.steps(m["raw"])
    raw_text = m["raw"].decode("utf-8", errors="replace")
    if obj is not None and len(m["raw"]) < 2_000_000:
        from censorwatch.report.render import pretty_json

        with contextlib.suppress(RecursionError, ValueError):  # nested too deep to indent: shown as stored
            raw_text = pretty_json(obj)
    add_names(m, data.names_of(con))
    return render(request, "measurement.html", m=m, v=m["verdict"], steps=tables, problem=problem, raw_text=raw_text)


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request, con: Con,
    cc: str | None = None, asn: str | None = None, target: str | None = None, method: str | None = None,
    status: str | None = None, since: str | None = None, until: str | None = None,
    cursor: str | None = Query(None, max_length=1000), icursor: str | None = Query(None, max_length=1000),
) -> HTMLResponse:
    f: dict[str, Any] = {
        "cc": params.cc(cc), "asn": params.asn(asn), "target": params.target(target),
        "method": params.token(method, "method"), "status": params.status(status),
        "since": params.when(since, "since"), "until": params.when(until, "until"),
    }
    incs = views.incidents(con, cc=f["cc"], target=f["target"], asn=f["asn"], method=f["method"],
                           since=f["since"], until=f["until"], limit=25, cursor=icursor)
    ms = views.measurements(con, cc=f["cc"], asn=f["asn"], target=f["target"], method=f["method"],
                            status=f["status"], since=f["since"], until=f["until"], limit=50, cursor=cursor)
    query = {k: v for k, v in {"cc": cc, "asn": asn, "target": target, "method": method, "status": status,
                               "since": since, "until": until}.items() if v}
    names = data.names_of(con)
    return render(request, "search.html", f=f, query=query, statuses=STATUSES,
                  incidents=add_names([data.incident_out(i) for i in incs.items], names), inext=incs.next,
                  measurements=add_names(ms.items, names), mnext=ms.next)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    return render(request, "docs.html", spec=spec)


