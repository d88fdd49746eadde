"""A minimal HTTP/1.1 server side: one request per connection, every wait bounded."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from email.utils import formatdate

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024
READ_TIMEOUT = 45.0  # longer than any probe timeout: a dropped flow must look silent
_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 415: "Unsupported Media Type"}


@dataclass(slots=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""


async def read_request(reader: asyncio.StreamReader, first: bytes = b"") -> Request | None:
    buf = first
    async with asyncio.timeout(READ_TIMEOUT):
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD:
                return None
            chunk = await reader.read(65536)
            if not chunk:
                return None
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length < 0 or length > MAX_BODY:
            return None
        while len(rest) < length:
            chunk = await reader.read(length - len(rest))
            if not chunk:
                return None
            rest += chunk
    return Request(parts[0].upper(), parts[1], headers, rest[:length])


def response(status: int, body: bytes, headers: dict[str, str] | None = None, *, head_only: bool = False) -> bytes:
    h = {"Date": formatdate(usegmt=True), "Content-Type": "text/html; charset=utf-8",
         "Content-Length": str(len(body)), "Connection": "close"}
    h.update(headers or {})
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"] + [f"{k}: {v}" for k, v in h.items()]
    out = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return out if head_only else out + body


async def send(writer: asyncio.StreamWriter, data: bytes, timeout: float = 60.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            writer.write(data)
            await writer.drain()
    except (OSError, TimeoutError):
        pass
