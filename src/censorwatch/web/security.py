"""Security headers on every response, and the admin bearer-token check."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    """Pure ASGI middleware: adds the CSP (unless a route set a stricter one) and friends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in {h for h, _ in _HEADERS}]
                if not any(k.lower() == b"content-security-policy" for k, _ in headers):
                    headers.append((b"content-security-policy", CSP.encode()))
                headers.extend(_HEADERS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


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
