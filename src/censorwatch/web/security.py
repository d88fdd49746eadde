"""Security headers on every response, and the admin bearer-token check."""

from __future__ import annotations

import hmac
import logging

import orjson
from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("censorwatch.web")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Pure ASGI middleware: adds the CSP (unless a route set a stricter one) and friends to every
    response, and answers an exception no handler took with a 500 that carries them too (Starlette's
    own 500 is made outside every middleware, so it would go out bare)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in {h for h, _ in _HEADERS}]
                if not any(k.lower() == b"content-security-policy" for k, _ in headers):
                    headers.append((b"content-security-policy", CSP.encode()))
                headers.extend(_HEADERS)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            log.error("%s %s failed: %s: %s", scope.get("method"), str(scope.get("path"))[:200],
                      type(exc).__name__, str(exc)[:300], exc_info=exc)
            if started:  # the answer is on its way: nothing more can be said on this connection
                return
            body = orjson.dumps({"detail": "internal error: the server failed on this request"})
            await send_with_headers({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


def require_admin(request: Request) -> None:
    """``Authorization: Bearer $CENSORWATCH_ADMIN_TOKEN``; admin is disabled when no token is set."""
    expected: str | None = request.app.state.admin_token
    if not expected:
        raise HTTPException(403, "admin actions are disabled: start the server with CENSORWATCH_ADMIN_TOKEN set")
    got = request.headers.get("authorization", "")
    scheme, _, tok = got.partition(" ")
    if scheme.lower() != "bearer" or not tok:
        raise HTTPException(401, "admin token required (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(tok.strip().encode(), expected.encode()):
        raise HTTPException(401, "admin token rejected", headers={"WWW-Authenticate": "Bearer"})
    if request.app.state.read_only:
        raise HTTPException(409, "the database is opened read-only: admin writes are not possible")
