"""The control server's HTTP surface: Starlette on uvicorn, JSON in and out, never a 500 for bad input.

``POST /`` takes an OONI test-helper request and answers the helper's view plus a ``client`` key
(the caller's apparent address and, with an ASN map, its AS number and country). Malformed requests
get 400 with ``{"error": "bad_request", "reason": ...}``; bodies over the size limit 413; a literal
non-public target outside lab mode 403; too many requests in flight 503.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from censorwatch.control.helper import Helper
from censorwatch.control.protocol import BadRequest, parse_request
from censorwatch.probe.netpolicy import parse_ip

MAX_BODY = 64 * 1024
QUEUE_WAIT = 5.0


def _json(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def _error(status: int, error: str, reason: str) -> Response:
    return _json({"error": error, "reason": reason}, status)


def create_app(
    helper: Helper, *, max_body: int = MAX_BODY, max_concurrency: int = 32, queue_wait: float = QUEUE_WAIT
) -> Starlette:
    sem = asyncio.Semaphore(max_concurrency)

    async def th(request: Request) -> Response:
        if request.method != "POST":
            return _error(405, "method_not_allowed", "POST an OONI test-helper request as JSON")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body):
            return _error(413, "request_too_large", f"request bodies are limited to {max_body} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return _error(413, "request_too_large", f"request bodies are limited to {max_body} bytes")
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _error(400, "bad_request", f"body is not JSON: {exc}")
        try:
            req = parse_request(obj)
        except BadRequest as exc:
            return _error(400, "bad_request", str(exc))
        why = helper.policy.refusal(req.host) if _is_literal(req.host) else None
        if why is not None:
            return _error(403, "destination_refused",
                          f"{req.host} is {why}: the control server only reaches public addresses")
        try:
            async with asyncio.timeout(queue_wait):
                await sem.acquire()
        except TimeoutError:
            return _error(503, "busy", "too many requests in flight, retry later")
        try:
            async with asyncio.timeout(helper.cfg.timeouts.control):
                out = await helper.measure(req)
        except TimeoutError:
            return _error(504, "timeout", "measuring the target took too long")
        finally:
            sem.release()
        out["client"] = _client(request, helper)
        return _json(out)

    async def health(request: Request) -> Response:
        return _json({"status": "ok", "lab": helper.cfg.lab})

    return Starlette(routes=[Route("/", th, methods=["GET", "POST", "PUT", "DELETE"]),
                             Route("/healthz", health, methods=["GET"])])


def _is_literal(host: str) -> bool:
    return parse_ip(host) is not None


def _client(request: Request, helper: Helper) -> dict[str, Any]:
    ip = request.client.host if request.client else ""
    info = helper.cfg.asn_map.lookup(ip) if helper.cfg.asn_map else None
    return {"ip": ip, "asn": info.asn if info else 0, "cc": info.cc if info else None,
            "as_name": info.as_name if info else None}
