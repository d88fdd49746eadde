"""The corpus of hostile inputs the fuzz suite and ``benchmarks/adversarial.py`` throw at every entry
point: measurement bodies and raw HTTP requests for the collector, records and files for the reader,
query values for the dashboard and API. Deterministic (seeded); no file of it is stored in the
repository, it is built here so that every shape says what it is."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

POST = "/api/v1/measurements"
BIDI = "\u202e\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u200e\u200f\u061c"


def measurement(i: int, **extra: Any) -> dict[str, Any]:
    """A valid web_connectivity measurement, unique per ``i``."""
    m: dict[str, Any] = {
        "test_name": "web_connectivity", "measurement_start_time": "2024-02-17 10:00:00",
        "input": f"https://site{i}.example/", "probe_cc": "PK", "probe_asn": "AS17557",
        "data_format_version": "0.2.0", "report_id": f"20240217T100000Z_webconnectivity_PK_17557_n1_{i:016d}",
        "test_keys": {"queries": [{"hostname": f"site{i}.example", "query_type": "A", "failure": None,
                                   "answers": [{"answer_type": "A", "ipv4": "93.184.216.34"}]}],
                      "tcp_connect": [], "requests": []},
    }
    m.update(extra)
    return m


def nested(levels: int, leaf: str = "{}") -> bytes:
    return b'{"a":' * levels + leaf.encode() + b"}" * levels


def with_test_keys(raw_test_keys: bytes, i: int = 0, **extra: Any) -> bytes:
    """A measurement whose ``test_keys`` is the given raw JSON (which orjson might not write itself)."""
    base = orjson.dumps(measurement(i, test_keys=None, **extra))
    return base.replace(b'"test_keys":null', b'"test_keys":' + raw_test_keys)


def hostile_bodies(seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """(name, body) for POST /api/v1/measurements: none of them may get a 500 or an empty reply."""
    rng = random.Random(seed)
    yield "valid", orjson.dumps(measurement(rng.randrange(10**9)))
    yield "empty", b""
    yield "whitespace", b"  \n\t "
    yield "not json", b"{not json"
    yield "truncated", orjson.dumps(measurement(1))[:-7]
    yield "top array", b"[]"
    yield "top array of one", b"[" + orjson.dumps(measurement(2)) + b"]"
    yield "top number", b"42"
    yield "top string", b'"x"'
    yield "null", b"null"
    for levels in (200, 254, 255, 300, 600, 1000, 1023, 1024, 1025, 5000):
        yield f"nested {levels}", with_test_keys(b'{"x":' + nested(levels) + b"}", rng.randrange(10**9))
        yield f"nested array {levels}", with_test_keys(b'{"x":' + b"[" * levels + b"]" * levels + b"}")
    yield "nested 300 with a uid", with_test_keys(b'{"x":' + nested(300) + b"}",
                                                  measurement_uid="20240217100000.123456_PK_webconnectivity_00aa")
    for levels in (900, 1000, 1020):  # orjson reads them; the exact-integer check parses again, in Python
        yield f"nested {levels} with a long integer", with_test_keys(
            b'{"x":' + nested(levels) + b',"n":12345678901234567890123}', rng.randrange(10**9))
    yield "5,000-digit integer", with_test_keys(b'{"n":' + b"7" * 5000 + b"}", rng.randrange(10**9))
    for t in ("0001-01-01 00:00:00+01:00", "9999-12-31 23:59:59-01:00", "0000-01-01 00:00:00", "2024-02-30 10:00:00",
              "2024-02-17T10:00:00.123456789Z", "+002024-02-17 10:00:00", "2024-02-17 10:00:00+25:00", " " * 19,
              "2024-02-17 10:00:00\x00", "9" * 1000, "2024-02-17 10:00:00+99:99", "1969-12-31 23:59:59"):
        yield f"time {t[:30]!r}", orjson.dumps(measurement(rng.randrange(10**9), measurement_start_time=t))
    yield "time not a string", orjson.dumps(measurement(3, measurement_start_time=1708164000))
    for big in ("18446744073709551616", "-9223372036854775809", "1" * 5000, "1e999", "-1e999", "1" * 19 + ".5"):
        yield f"number {big[:24]}", with_test_keys(b'{"n":' + big.encode() + b"}", rng.randrange(10**9))
    yield "NaN", with_test_keys(b'{"n":NaN}')
    yield "invalid utf-8", orjson.dumps(measurement(4))[:-2] + b',"z":"\xff\xfe"}'
    yield "lone surrogate", with_test_keys(b'{"s":"\\ud800"}')
    yield "nul bytes", with_test_keys(b'{"s":"a\\u0000b"}', rng.randrange(10**9))
    yield "BOM", b"\xef\xbb\xbf" + orjson.dumps(measurement(5))
    yield "duplicate keys", orjson.dumps(measurement(6))[:-1] + b',"test_name":"tor"}'
    yield "many keys", with_test_keys(b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(50_000)) + b"}",
                                      rng.randrange(10**9))
    yield "long string 300 KiB", with_test_keys(b'{"s":"' + b"a" * 300_000 + b'"}', rng.randrange(10**9))
    yield "long string 300 KiB, year one", orjson.dumps(measurement(
        rng.randrange(10**9), measurement_start_time="0001-01-01 00:00:00+01:00", test_keys={"s": "a" * 300_000}))
    yield "nested 300, 300 KiB", with_test_keys(b'{"s":"' + b"a" * 300_000 + b'","x":' + nested(300) + b"}")
    yield "bidi input", orjson.dumps(measurement(rng.randrange(10**9), input=f"https://{BIDI}moc.elgoog{BIDI}.example/"))
    yield "formula input", orjson.dumps(measurement(rng.randrange(10**9), input="=HYPERLINK(\"http://evil\")"))
    for key, value in (("test_name", ""), ("test_name", "A" * 100), ("test_name", None), ("test_name", ["x"]),
                       ("probe_cc", "ÄÄ"), ("probe_cc", "PKK"), ("probe_asn", True), ("probe_asn", 2**70),
                       ("probe_asn", -1), ("measurement_uid", "../../etc/passwd"), ("measurement_uid", "x" * 500),
                       ("measurement_uid", ""), ("input", 12), ("input", [1, 2]), ("input", {"a": 1}),
                       ("input", "x" * 100_000), ("test_keys", [1]), ("test_keys", "x"), ("annotations", [1]),
                       ("report_id", 5), ("data_format_version", {})):
        yield f"{key}={json.dumps(value)[:30]}", json.dumps(measurement(rng.randrange(10**9), **{key: value})).encode()
    yield "no test_name", orjson.dumps({k: v for k, v in measurement(7).items() if k != "test_name"})
    yield "no start time", orjson.dumps({k: v for k, v in measurement(8).items() if k != "measurement_start_time"})
    yield "no test_keys", orjson.dumps({k: v for k, v in measurement(9).items() if k != "test_keys"})
    for _ in range(20):  # random byte damage of a valid measurement
        body = bytearray(orjson.dumps(measurement(rng.randrange(10**9))))
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        yield "damaged", bytes(body)


@dataclass
class Raw:
    """A raw HTTP exchange: ``replies`` complete answers are expected (0: the client gives up first)."""

    name: str
    data: bytes
    replies: int = 1
    close_after_send: bool = False


def _post(body: bytes, *, headers: str = "", length: bool = True) -> bytes:
    head = f"POST {POST} HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\n{headers}"
    if length:
        head += f"Content-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def hostile_raw_requests() -> Iterator[Raw]:
    """Malformed and abusive HTTP: every one gets a complete answer (or, when the client gives up
    first, the server stays up); never a 500."""
    good = orjson.dumps(measurement(11))
    yield Raw("bad request line", b"GARBAGE\r\n\r\n")
    yield Raw("binary junk", bytes(range(256)) * 4)
    yield Raw("HTTP/0.9", b"GET /\r\n\r\n")
    yield Raw("HTTP/1.0 keep-alive", b"GET /api/v1/log/sth HTTP/1.0\r\n\r\n")
    yield Raw("unknown method", b"BREW /api/v1/measurements HTTP/1.1\r\nHost: c\r\n\r\n")
    yield Raw("negative length", _post(good, headers="Content-Length: -5\r\n", length=False))
    yield Raw("non-numeric length", _post(good, headers="Content-Length: 12abc\r\n", length=False))
    yield Raw("huge length", _post(b"", headers="Content-Length: 99999999999999999999999\r\n", length=False))
    yield Raw("two lengths", _post(good, headers=f"Content-Length: {len(good) + 5}\r\n"))
    yield Raw("length and chunked", _post(b"5\r\nhello\r\n0\r\n\r\n",
                                          headers="Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", length=False))
    yield Raw("bad chunk size", _post(b"zz\r\nhello\r\n0\r\n\r\n", headers="Transfer-Encoding: chunked\r\n",
                                      length=False))
    yield Raw("chunked valid", _post(hex(len(good))[2:].encode() + b"\r\n" + good + b"\r\n0\r\n\r\n",
                                     headers="Transfer-Encoding: chunked\r\n", length=False))
    yield Raw("chunked over the limit", _post(b"".join(b"100000\r\n" + b"a" * 0x100000 + b"\r\n" for _ in range(6))
                                              + b"0\r\n\r\n", headers="Transfer-Encoding: chunked\r\n", length=False))
    yield Raw("head over 64 KiB", b"GET / HTTP/1.1\r\nHost: c\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n")
    yield Raw("many headers", b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(3000)) + b"\r\n")
    yield Raw("url 60 KiB", b"GET /" + b"a" * 60_000 + b" HTTP/1.1\r\nHost: c\r\n\r\n")
    yield Raw("nul in path", b"GET /api/v1/measurements/\x00x HTTP/1.1\r\nHost: c\r\n\r\n")
    yield Raw("percent junk path", b"GET /api/v1/measurements/%ff%00%2e%2e%2f HTTP/1.1\r\nHost: c\r\n\r\n")
    yield Raw("proof junk query", b"GET /api/v1/log/proof/inclusion?uid=%ff&tree_size=-1 HTTP/1.1\r\nHost: c\r\n\r\n")
    yield Raw("proof huge sizes", b"GET /api/v1/log/proof/consistency?first=99999999999999999999&second=1 "
                                  b"HTTP/1.1\r\nHost: c\r\n\r\n")
    yield Raw("upgrade h2c", b"GET / HTTP/1.1\r\nHost: c\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
    yield Raw("expect 100-continue", _post(good, headers="Expect: 100-continue\r\n"))
    yield Raw("pipelined 20", b"".join(b"GET /api/v1/log/sth HTTP/1.1\r\nHost: c\r\n\r\n" for _ in range(20)), replies=20)
    yield Raw("pipelined posts", b"".join(_post(orjson.dumps(measurement(20 + i))) for i in range(5)), replies=5)
    yield Raw("slow loris, then gone", b"POST /api/v1/measurements HTTP/1.1\r\nHost: c\r\nContent-Length: 100\r\n\r\n{",
              replies=0, close_after_send=True)
    yield Raw("head then gone", b"GET / HTTP/1.1\r\nHost", replies=0, close_after_send=True)
    yield Raw("GET with a body", b"GET /api/v1/log/sth HTTP/1.1\r\nHost: c\r\nContent-Length: 5\r\n\r\nhello")
    yield Raw("bad header name", b"GET / HTTP/1.1\r\nHo st: c\r\n\r\n")
    yield Raw("header without colon", b"GET / HTTP/1.1\r\nHost c\r\n\r\n")
    yield Raw("obsolete line folding", b"GET / HTTP/1.1\r\nHost: c\r\nX: a\r\n b\r\n\r\n")
    yield Raw("bare LF", b"GET /api/v1/log/sth HTTP/1.1\nHost: c\n\n")
    for name, body in hostile_bodies(1):
        yield Raw(f"body: {name}", _post(body))


@dataclass
class Reply:
    status: int
    body: bytes


def _read_replies(sock: socket.socket, want: int, timeout: float) -> tuple[list[Reply], bool]:
    """Read ``want`` HTTP responses; (the replies, whether the server closed the connection)."""
    buf = b""
    replies: list[Reply] = []
    deadline = time.monotonic() + timeout
    closed = False
    while len(replies) < want and time.monotonic() < deadline:
        while True:  # parse what is buffered
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = buf[:head_end].decode("latin-1")
            status_line, *lines = head.split("\r\n")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[1].isdigit():
                raise AssertionError(f"not an HTTP status line: {status_line[:80]!r}")
            status = int(parts[1])
            if status == 100:  # 100 Continue: an interim answer
                buf = buf[head_end + 4:]
                continue
            length = next((int(v.split(":", 1)[1]) for v in lines if v.lower().startswith("content-length:")), 0)
            if len(buf) < head_end + 4 + length:
                break
            replies.append(Reply(status, buf[head_end + 4: head_end + 4 + length]))
            buf = buf[head_end + 4 + length:]
        if len(replies) >= want:
            break
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
    return replies, closed


def exchange(host: str, port: int, raw: Raw, timeout: float = 30.0) -> tuple[list[Reply], bool]:
    """Send one raw exchange on a fresh connection; (the complete replies read, closed by the server)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may answer (and close) before all is sent
            sock.sendall(raw.data)
        if raw.close_after_send:
            return [], False
        return _read_replies(sock, raw.replies, timeout)


#: values for every query parameter of the dashboard and the API
HOSTILE_QUERY_VALUES = [
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0000-00-00", "2024-02-30", "1e999", "-1", "0",
    "4294967296", "AS4294967296", "AS99999999999", "as0", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:x", "http://", "https://a b/", "x.com\u202egoogle",
    "\u202ex.com", "x.com%00", "x.com\x00", "<script>alert(1)</script>", "\"'><img src=x onerror=alert(1)>",
    "../../etc/passwd", "%2e%2e%2f", "a" * 5000, "PK\r\nSet-Cookie: x=y", "ZZ", "pk", "P", "ÄÖ", "１２３",
    "NaN", "Infinity", "true", "null", "[]", "{}", "=1+1", "@SUM(A1)", "+1", "-1", "\t=1", "\u0000",
    "\ud7ff", "😀" * 10, "x" * 254 + ".com", "xn--", "xn--zz", "a..b", ".", "*", "%", "_", "'", "\\",
]


def mutate(rng: random.Random, line: bytes) -> bytes:
    """``line`` with a few random byte flips, insertions (brackets, quotes, U+202E...) and deletions,
    still one line."""
    b = bytearray(line)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(4)
        i = rng.randrange(len(b)) if b else 0
        if op == 0 and b:
            b[i] = rng.randrange(256)
        elif op == 1:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif op == 2 and b:
            del b[i: i + rng.randint(1, 8)]
        else:
            b[i:i] = rng.choice([b"{", b"[", b'"', b"\\", b"\xff", b"\x00", b"\r", b"\xe2\x80\xae"])
    return bytes(b).replace(b"\n", b" ")


def peak_rss_mb(*args: str | Path) -> tuple[int, str]:
    """Run ``censorwatch ARGS`` in a fresh interpreter; its own peak RSS (MiB) and its stderr."""
    import os
    import subprocess
    import sys

    code = ("import resource, sys\nfrom censorwatch.cli import main\nsys.argv = ['censorwatch', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"), "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env,
                       timeout=900)
    return next(int(ln.split()[1]) for ln in r.stderr.splitlines() if ln.startswith("PEAK ")), r.stderr


def huge_line_files(d: Path, before: bytes, after: bytes) -> tuple[Path, Path, Path]:
    """A 1 MB ``.jsonl.gz`` holding one 1 GiB line, a plain file with a 200 MB line (each between the
    records ``before`` and ``after``), and a small file of ``before`` and ``after`` alone."""
    import zlib

    head = before + b"\n" + b'{"test_name": "web_connectivity", "input": "'
    tail = b'"}\n' + after + b"\n"
    gz = d / "one-gib-line.jsonl.gz"
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"a" * 2**20
    with gz.open("wb") as fh:
        fh.write(comp.compress(head))
        for _ in range(1024):
            fh.write(comp.compress(chunk))
        fh.write(comp.compress(tail) + comp.flush())
    plain = d / "line-200mb.jsonl"
    with plain.open("wb") as fh:
        fh.write(head)
        for _ in range(200):
            fh.write(b"b" * 10**6)
        fh.write(tail)
    small = d / "small.jsonl"
    small.write_bytes(before + b"\n" + after + b"\n")
    return gz, plain, small
