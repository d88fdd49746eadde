"""The FastAPI application: pages, JSON API, feeds, docs; security headers; no 500 on bad input."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import duckdb
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from censorwatch import __version__
from censorwatch.store.views import BadQuery
from censorwatch.web import api, feeds, pages
from censorwatch.web.cache import PageCache
from censorwatch.web.security import SecurityHeaders
from censorwatch.web.templating import templates

log = logging.getLogger("censorwatch.web")
STATIC = Path(__file__).parent / "static"


def _wants_html(request: Request) -> bool:
    p = request.url.path
    return not (p.startswith("/api/") or p.startswith("/feeds/") or p == "/openapi.json")


def _error(request: Request, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    if _wants_html(request):
        html = templates().get_template("error.html").render(status=status, detail=detail, request=request)
        return HTMLResponse(html, status_code=status, headers=headers)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def create_app(
    con: duckdb.DuckDBPyConnection,
    *,
    db_path: Path | None = None,
    admin_token: str | None = None,
    read_only: bool = False,
    base_url: str | None = None,
    deliver_every: float | None = None,
    cache_ttl: float = 30.0,
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warm = None
        if cache_ttl > 0:  # compute the home page once in the background so the first visitor does not wait
            warm = threading.Thread(target=_warm, args=(app,), daemon=True, name="censorwatch-cache-warm")
            warm.start()
        task = None
        if deliver_every and not read_only:
            task = asyncio.create_task(_alert_loop(app, deliver_every))
        try:
            yield
        finally:
            if warm is not None:  # the owner may close the connection right after shutdown
                await asyncio.to_thread(warm.join, 60)
            await asyncio.to_thread(app.state.cache.close)
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(
        title="censorwatch",
        version=__version__,
        description="Incidents, events, aggregates and measurements of internet censorship. Lists are "
        "keyset-paginated: pass the previous page's `next` as `cursor`.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.con = con
    app.state.db_path = db_path
    app.state.admin_token = admin_token
    app.state.read_only = read_only
    app.state.base_url = base_url
    app.state.cache = PageCache(cache_ttl)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body"))
            parts.append(f"{loc or 'request'}: {e.get('msg', 'invalid')}")
        return _error(request, 400, "; ".join(parts) or "invalid request")

    @app.exception_handler(BadQuery)
    async def _bad(request: Request, exc: BadQuery) -> Response:
        return _error(request, 400, str(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _shttp(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(duckdb.Error)
    async def _db(request: Request, exc: duckdb.Error) -> Response:
        log.exception("database error on %s", request.url.path)
        return _error(request, 503, f"database error: {type(exc).__name__}")

    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(feeds.router)
    app.include_router(pages.router)
    return app


def _warm(app: FastAPI) -> None:
    from censorwatch.web import data

    cur = app.state.con.cursor()
    try:
        app.state.cache.get(("home",), data.home, cur, app.state.con)
    except Exception:  # a broken store shows its error on the first request instead
        log.exception("warming the home page failed")
    finally:
        cur.close()


async def _alert_loop(app: FastAPI, every: float) -> None:
    from censorwatch.pipeline.alerts import deliver_alerts_async

    while True:
        cur = app.state.con.cursor()
        try:
            stats = await deliver_alerts_async(cur, app.state.base_url)
            if stats.queued or stats.attempted:
                log.info("alerts: queued %d, attempted %d, delivered %d", stats.queued, stats.attempted, stats.delivered)
        except Exception:  # keep the loop alive; the delivery log keeps the per-webhook outcome
            log.exception("alert delivery failed")
        finally:
            cur.close()
        await asyncio.sleep(every)
