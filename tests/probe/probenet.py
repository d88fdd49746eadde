"""Loopback test network for the probe and the control server: a test CA, DNS servers, and HTTP(S)
servers that misbehave on purpose. Real sockets on 127.0.0.x only."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = dt.datetime.now(dt.UTC)

# --------------------------------------------------------------------------------------------- certs


@dataclass
class CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def make(cls, name: str) -> CA:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=30)).not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, names: list[str], *, ips: list[str] = (), days_valid: tuple[int, int] = (-1, 365)) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (names or list(ips))[0])]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW + dt.timedelta(days=days_valid[0]))
            .not_valid_after(NOW + dt.timedelta(days=days_valid[1]))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return (cert.public_bytes(serialization.Encoding.PEM),
                key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def server_context(tmp: Path, name: str, cert_key: tuple[bytes, bytes]) -> ssl.SSLContext:
    cert, key = cert_key
    cp, kp = tmp / f"{name}.crt", tmp / f"{name}.key"
    cp.write_bytes(cert)
    kp.write_bytes(key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cp, kp)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


# ----------------------------------------------------------------------------------------------- DNS

#: a zone rule: list of IPs, or "nxdomain" | "servfail" | "refused" | "timeout" | "wrongid" | "garbage"
Rule = list[str] | str


class DNSServer(asyncio.DatagramProtocol):
    def __init__(self, zone: dict[str, Rule], delay: float = 0.0) -> None:
        self.zone = zone
        self.delay = delay
        self.transport: Any = None
        self.queries: list[tuple[str, str]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.delay:
            asyncio.get_running_loop().call_later(self.delay, self._answer, data, addr)
        else:
            self._answer(data, addr)

    def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        q = dns.message.from_wire(data)
        qname = q.question[0].name.to_text().rstrip(".").lower()
        qtype = q.question[0].rdtype
        self.queries.append((qname, dns.rdatatype.to_text(qtype)))
        rule = self.zone.get(qname, "nxdomain")
        r = dns.message.make_response(q)
        if rule == "timeout":
            return
        if rule == "garbage":
            self.transport.sendto(data[:2] + b"\x81", addr)
            return
        if rule == "nxdomain":
            r.set_rcode(dns.rcode.NXDOMAIN)
        elif rule == "servfail":
            r.set_rcode(dns.rcode.SERVFAIL)
        elif rule == "refused":
            r.set_rcode(dns.rcode.REFUSED)
        elif rule == "wrongid":
            r.id = (q.id + 1) % 65536
            self.transport.sendto(r.to_wire(), addr)
            return
        else:
            assert isinstance(rule, list)
            want = [ip for ip in rule if (":" in ip) == (qtype == dns.rdatatype.AAAA)]
            if qtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and want:
                r.answer.append(dns.rrset.from_text_list(q.question[0].name, 60, "IN",
                                                         dns.rdatatype.to_text(qtype), want))
        self.transport.sendto(r.to_wire(), addr)


async def start_dns(zone: dict[str, Rule], host: str = "127.0.0.53", delay: float = 0.0) -> tuple[DNSServer, str]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: DNSServer(zone, delay), local_addr=(host, 0))
    port = transport.get_extra_info("sockname")[1]
    return proto, f"{host}:{port}"


# ---------------------------------------------------------------------------------------------- HTTP

PAGE = (b"<!doctype html><html><head><title>Welcome to the censorwatch test site</title></head>"
        b"<body><h1>Hello</h1><p>" + b"Lorem ipsum dolor sit amet. " * 40 + b"</p></body></html>")
BLOCKPAGE = (b"<html><head><title>Blocked by the lab censor</title>"
             b"<meta name=\"censorwatch-blockpage\" content=\"lab\"></head><body>Access denied</body></html>")
HUGE = 1024 * 1024


def response(code: int, body: bytes, headers: list[tuple[str, str]] | None = None,
             reason: str = "OK") -> bytes:
    hs = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
          ("X-Censorwatch-Test", "1")]
    hs += headers or []
    head = f"HTTP/1.1 {code} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs) + "\r\n"
    return head.encode() + body


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    line = await reader.readline()
    parts = line.decode().split()
    headers: dict[str, str] = {}
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = await reader.readexactly(n) if n else b""
    return (parts[1] if len(parts) > 1 else "/"), headers, body


PUBLIC_IP = "203.0.113.7"  # documentation address: the probe's emulated public address (never contacted)


def doh_answer(body: bytes) -> bytes:
    """RFC 8484 answer from the uncensored zone."""
    server = DNSServer(UNCENSORED_ZONE)
    out: list[bytes] = []

    class _T:
        def sendto(self, data: bytes, addr: object) -> None:
            out.append(data)

    server.transport = _T()  # type: ignore[assignment]
    server._answer(body, ("doh", 0))
    if not out:
        return response(504, b"timeout")
    return response(200, out[0], [("X-Kind", "dns")]).replace(
        b"Content-Type: text/html; charset=utf-8", b"Content-Type: application/dns-message")


def reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def site_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, page: bytes = PAGE) -> None:
    """The misbehaving web site: what it does depends on the path."""
    try:
        path, headers, body = await _read_request(reader)
        if path == "/reset":
            reset(writer)
            return
        if path == "/close":
            writer.close()
            return
        if path.startswith("/hang"):
            await asyncio.sleep(3600)
        if path.startswith("/slow"):
            await asyncio.sleep(0.3)
        if path == "/loop":
            writer.write(response(302, b"", [("Location", "/loop")], "Found"))
        elif path == "/redirect":
            writer.write(response(302, b"", [("Location", "/cookie"), ("Set-Cookie", "session=s3cret; Path=/")],
                                  "Found"))
        elif path == "/cookie":
            ok = "session=s3cret" in headers.get("cookie", "")
            writer.write(response(200 if ok else 403, b"cookie ok" if ok else b"no cookie"))
        elif path == "/huge":
            writer.write(response(200, b"x" * HUGE))
        elif path == "/huge-close":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"y" * HUGE)
        elif path == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for part in (b"hello ", b"chunked ", b"world"):
                writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            writer.write(b"0\r\n\r\n")
        elif path == "/garbage":
            writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        elif path == "/echo-ip":
            peer = writer.get_extra_info("peername")[0]
            writer.write(response(200, f"<html><title>Your address</title>you are {peer}</html>".encode()))
        elif path == "/dns-query":
            writer.write(doh_answer(body))
        elif path == "/public-ip":
            writer.write(response(200, f"<html><title>Your address</title>you are {PUBLIC_IP}</html>".encode()))
        elif path.startswith("/to/"):  # a redirect to wherever the rest of the path says
            writer.write(response(302, b"", [("Location", unquote(path[4:]))], "Found"))
        elif path == "/offsite":
            writer.write(response(302, b"", [("Location", "http://127.0.0.1:1/")], "Found"))
        elif page is BLOCKPAGE:  # what a middlebox injects: its own headers, no length, then close
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Censor: lab\r\n"
                         b"Connection: close\r\n\r\n" + BLOCKPAGE)
        else:
            writer.write(response(200, page))
        await writer.drain()
        writer.close()
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        writer.close()


async def tls_reset_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads the ClientHello, then resets: what SNI-based blocking does."""
    with contextlib.suppress(OSError):
        await reader.read(1)
        reset(writer)


async def hang_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


@dataclass
class Net:
    """Everything a test needs; addresses are fixed per role, ports chosen at start."""

    tmp: Path
    ca: CA
    ca_file: Path
    http_port: int = 0
    https_port: int = 0
    probe_dns: DNSServer | None = None
    probe_dns_addr: str = ""
    th_dns: DNSServer | None = None
    th_dns_addr: str = ""
    servers: list[asyncio.AbstractServer] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    accepted: dict[str, int] = field(default_factory=dict)
    #: (server ip, client ip) -> connections open now / at most at once
    active: dict[tuple[str, str], int] = field(default_factory=dict)
    max_active: dict[tuple[str, str], int] = field(default_factory=dict)

    def track(self, handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        async def wrapped(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            local = w.get_extra_info("sockname")[0]
            key = (local, w.get_extra_info("peername")[0])
            self.accepted[local] = self.accepted.get(local, 0) + 1
            self.active[key] = self.active.get(key, 0) + 1
            self.max_active[key] = max(self.max_active.get(key, 0), self.active[key])
            self.tasks.add(task)
            try:
                await handler(r, w)
            except asyncio.CancelledError:
                w.close()
            finally:
                self.active[key] -= 1
                self.tasks.discard(task)

        return wrapped

    def url(self, host: str, path: str = "/", https: bool = False) -> str:
        port = self.https_port if https else self.http_port
        return f"{'https' if https else 'http'}://{host}:{port}{path}"

    async def close(self) -> None:
        for s in self.servers:
            s.close()
        for t in list(self.tasks):
            t.cancel()
        for s in self.servers:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(s.wait_closed(), 2)
        for d in (self.probe_dns, self.th_dns):
            if d is not None and d.transport is not None:
                d.transport.close()


# who serves what, by address
HTTP_SITE = "127.0.0.2"
BLOCKPAGE_SITE = "127.0.0.66"
HTTPS_VALID = "127.0.0.3"
HTTPS_EXPIRED = "127.0.0.4"
HTTPS_WRONG_HOST = "127.0.0.5"
HTTPS_UNKNOWN_CA = "127.0.0.6"
TLS_RESET = "127.0.0.7"
TLS_HANG = "127.0.0.8"
NOTHING = "127.0.0.9"  # nothing listens: connection_refused
#: the probe connects from here in tests; the "censoring" sites below misbehave only towards it,
#: the control server (connecting from 127.0.0.1) gets the real site: a censor in the path
PROBE_SRC = "127.0.0.77"
CENSOR_RESET = "127.0.0.20"  # resets the probe's HTTP request
CENSOR_BLOCKPAGE = "127.0.0.21"  # serves the probe a blockpage
CENSOR_TLS = "127.0.0.22"  # resets the probe's TLS ClientHello

UNCENSORED_ZONE: dict[str, Rule] = {
    "ok.test": [HTTP_SITE], "valid.test": [HTTPS_VALID], "expired.test": [HTTPS_EXPIRED],
    "wronghost.test": [HTTPS_WRONG_HOST], "unknownca.test": [HTTPS_UNKNOWN_CA], "tlsreset.test": [TLS_RESET],
    "tlshang.test": [TLS_HANG], "refused.test": [NOTHING], "nx.test": "nxdomain",
    "censored-dns.test": [HTTP_SITE], "censored-nx.test": [HTTP_SITE], "dual.test": [HTTP_SITE, NOTHING],
    "blockpage.test": [HTTP_SITE], "httpreset.test": [CENSOR_RESET], "httpdiff.test": [CENSOR_BLOCKPAGE],
    "tlsblock.test": [CENSOR_TLS],
}
#: the probe's resolver: a censoring one
CENSORED_ZONE: dict[str, Rule] = {
    **UNCENSORED_ZONE,
    "censored-dns.test": [BLOCKPAGE_SITE], "censored-nx.test": "nxdomain", "servfail.test": "servfail",
    "refused-dns.test": "refused", "dnstimeout.test": "timeout", "wrongid.test": "wrongid",
    "garbage.test": "garbage",
}


def censoring(kind: str, tls_ctx: ssl.SSLContext | None = None) -> Callable[..., Awaitable[None]]:
    """A site that misbehaves (``kind``) only towards PROBE_SRC."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        probe = writer.get_extra_info("peername")[0] == PROBE_SRC
        if kind == "tls":
            if probe:
                await tls_reset_handler(reader, writer)
                return
            assert tls_ctx is not None
            await writer.start_tls(tls_ctx)
            await site_handler(reader, writer)
        elif kind == "reset" and probe:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                await _read_request(reader)
                reset(writer)
        else:
            await site_handler(reader, writer, page=BLOCKPAGE if probe else PAGE)

    return handler


async def start_net(tmp: Path) -> Net:
    ca = CA.make("censorwatch test CA")
    ca_file = tmp / "ca.pem"
    ca_file.write_bytes(ca.pem())
    net = Net(tmp, ca, ca_file)
    net.probe_dns, net.probe_dns_addr = await start_dns(CENSORED_ZONE, "127.0.0.53")
    net.th_dns, net.th_dns_addr = await start_dns(UNCENSORED_ZONE, "127.0.0.54")

    first = await asyncio.start_server(net.track(site_handler), HTTP_SITE, 0)
    net.http_port = first.sockets[0].getsockname()[1]
    net.servers.append(first)

    async def blockpage(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await site_handler(r, w, page=BLOCKPAGE)

    net.servers.append(await asyncio.start_server(net.track(blockpage), BLOCKPAGE_SITE, net.http_port))
    other = CA.make("someone else's CA")
    variants = {
        HTTPS_VALID: ca.issue(["valid.test", "dual.test"], ips=[HTTPS_VALID]),
        HTTPS_EXPIRED: ca.issue(["expired.test"], days_valid=(-60, -1)),
        HTTPS_WRONG_HOST: ca.issue(["other.test"]),
        HTTPS_UNKNOWN_CA: other.issue(["unknownca.test"]),
    }
    tls_first = await asyncio.start_server(net.track(site_handler), HTTPS_VALID, 0,
                                           ssl=server_context(tmp, "valid", variants[HTTPS_VALID]))
    net.https_port = tls_first.sockets[0].getsockname()[1]
    net.servers.append(tls_first)
    for ip, ck in variants.items():
        if ip == HTTPS_VALID:
            continue
        net.servers.append(await asyncio.start_server(net.track(site_handler), ip, net.https_port,
                                                      ssl=server_context(tmp, ip, ck)))
    net.servers.append(await asyncio.start_server(net.track(censoring("reset")), CENSOR_RESET, net.http_port))
    net.servers.append(await asyncio.start_server(net.track(censoring("blockpage")), CENSOR_BLOCKPAGE,
                                                  net.http_port))
    tls_ctx = server_context(tmp, "tlsblock", ca.issue(["tlsblock.test"]))
    net.servers.append(await asyncio.start_server(net.track(censoring("tls", tls_ctx)), CENSOR_TLS,
                                                  net.https_port))
    net.servers.append(await asyncio.start_server(net.track(tls_reset_handler), TLS_RESET, net.https_port))
    net.servers.append(await asyncio.start_server(net.track(hang_handler), TLS_HANG, net.https_port))
    return net
