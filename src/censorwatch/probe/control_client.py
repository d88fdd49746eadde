"""The probe's side of the OONI test-helper protocol: POST the URL and endpoints, read the control."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from censorwatch.model import failures as F
from censorwatch.probe import dns, errors, http
from censorwatch.probe.trace import Trace


def th_request(url: str, endpoints: list[str], headers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {
        "http_request": url,
        "http_request_headers": headers if headers is not None else {
            k: [v] for k, v in http.DEFAULT_HEADERS
        },
        "tcp_connect": endpoints,
    }


async def post_json(
    url: str, payload: Any, *, settings: http.HTTPSettings, resolver: tuple[str, int] | None,
    timeout: float,
) -> tuple[int, Any]:
    """POST JSON with the probe's own client; return ``(status, decoded JSON)``; raise mapped errors."""
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValueError(f"control URL must be http(s)://host[:port]/path, got {url!r}")
    host, port = u.hostname, u.port or (443 if u.scheme == "https" else 80)
    trace = Trace()
    async with asyncio.timeout(timeout):
        if dns._is_ip(host):
            addrs = [host]
        else:
            if resolver is None:
                raise ValueError(f"no resolver for the control host {host!r}")
            _, addrs, failure = await dns.lookup(trace, host, timeout=timeout, server=resolver)
            if failure is not None:
                raise errors.DNSFailure(failure, f"resolving the control host {host}: {failure}")
        out = http.FetchResult()
        conn, failure, raw = await http.open_conn(trace, u.scheme, host, port, addrs, settings, out)
        if conn is None:
            raise _Failed(failure or F.GENERIC_TIMEOUT, raw or "")
        try:
            body = orjson.dumps(payload)
            path = (u.path or "/") + (f"?{u.query}" if u.query else "")
            host_header = host if port in (80, 443) else f"{host}:{port}"
            head = (f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: application/json\r\n"
                    f"Accept: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            await conn.write(head.encode() + body, settings.timeouts.http_headers)
            status = await conn.readline(settings.timeouts.http_headers)
            parts = status.split()
            if len(parts) < 2 or not parts[1].isdigit():
                raise errors.HTTPProtocolError(f"bad status line {status[:80]!r}")
            resp = http.Response(int(parts[1]), "", [])
            while (line := await conn.readline(settings.timeouts.http_headers)) not in (b"\r\n", b"\n"):
                k, _, v = line.decode("latin-1").partition(":")
                resp.headers_list.append((k, v.strip()))
            await http.read_body(conn, resp, settings, time.monotonic() + settings.timeouts.http_body)
        finally:
            await conn.close()
    try:
        return resp.code, orjson.loads(resp.body)
    except orjson.JSONDecodeError as exc:
        raise _Failed(F.JSON_PARSE_ERROR, f"control answered {resp.code} with non-JSON: {exc}") from None


class _Failed(errors.ProbeError):
    def __init__(self, failure: str, text: str) -> None:
        super().__init__(text)
        self.failure = failure


async def ask(
    url: str, target: str, endpoints: list[str], *, settings: http.HTTPSettings,
    resolver: tuple[str, int] | None, timeout: float,
) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """``(control, control_failure, raw)`` for one measurement."""
    try:
        code, obj = await post_json(url, th_request(target, endpoints), settings=settings,
                                    resolver=resolver, timeout=timeout)
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
