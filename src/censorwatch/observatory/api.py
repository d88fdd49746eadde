"""The observatory's own routes, added to the dashboard's app: health, metrics, the admin API through
which the CLI writes while the service holds the store, and the unpaginated lists the CLI prints.

Every write runs as a job on the store loop's thread (``StoreLoop.submit``): the one writer."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import duckdb
import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from censorwatch.model.measurement import Measurement
from censorwatch.model.names import add_names
from censorwatch.observatory import metrics
from censorwatch.pipeline.fromlog import log_size
from censorwatch.pipeline.ingest import ingest
from censorwatch.store import alerts as store_alerts
from censorwatch.store import detection as sql
from censorwatch.store.db import Store
from censorwatch.store.names import names as stored_names
from censorwatch.store.reader import ReadError, read_record
from censorwatch.web import params
from censorwatch.web.deps import cursor
from censorwatch.web.security import require_admin

if TYPE_CHECKING:
    from censorwatch.observatory.service import Observatory

Con = Annotated[duckdb.DuckDBPyConnection, Depends(cursor)]
#: the largest admin ingest request (the CLI sends batches well below it)
MAX_INGEST_BYTES = 64 * 2**20
DETECTORS = {"ours": ("bayes", "volume"), "bayes": ("bayes",), "volume": ("volume",), "cusum": ("cusum",),
             "all": ("bayes", "volume", "cusum")}

service = APIRouter(tags=["observatory"])
admin = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)],
                  responses={401: {"description": "admin token missing or rejected"}})
lists = APIRouter(prefix="/api/v1/all", tags=["observatory"])


def attach(app: FastAPI, obs: Observatory) -> None:
    app.state.observatory = obs
    for r in (service, admin, lists):
        app.include_router(r)


def _obs(request: Request) -> Observatory:
    o: Observatory = request.app.state.observatory
    return o


async def _job(request: Request, fn: Any) -> Any:
    obs = _obs(request)
    assert obs.loop is not None
    return await asyncio.wrap_future(obs.loop.submit(fn))


# ---------------------------------------------------------------- health and metrics


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    def one(q: str) -> int:
        row = con.execute(q).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    return {
        "measurements": one("SELECT count(*) FROM measurements"),
        "alerts_pending": one("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"),
        "incidents_active": one("SELECT count(*) FROM incidents WHERE end_time IS NULL"),
    }


def _health(obs: Observatory, con: duckdb.DuckDBPyConnection) -> tuple[int, dict[str, Any]]:
    assert obs.loop is not None and obs.intake is not None
    st = obs.loop.status()
    size = log_size(obs.config.db) or 0
    failing = [n for n, s in st["stages"].items() if s["consecutive_failures"]]
    collector_up = obs.intake.up.is_set()
    status = "down" if not (collector_up and obs.loop_alive) else ("degraded" if failing else "ok")
    body = {
        "status": status,
        "collector": {"up": collector_up, "url": obs.collector_url, "restarts": obs.intake.restarts},
        "store_loop": {"alive": obs.loop_alive, "failing_stages": failing},
        "lag": {"log_size": size, "stored": st["stored_leaves"], "analysed": st["analysed_leaves"],
                "alerts_pending": _counts(con)["alerts_pending"]},
        "stages": st["stages"],
        "started_at": obs.started_at.isoformat(timespec="seconds"),
    }
    return (503 if status == "down" else 200), body


@service.get("/healthz", summary="Liveness and the lag of each stage (503 when the intake or the store loop is down)")
def healthz(request: Request, con: Con) -> Response:
    code, body = _health(_obs(request), con)
    return JSONResponse(body, status_code=code)


@service.get("/metrics", response_class=Response, summary="Prometheus metrics: each stage's lag, runs, failures")
def prometheus(request: Request, con: Con) -> Response:
    obs = _obs(request)
    assert obs.loop is not None and obs.intake is not None
    text = metrics.render(obs.loop.status(), log_size(obs.config.db) or 0, _counts(con),
                          collector_up=obs.intake.up.is_set(), collector_restarts=obs.intake.restarts)
    return Response(text, media_type=metrics.CONTENT_TYPE)


# ---------------------------------------------------------------- the lists the CLI prints


def _since(value: str | None) -> datetime | None:
    when = params.when(value, "since")
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


@lists.get("/events", summary="Every event matching the filters, oldest first, as `censorwatch events --format json`, with names")
def all_events(con: Con, cc: str | None = None, since: str | None = None,
               kind: str | None = Query(None, pattern="^(blocking|outage)$"),
               detector: str = Query("ours", pattern="^(ours|bayes|volume|cusum|all)$")) -> Any:
    evs = sql.load_events(con, cc=params.cc(cc), since=_since(since), kind=kind)
    return add_names([e.to_dict() for e in evs if e.detector in DETECTORS[detector]], stored_names(con))


@lists.get("/incidents", summary="Every incident matching the filters, oldest first, as `censorwatch incidents --format json`, with names")
def all_incidents(con: Con, cc: str | None = None, since: str | None = None) -> Any:
    incs = sql.load_incidents(con, cc=params.cc(cc), since=_since(since))
    return add_names([i.to_dict() for i in incs], stored_names(con))


# ---------------------------------------------------------------- admin writes


def _parse_ingest(body: bytes) -> list[Measurement | ReadError]:
    items: list[Measurement | ReadError] = []
    for n, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
            source, raw = rec["source"], rec["raw"]
            if not isinstance(source, str) or not isinstance(raw, str):
                raise TypeError("source and raw must be strings")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise HTTPException(400, f"line {n}: expected {{\"source\": str, \"raw\": str}} ({exc})") from None
        items.extend(read_record(raw.encode(), source))
    return items


@admin.post("/ingest", summary="Store measurements (one {\"source\", \"raw\"} JSON object a line), as `censorwatch ingest`")
async def admin_ingest(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_INGEST_BYTES:
        raise HTTPException(413, f"at most {MAX_INGEST_BYTES} bytes per request: send smaller batches")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_INGEST_BYTES:
            raise HTTPException(413, f"at most {MAX_INGEST_BYTES} bytes per request: send smaller batches")
    items = await asyncio.to_thread(_parse_ingest, bytes(body))
    errors: list[str] = []
    obs = _obs(request)
    assert obs.loop is not None
    loop = obs.loop

    def job(store: Store) -> dict[str, Any]:
        stats = ingest(store, items, fingerprints=loop.s.fingerprints, on_error=lambda e: errors.append(str(e)))
        if stats.new:
            loop.mark_new_data()
        return {**asdict(stats), "errors": errors[:1000]}

    return await _job(request, job)


@admin.post("/analyze", summary="Store the log's new leaves, run an analysis pass and deliver alerts now")
async def admin_analyze(request: Request) -> Any:
    obs = _obs(request)
    assert obs.loop is not None
    try:
        results = await _job(request, obs.loop.analyse_now)
    except RuntimeError as exc:
        raise HTTPException(503, str(exc)) from None
    return orjson.loads(orjson.dumps(results, default=str))


class WebhookIn(BaseModel):
    url: str
    cc: str | None = None
    target: str | None = None


@admin.post("/webhooks", status_code=201, summary="Add a webhook (as `censorwatch alerts add`); answers its secret")
async def admin_webhook_add(request: Request, body: WebhookIn) -> Any:
    from censorwatch.report.render import safe_url

    if safe_url(body.url) is None:
        raise HTTPException(400, f"url: only http(s) URLs, got {body.url!r}")
    cc, target = params.cc(body.cc, "cc"), params.target(body.target, "target")
    return await _job(request, lambda st: store_alerts.add_webhook(st.con, body.url, cc, target))


@admin.get("/webhooks", summary="Webhooks with their delivery counts (as `censorwatch alerts list`)")
async def admin_webhook_list(request: Request) -> Any:
    rows = await _job(request, lambda st: store_alerts.list_webhooks(st.con))
    return orjson.loads(orjson.dumps(rows, default=str))


@admin.delete("/webhooks/{webhook_id}", summary="Deactivate a webhook (its delivery log is kept)")
async def admin_webhook_remove(request: Request, webhook_id: int) -> Any:
    if not await _job(request, lambda st: store_alerts.remove_webhook(st.con, webhook_id)):
        raise HTTPException(404, f"no active webhook {webhook_id}")
    return {"removed": webhook_id}


@admin.get("/deliveries", summary="The newest webhook deliveries (as `censorwatch alerts log`)")
async def admin_deliveries(request: Request, webhook: int | None = None) -> Any:
    rows = await _job(request, lambda st: store_alerts.deliveries(st.con, webhook))
    return orjson.loads(orjson.dumps(rows, default=str))
