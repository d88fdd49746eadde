"""The probe's side of the OONI test-helper protocol: POST the URL and endpoints, read the control.

``ControlClient`` keeps idle keep-alive connections to the control server (one TLS handshake serves
many measurements); a request on a reused connection that the server closed meanwhile is retried
once on a fresh one.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from censorwatch.model import failures as F
from censorwatch.probe import dns, errors, http
from censorwatch.probe.tcp import Conn
from censorwatch.probe.trace import Trace

MAX_IDLE = 64
#: idle connections older than this are not reused (servers drop idle keep-alives after ~5 s)
IDLE_SECONDS = 3.0


def th_request(url: str, endpoints: list[str], headers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "http_request": url,
        "http_request_headers": headers if headers is not None else {
            k: [v] for k, v in http.DEFAULT_HEADERS
        },
        "tcp_connect": endpoints,
    }


class _Failed(errors.ProbeError):
    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure = failure


class _Stale(Exception):
    """A reused connection was closed by the server before it answered: retry on a new one."""


class ControlClient:
    def __init__(
        self, url: str, *, settings: http.HTTPSettings, resolver: tuple[str, int] | None, timeout: float
    ) -> None:
        u = urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"control URL must be http(s)://host[:port]/path, got {url!r}")
        self.url = url
        self.scheme, self.host = u.scheme, u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self.host_header = self.host if self.port in (80, 443) else f"{self.host}:{self.port}"
        self.settings = settings
        self.resolver = resolver
        self.timeout = timeout
        self._idle: list[tuple[Conn, float]] = []
        self._addrs: list[str] | None = None

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for c, _ in idle:
            await c.close()

    async def _reusable(self) -> Conn | None:
        while self._idle:
            conn, since = self._idle.pop()
            if time.monotonic() - since < IDLE_SECONDS:
                return conn
            await conn.close()
        return None

    async def _connect(self) -> Conn:
        trace = Trace(record=False)
        if self._addrs is None:
            if dns._is_ip(self.host):
                self._addrs = [self.host]
            else:
                if self.resolver is None:
                    raise ValueError(f"no resolver for the control host {self.host!r}")
                _, addrs, failure = await dns.lookup(trace, self.host, timeout=self.timeout, server=self.resolver)
                if failure is not None:
                    raise errors.DNSFailure(failure, f"resolving the control host {self.host}: {failure}")
                self._addrs = addrs
        out = http.FetchResult()
        conn, failure, raw = await http.open_conn(trace, self.scheme, self.host, self.port, self._addrs,
                                                  self.settings, out)
        if conn is None:
            raise _Failed(failure or F.GENERIC_TIMEOUT, raw or "")
        return conn

    async def post(self, payload: Any) -> tuple[int, Any]:
        """POST JSON; ``(status, decoded JSON)``; raise mapped errors."""
        body = orjson.dumps(payload)
        async with asyncio.timeout(self.timeout):
            for attempt in range(2):
                conn = await self._reusable() if attempt == 0 else None
                reused = conn is not None
                if conn is None:
                    conn = await self._connect()
                try:
                    resp, keep = await self._exchange(conn, body, reused)
                except _Stale:
                    await conn.close()
                    continue
                except BaseException:
                    await conn.close()
                    raise
                if keep and len(self._idle) < MAX_IDLE:
                    self._idle.append((conn, time.monotonic()))
                else:
                    await conn.close()
                break
            else:  # pragma: no cover - a fresh connection is never stale
                raise _Failed(F.CONNECTION_RESET, "the control server closed a fresh connection")
        try:
            return resp.code, orjson.loads(resp.body)
        except orjson.JSONDecodeError as exc:
            raise _Failed(F.JSON_PARSE_ERROR, f"control answered {resp.code} with non-JSON: {exc}") from None

    async def _exchange(self, conn: Conn, body: bytes, reused: bool) -> tuple[http.Response, bool]:
        t = self.settings.timeouts
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host_header}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        try:
            await conn.write(head.encode() + body, t.http_headers)
            status = await conn.readline(t.http_headers)
        except (EOFError, ConnectionError):
            if reused:
                raise _Stale() from None
            raise
        parts = status.split()
        if len(parts) < 2 or not parts[1].isdigit():
            raise errors.HTTPProtocolError(f"bad status line {status[:80]!r}")
        resp = http.Response(int(parts[1]), "", [])
        while (line := await conn.readline(t.http_headers)) not in (b"\r\n", b"\n"):
            k, _, v = line.decode("latin-1").partition(":")
            resp.headers_list.append((k, v.strip()))
        keep = (resp.header("Connection") or "").lower() != "close" and resp.header("Content-Length") is not None
        await http.read_body(conn, resp, self.settings, time.monotonic() + t.http_body)
        return resp, keep and not resp.truncated

    async def ask(
        self, target: str, endpoints: list[str]
    ) -> tuple[dict[str, Any] | None, str | None, str | None]:
        """``(control, control_failure, raw)`` for one measurement."""
        try:
            code, obj = await self.post(th_request(target, endpoints))
        except errors.CAUGHT as exc:
            f, raw = errors.failure_of(exc)
            return None, f, raw
        if code != 200 or not isinstance(obj, dict):
            reason = obj.get("reason") if isinstance(obj, dict) else None
            return None, F.HTTP_REQUEST_FAILED, f"control answered HTTP {code}: {reason}"
        for key in ("tcp_connect", "http_request", "dns"):
            if not isinstance(obj.get(key), dict):
                return None, F.JSON_PARSE_ERROR, f"control answer lacks the {key!r} object"
        return obj, None, None


async def ask(
    url: str, target: str, endpoints: list[str], *, settings: http.HTTPSettings,
    resolver: tuple[str, int] | None, timeout: float,
) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """One call on a connection of its own (tests, one-off use)."""
    client = ControlClient(url, settings=settings, resolver=resolver, timeout=timeout)
    try:
        return await client.ask(target, endpoints)
    finally:
        await client.close()
