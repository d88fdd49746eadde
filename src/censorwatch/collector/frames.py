"""The link between the writer process and its HTTP front-ends (``collector serve --workers N``):
length-prefixed frames over a Unix socketpair.

A frame is ``u32 length | u8 kind | payload`` (little-endian; ``length`` counts the payload). Kinds:

| kind | direction | payload |
|---|---|---|
| ``HELLO`` | writer -> front | JSON: the configuration, the address to serve, the public key document |
| ``READY`` | front -> writer | empty: listening |
| ``SUBMIT`` | front -> writer | ``u32 id, 32-byte leaf hash, u16 uid length, uid, compressed canonical bytes`` |
| ``RESULT`` | writer -> front | ``u32 id, u8 code`` + the receipt (created, duplicate, conflict) or a reason |
| ``GET`` | front -> writer | ``u32 id`` + ``path \\0 query`` (UTF-8) |
| ``REPLY`` | writer -> front | ``u32 id`` + an encoded ``Reply`` |
| ``STATS`` | both | writer -> front: ``u32 id`` (asks); front -> writer: ``u32 id`` + JSON metrics snapshot |

Frames one side queues in one turn of its event loop go out in one write.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from censorwatch.collector.intake import Reply

HELLO, READY, SUBMIT, RESULT, GET, REPLY, STATS = range(1, 8)
# RESULT codes
CREATED, DUPLICATE, CONFLICT, QUEUE_FULL, STORAGE_ERROR, FAILED = range(6)

_HEAD = struct.Struct("<IB")
_ID = struct.Struct("<I")
_SUBMIT = struct.Struct("<I32sH")
_RESULT = struct.Struct("<IB")
_REPLY = struct.Struct("<IHBB")  # id, status, content type length, header count
_HEADER = struct.Struct("<BH")
MAX_FRAME = 64 * 1024 * 1024


def submit_frame(rid: int, leaf_hash: bytes, uid: str, stored: bytes) -> bytes:
    u = uid.encode()
    return _SUBMIT.pack(rid, leaf_hash, len(u)) + u + stored


def parse_submit(p: bytes) -> tuple[int, bytes, str, bytes]:
    rid, h, n = _SUBMIT.unpack_from(p)
    at = _SUBMIT.size
    return rid, h, p[at : at + n].decode(), p[at + n :]


def result_frame(rid: int, code: int, data: bytes = b"") -> bytes:
    return _RESULT.pack(rid, code) + data


def parse_result(p: bytes) -> tuple[int, int, bytes]:
    rid, code = _RESULT.unpack_from(p)
    return rid, code, p[_RESULT.size :]


def get_frame(rid: int, path: str, query: str) -> bytes:
    return _ID.pack(rid) + path.encode("utf-8", "surrogatepass") + b"\0" + query.encode("utf-8", "surrogatepass")


def parse_get(p: bytes) -> tuple[int, str, str]:
    path, _, query = p[_ID.size :].partition(b"\0")
    return _ID.unpack_from(p)[0], path.decode("utf-8", "surrogatepass"), query.decode("utf-8", "surrogatepass")


def reply_frame(rid: int, reply: Reply) -> bytes:
    status, ctype, body, headers = reply
    parts = [_REPLY.pack(rid, status, len(ctype), len(headers)), ctype]
    for k, v in headers:
        parts += (_HEADER.pack(len(k), len(v)), k, v)
    parts.append(body)
    return b"".join(parts)


def parse_reply(p: bytes) -> tuple[int, Reply]:
    rid, status, nctype, nheaders = _REPLY.unpack_from(p)
    at = _REPLY.size
    ctype = p[at : at + nctype]
    at += nctype
    headers = []
    for _ in range(nheaders):
        nk, nv = _HEADER.unpack_from(p, at)
        at += _HEADER.size
        headers.append((p[at : at + nk], p[at + nk : at + nk + nv]))
        at += nk + nv
    return rid, (status, ctype, p[at:], headers)


def request_id(p: bytes) -> tuple[int, bytes]:
    return _ID.unpack_from(p)[0], p[_ID.size :]


def with_id(rid: int, data: bytes = b"") -> bytes:
    return _ID.pack(rid) + data


class FrameLink(asyncio.Protocol):
    """One end of the link: parses frames (``on_frame``), sends them batched per loop turn."""

    def __init__(self) -> None:
        self.transport: Any = None
        self._buf = bytearray()
        self._out: list[bytes] = []
        self._flush_soon = False
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._out.clear()
        if not self.closed.done():
            self.closed.set_result(None)
        self.on_lost()

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos, end = 0, len(buf)
        while end - pos >= 5:
            size, kind = _HEAD.unpack_from(buf, pos)
            if size > MAX_FRAME:
                self.transport.close()  # the other side is not speaking this protocol
                return
            if end - pos - 5 < size:
                break
            payload = bytes(buf[pos + 5 : pos + 5 + size])
            pos += 5 + size
            self.on_frame(kind, payload)
        del buf[:pos]

    def send(self, kind: int, payload: bytes = b"") -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self._out += (_HEAD.pack(len(payload), kind), payload)
        if not self._flush_soon:
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = False
        out, self._out = self._out, []
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def close(self) -> None:
        if self.transport is not None:
            self._flush()
            self.transport.close()

    # --- for subclasses ------------------------------------------------------------------------------
    def on_frame(self, kind: int, payload: bytes) -> None:
        raise NotImplementedError

    def on_lost(self) -> None:
        """The other side closed (or died)."""
