"""A small HTTP/1.1 client on asyncio streams, built to measure rather than to browse.

One connection per request (``Connection: close``), GET with up to ``max_redirects`` redirects and a
cookie jar, chunked and content-length bodies, a body cap (``body_is_truncated``), and a timeout per
phase (connect, TLS, request-to-headers, body). Every byte read is a ``network_events`` entry
(through ``tcp.Conn``) and every failure is mapped once by ``errors``. Entries come out in OONI's
``requests[]`` shape, newest first.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from censorwatch.model import failures as F
from censorwatch.model.addresses import AddressPolicy
from censorwatch.probe import errors, tcp, tls
from censorwatch.probe.netpolicy import parse_ip
from censorwatch.probe.tcp import Conn, HostLimiter
from censorwatch.probe.timeouts import Timeouts
from censorwatch.probe.trace import Trace

BODY_CAP = 512 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
DEFAULT_HEADERS: tuple[tuple[str, str], ...] = (
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-US;q=0.8,en;q=0.5"),
    ("User-Agent", USER_AGENT),
)

#: ``resolve(host) -> (addresses, failure)``; addresses in the order to try.
Resolve = Callable[[str], Awaitable[tuple[list[str], str | None]]]
#: ``tags_for(depth)`` -> the OONI ``tags`` of the steps of the redirect chain's ``depth``-th request
Tags = Callable[[int], list[str]]


@dataclass
class HTTPSettings:
    timeouts: Timeouts = field(default_factory=Timeouts)
    policy: AddressPolicy = field(default_factory=AddressPolicy)
    trust: tls.TrustStore = field(default_factory=tls.TrustStore)
    limiter: HostLimiter | None = None
    body_cap: int = BODY_CAP
    max_redirects: int = 10
    headers: tuple[tuple[str, str], ...] = DEFAULT_HEADERS
    #: local address to connect from (None: the kernel's choice)
    source_address: str | None = None


@dataclass
class Response:
    code: int
    reason: str
    headers_list: list[tuple[str, str]]
    body: bytes = b""
    truncated: bool = False

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers_list:
            if k.lower() == lname:
                return v
        return None


class CookieJar:
    """Just enough of RFC 6265 for redirect chains: domain/path matching, ``Max-Age=0`` deletes."""

    def __init__(self) -> None:
        self._jar: dict[tuple[str, str, str], str] = {}

    def store(self, host: str, path: str, set_cookie_values: list[str]) -> None:
        for value in set_cookie_values:
            c: SimpleCookie = SimpleCookie()
            try:
                c.load(value)
            except CookieError:
                continue
            for name, morsel in c.items():
                domain = (morsel["domain"] or host).lstrip(".").lower()
                if not (host == domain or host.endswith("." + domain)):
                    continue
                cpath = morsel["path"] or (path.rsplit("/", 1)[0] or "/")
                key = (domain, cpath, name)
                if morsel["max-age"] in ("0", "-1"):
                    self._jar.pop(key, None)
                else:
                    self._jar[key] = morsel.value

    def header(self, host: str, path: str) -> str | None:
        pairs = [
            f"{name}={value}"
            for (domain, cpath, name), value in self._jar.items()
            if (host == domain or host.endswith("." + domain)) and path.startswith(cpath)
        ]
        return "; ".join(pairs) or None


_PATH_SAFE = "/%?=&;:@!$'()*+,~-._#[]"


def _target(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, path?query)``; ValueError for what we cannot fetch."""
    u = urlsplit(url)
    if u.scheme not in ("http", "https"):
        raise errors.InvalidRedirect(f"unsupported scheme in {url!r}")
    host = u.hostname
    if not host:
        raise errors.InvalidRedirect(f"no host in {url!r}")
    if not host.isascii():  # IDNA: the Host header, SNI and DNS all carry the A-label
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise errors.InvalidRedirect(f"host {host!r} is not a valid internationalised name") from exc
    port = u.port or (443 if u.scheme == "https" else 80)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    if not path.isascii():  # what a browser sends: UTF-8 percent-encoded
        path = quote(path, safe=_PATH_SAFE)
    return u.scheme, host.lower(), port, path


async def exchange(
    conn: Conn, method: str, host_header: str, path: str, headers: list[tuple[str, str]],
    settings: HTTPSettings,
) -> Response:
    """Send one request on ``conn`` and read the response (body capped)."""
    t = settings.timeouts
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host_header}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines += ["Connection: close", "", ""]
    await conn.write("\r\n".join(lines).encode("latin-1"), t.http_headers)
    deadline = time.monotonic() + t.http_headers
    status = await conn.readline(_left(deadline))
    parts = status.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise errors.HTTPProtocolError(f"bad status line {status[:80]!r}")
    code, reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
    hlist: list[tuple[str, str]] = []
    while True:
        line = await conn.readline(_left(deadline))
        if line in (b"\r\n", b"\n"):
            break
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip():
            raise errors.HTTPProtocolError(f"bad header line {line[:80]!r}")
        hlist.append((name, value.strip()))
        if len(hlist) > 256:
            raise errors.HTTPProtocolError("more than 256 header lines")
    resp = Response(code, reason, hlist)
    if method == "HEAD" or code in (204, 304) or 100 <= code < 200:
        return resp
    await read_body(conn, resp, settings, time.monotonic() + t.http_body)
    return resp


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("phase deadline passed")
    return left


async def read_body(conn: Conn, resp: Response, settings: HTTPSettings, deadline: float) -> None:
    cap = settings.body_cap
    body = bytearray()
    te = (resp.header("Transfer-Encoding") or "").lower()
    cl = resp.header("Content-Length")
    if "chunked" in te:
        while True:
            size_line = await conn.readline(_left(deadline))
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise errors.HTTPProtocolError(f"bad chunk size {size_line[:40]!r}") from None
            if size == 0:
                break  # trailers are not read: the connection is closed anyway
            room = cap - len(body)
            if size > room:
                body += await conn.readexactly(room, _left(deadline)) if room > 0 else b""
                resp.truncated = True
                break
            body += await conn.readexactly(size, _left(deadline))
            await conn.readexactly(2, _left(deadline))
    elif cl is not None:
        if not cl.strip().isdigit():
            raise errors.HTTPProtocolError(f"bad Content-Length {cl!r}")
        n = int(cl)
        body += await conn.readexactly(min(n, cap), _left(deadline))
        resp.truncated = n > cap
    else:
        while len(body) <= cap:
            chunk = await conn.read_chunk(_left(deadline))
            if not chunk:
                break
            body += chunk
        if len(body) > cap:
            del body[cap:]
            resp.truncated = True
    resp.body = bytes(body)


def body_field(body: bytes) -> str | dict[str, str]:
    """OONI's body spelling: text when it is UTF-8, else ``{"format": "base64", "data": ...}``."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return {"format": "base64", "data": base64.b64encode(body).decode()}


def request_entry(
    url: str, address: str | None, headers: list[tuple[str, str]], resp: Response | None,
    failure: str | None, raw: str | None, t0: float, t: float, tid: int | None,
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "body": None, "body_is_truncated": False, "code": 0, "headers_list": [], "headers": {},
    }
    if resp is not None:
        response = {
            "body": body_field(resp.body),
            "body_is_truncated": resp.truncated,
            "code": resp.code,
            "headers_list": [[k, v] for k, v in resp.headers_list],
            "headers": _first_values(resp.headers_list),
        }
    return {
        "network": "tcp",
        "address": address,
        "failure": failure,
        "failure_raw": raw,
        "request": {
            "body": "",
            "body_is_truncated": False,
            "headers_list": [[k, v] for k, v in headers],
            "headers": _first_values(headers),
            "method": "GET",
            "tor": {"exit_ip": None, "exit_name": None, "is_tor": False},
            "x_transport": "tcp",
            "url": url,
        },
        "response": response,
        "t0": t0,
        "t": t,
        "transaction_id": tid,
    }


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


@dataclass
class FetchResult:
    requests: list[dict[str, Any]] = field(default_factory=list)  # newest first
    tcp_connect: list[dict[str, Any]] = field(default_factory=list)
    tls_handshakes: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    response: Response | None = None
    final_url: str | None = None


async def open_conn(
    trace: Trace, scheme: str, host: str, port: int, addrs: list[str], settings: HTTPSettings,
    out: FetchResult,
) -> tuple[Conn | None, str | None, str | None]:
    """Connect (and handshake for https) to the first address that works: ``(conn, failure, raw)``."""
    failure: str | None = F.unknown("no address to connect to")
    raw: str | None = None
    for ip in addrs:
        entry, conn = await tcp.connect(trace, ip, port, timeout=settings.timeouts.tcp,
                                        policy=settings.policy, limiter=settings.limiter,
                                        source=settings.source_address)
        out.tcp_connect.append(entry)
        if conn is None:
            failure, raw = entry["status"]["failure"], entry["failure_raw"]
            continue
        if scheme == "https":
            hs = await tls.handshake(conn, host, timeout=settings.timeouts.tls, trust=settings.trust)
            out.tls_handshakes.append(hs)
            if hs["failure"] is not None:
                await conn.close()
                failure, raw = hs["failure"], hs["failure_raw"]
                continue
        return conn, None, None
    return None, failure, raw


async def get(
    url: str,
    *,
    trace: Trace,
    resolve: Resolve,
    settings: HTTPSettings,
    jar: CookieJar | None = None,
    first_conn: Conn | None = None,
    tags_for: Tags | None = None,
) -> FetchResult:
    """GET ``url`` following redirects. ``first_conn`` (already connected, TLS done for https) is used
    for the first request instead of a new connection. With ``tags_for``, every connect, handshake and
    request entry carries the tags of its place in the chain (0: ``url`` itself)."""
    jar = jar if jar is not None else CookieJar()
    out = FetchResult()
    current = url
    redirects = 0
    conn = first_conn
    try:
        while True:
            out.final_url = current
            headers = list(settings.headers)
            t0 = trace.now()
            tid: int | None = None
            resp: Response | None = None
            failure = raw = None
            address = None
            n_tcp, n_tls = len(out.tcp_connect), len(out.tls_handshakes)
            try:
                scheme, host, port, path = _target(current)
                cookie = jar.header(host, path.split("?", 1)[0])
                if cookie:
                    headers.append(("Cookie", cookie))
                if conn is None:
                    addrs, dns_failure = ([host], None) if parse_ip(host) else await resolve(host)
                    if dns_failure is not None:
                        failure, raw = dns_failure, f"resolving {host}: {dns_failure}"
                    else:
                        conn, failure, raw = await open_conn(trace, scheme, host, port, addrs, settings, out)
                if conn is not None:
                    address, tid = conn.address, conn.tid
                    host_header = host if port in (80, 443) else f"{host}:{port}"
                    with trace.step("http_transaction", address=address, tid=tid) as res:
                        resp = await exchange(conn, "GET", host_header, path, headers, settings)
                    failure, raw = res.failure, res.raw
            except errors.CAUGHT as exc:
                failure, raw = errors.failure_of(exc)
            finally:
                if conn is not None:
                    await conn.close()
                    conn = None
            entry = request_entry(current, address, headers, resp, failure, raw, t0, trace.now(), tid)
            if tags_for is not None:
                tags = tags_for(redirects)
                for step in (*out.tcp_connect[n_tcp:], *out.tls_handshakes[n_tls:], entry):
                    step["tags"] = list(tags)
            out.requests.insert(0, entry)
            out.response = resp
            if failure is not None or resp is None:
                out.failure = failure
                return out
            jar.store(host, path.split("?", 1)[0],
                      [v for k, v in resp.headers_list if k.lower() == "set-cookie"])
            location = resp.header("Location")
            if resp.code not in REDIRECTS or location is None:
                return out
            if redirects >= settings.max_redirects:
                too_many = errors.TooManyRedirects(settings.max_redirects)
                out.failure = entry["failure"] = too_many.failure
                entry["failure_raw"] = str(too_many)
                return out
            redirects += 1
            nxt = urljoin(current, location.strip())
            try:
                _target(nxt)
            except errors.InvalidRedirect as exc:
                out.failure = entry["failure"] = exc.failure
                entry["failure_raw"] = str(exc)
                return out
            current = nxt
    finally:
        if conn is not None:
            await conn.close()
