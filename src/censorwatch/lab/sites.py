"""What each world host answers over HTTP(S), by ``Host.kind``; DoH for the public resolvers."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import ssl
from collections.abc import Callable

import dns.exception
import dns.message

from censorwatch.lab import addresses as A
from censorwatch.lab import http11, pages
from censorwatch.lab.world import Host

SITE_HEADERS = {"Server": "lab-httpd", "X-Lab-Site": "1"}
_REDIRECTS = {"/21645": "https://www.example.com/", "/32447": "http://www.example.com/"}


def route(host: Host, req: http11.Request, client: str, scheme: str,
          doh: Callable[[bytes], bytes] | None) -> bytes:
    head = req.method == "HEAD"
    name = req.headers.get("host", host.names[0] if host.names else host.address).split(":")[0]
    h = dict(SITE_HEADERS)
    if host.kind == "doh" and doh is not None:
        return _doh(req, doh)
    if host.kind == "blockpage":
        return http11.response(403, pages.BLOCKPAGE_HTML, {"Server": "censor"}, head_only=head)
    if host.kind == "redirector":
        loc = _REDIRECTS.get(req.path)
        if loc is None and req.path == "/":
            loc = "https://www.example.com/"
        if loc is None:
            return http11.response(404, pages.not_found(req.path), h, head_only=head)
        return http11.response(301, b"", {**h, "Location": loc}, head_only=head)
    if host.kind == "largefile":
        return http11.response(200, pages.largefile(name), h, head_only=head)
    if host.kind == "httpbin":
        if req.path == "/broken-redirect-http":
            return http11.response(302, b"", {**h, "Location": "http://"}, head_only=head)
        if req.path == "/broken-redirect-https":
            return http11.response(302, b"", {**h, "Location": "https://"}, head_only=head)
        m = re.fullmatch(r"/redirect/(\d{1,3})", req.path)
        if m:
            n = int(m.group(1))
            loc = "/get" if n <= 1 else f"/redirect/{n - 1}"
            return http11.response(302, b"", {**h, "Location": loc}, head_only=head)
        if req.path == "/get":
            body = json.dumps({"url": f"{scheme}://{name}{req.target}", "origin": client}).encode()
            return http11.response(200, body, {**h, "Content-Type": "application/json"}, head_only=head)
    if host.kind == "cloudflare":
        h = {"Server": "cloudflare", "CF-RAY": "lab-0000", "X-Lab-Site": "1"}
        if A.is_isp_client(client):
            return http11.response(403, pages.captcha(name), {**h, "cf-mitigated": "challenge"}, head_only=head)
    return http11.response(200, pages.page(name, host.title, req.path), h, head_only=head)


def _doh(req: http11.Request, resolve: Callable[[bytes], bytes]) -> bytes:
    ctype = {"Content-Type": "application/dns-message", "Server": "lab-doh"}
    if req.path != "/dns-query":
        return http11.response(404, pages.not_found(req.path))
    try:
        if req.method == "POST":
            wire = req.body
        elif req.method == "GET":
            q = dict(p.split("=", 1) for p in req.query.split("&") if "=" in p)
            wire = base64.urlsafe_b64decode(q.get("dns", "") + "=" * (-len(q.get("dns", "")) % 4))
        else:
            return http11.response(405, b"")
        return http11.response(200, resolve(wire), ctype)
    except (ValueError, dns.exception.DNSException):
        return http11.response(400, b"bad DNS query\n")


class SiteServer:
    """Accepts on one (address, port); TLS contexts are picked per address (and SNI for @badssl)."""

    def __init__(self, host: Host, tls: Callable[[], ssl.SSLContext] | None,
                 doh: Callable[[bytes], bytes] | None) -> None:
        self.host, self.tls_factory, self.doh = host, tls, doh
        self._tls: ssl.SSLContext | None = None

    @property
    def tls(self) -> ssl.SSLContext | None:
        """Built on first use: loading ~60 certificates at start-up would slow every world down."""
        if self._tls is None and self.tls_factory is not None:
            self._tls = self.tls_factory()
        return self._tls

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            client = writer.get_extra_info("peername")[0]
            tls = self.tls
            if tls is not None:  # patient, like real servers: the probe's own timeouts must fire first
                async with asyncio.timeout(http11.READ_TIMEOUT):
                    await writer.start_tls(tls)
            req = await http11.read_request(reader)
            if req is None:
                await http11.send(writer, http11.response(400, b"bad request\n"))
                return
            await http11.send(writer, route(self.host, req, client, "https" if tls else "http", self.doh))
        except (OSError, TimeoutError, ssl.SSLError, ValueError):
            pass
        finally:
            writer.close()


async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Messaging endpoints on non-HTTP ports: accept, greet, hang up."""
    try:
        await http11.send(writer, b"censorwatch-lab\r\n", timeout=5)
        async with asyncio.timeout(5):
            await reader.read(1024)
    except (OSError, TimeoutError):
        pass
    finally:
        writer.close()
