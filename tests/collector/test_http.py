"""The collector's own HTTP/1.1 server (collector/http.py) over raw loopback sockets: keep-alive,
pipelining, body limits (Content-Length and chunked), malformed requests, 429, Expect, HEAD, HTTP/1.0."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from censorwatch.collector.app import CollectorConfig
from collector.helpers import lean_server, make_measurement

POST = "/api/v1/measurements"
Answer = tuple[int, dict[str, str], bytes]


class Raw:
    """One TCP connection; reads answers by their Content-Length."""

    def __init__(self, url: str) -> None:
        host, port = url.split("//")[1].split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=20)
        self.f = self.sock.makefile("rb")

    def send(self, data: bytes) -> Raw:
        self.sock.sendall(data)
        return self

    def answer(self, *, head: bool = False) -> Answer:
        line = self.f.readline()
        assert line.startswith(b"HTTP/1.1 "), line
        status = int(line[9:12])
        headers: dict[str, str] = {}
        while (h := self.f.readline()) not in (b"\r\n", b""):
            k, v = h.decode("latin-1").split(":", 1)
            headers[k.strip().lower()] = v.strip()
        body = b"" if head or status == 100 else self.f.read(int(headers["content-length"]))
        return status, headers, body

    def closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.f.close()
        self.sock.close()


def post(body: bytes, extra: str = "") -> bytes:
    return (f"POST {POST} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n{extra}\r\n").encode() + body


def get(path: str, version: str = "1.1", method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nhost: x\r\n\r\n".encode()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    where: Path = tmp_path_factory.mktemp("http") / "cw.duckdb.evidence"
    with lean_server(CollectorConfig(evidence_dir=where, client_rate=0, max_body_bytes=64 * 1024)) as u:
        yield u


def test_keep_alive_and_pipelined_requests_are_answered_in_order(url: str) -> None:
    a, b = orjson.dumps(make_measurement(1)), orjson.dumps(make_measurement(2))
    c = Raw(url)
    # four requests in one write: answered one by one, in order, on the same connection
    c.send(post(a) + post(b) + post(a) + get("/api/v1/log/sth"))
    answers = [c.answer() for _ in range(4)]
    assert [s for s, _, _ in answers] == [201, 201, 200, 200]
    first, second, dup = (orjson.loads(x[2]) for x in answers[:3])
    assert first["receipt"]["leaf_index"] + 1 == second["receipt"]["leaf_index"]
    assert dup == first
    assert orjson.loads(answers[3][2])["tree_size"] >= 2
    assert all("date" in h and h["content-type"] == "application/json" for _, h, _ in answers)
    # and the connection is still good for more, byte-exact bodies included
    status, _, body = c.send(get(f"{POST}/{first['measurement_uid']}")).answer()
    assert status == 200 and orjson.loads(body) == make_measurement(1)
    status, headers, body = c.send(get("/api/v1/log/sth", method="HEAD") + get("/api/v1/log/key")).answer(head=True)
    assert status == 200 and int(headers["content-length"]) > 0
    assert c.answer()[0] == 200  # the HEAD sent no body: the next answer parses
    c.close()


def test_body_limits_and_bad_bodies(url: str) -> None:
    c = Raw(url)
    status, _, body = c.send(post(b"{not json")).answer()
    assert status == 400 and orjson.loads(body)["error"] == "invalid_json"
    status, _, body = c.send(post(b"")).answer()
    assert status == 400 and orjson.loads(body)["error"] == "empty_body"
    # still the same connection; now one declared over the limit: 413, then the connection closes
    big = b"x" * (64 * 1024 + 1)
    status, headers, body = c.send(post(big)).answer()
    assert status == 413 and orjson.loads(body)["error"] == "too_large" and headers["connection"] == "close"
    assert c.closed()
    c.close()

    # chunked: a good one is stored, one growing over the limit is refused while streaming
    m = orjson.dumps(make_measurement(3))
    chunked = f"POST {POST} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n".encode()
    half = len(m) // 2
    good = chunked + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, m[:half], len(m) - half, m[half:])
    c = Raw(url)
    status, _, body = c.send(good).answer()
    assert status == 201, body
    piece = b"y" * 16384
    c.send(chunked + (b"%x\r\n%s\r\n" % (len(piece), piece)) * 5 + b"0\r\n\r\n")
    status, headers, body = c.answer()
    assert status == 413 and headers["connection"] == "close"
    c.close()

    for length in (b"-1", b"abc", b"99999999999999999999999"):
        c = Raw(url)
        c.send(b"POST " + POST.encode() + b" HTTP/1.1\r\nhost: x\r\ncontent-length: " + length + b"\r\n\r\n{}")
        status, _, body = c.answer()
        assert status in (400, 413), (length, status)
        assert orjson.loads(body)["error"]
        c.close()


def test_malformed_and_odd_requests(url: str) -> None:
    for junk in (b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nbad header line\r\n\r\n", b"\x00\xff" * 20 + b"\r\n\r\n"):
        c = Raw(url)
        status, headers, body = c.send(junk).answer()
        assert status == 400 and orjson.loads(body)["error"] == "bad_request" and headers["connection"] == "close"
        assert c.closed()
        c.close()
    c = Raw(url)
    status, _, _ = c.send(b"GET /metrics HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n").answer()
    assert status == 431
    c.close()

    c = Raw(url)
    status, _, body = c.send(get("/nope")).answer()
    assert status == 404 and orjson.loads(body)["error"] == "not_found"
    status, headers, _ = c.send(b"DELETE /api/v1/log/sth HTTP/1.1\r\nhost: x\r\n\r\n").answer()
    assert status == 405 and headers["allow"] == "GET"
    status, headers, _ = c.send(get(POST)).answer()
    assert status == 405 and headers["allow"] == "POST"
    status, _, _ = c.send(get("/api/v1/measurements/%00%2F..%2Fx")).answer()
    assert status == 404
    status, _, _ = c.send(get("/api/v1/log/proof/inclusion?uid=" + "x" * 3000 + "&tree_size=" + "9" * 40)).answer()
    assert status == 400
    # Expect: 100-continue gets the interim answer, then the real one
    m = orjson.dumps(make_measurement(4))
    c.send(f"POST {POST} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(m)}\r\nexpect: 100-continue\r\n\r\n".encode())
    assert c.answer()[0] == 100
    assert c.send(m).answer()[0] == 201
    c.close()

    # HTTP/1.0 without keep-alive: answered, then closed
    c = Raw(url)
    status, headers, _ = c.send(get("/api/v1/log/sth", version="1.0")).answer()
    assert status == 200 and headers["connection"] == "close" and c.closed()
    c.close()
    # a protocol upgrade we do not do: answered in HTTP/1.1, then closed
    c = Raw(url)
    c.send(b"GET /api/v1/log/sth HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n")
    assert c.answer()[0] in (200, 400) and c.closed()
    c.close()


def test_rate_limit_answers_429_and_keeps_the_connection(tmp_path: Path) -> None:
    config = CollectorConfig(evidence_dir=tmp_path / "ev", client_rate=0.5, client_burst=1)
    with lean_server(config) as u:
        c = Raw(u)
        assert c.send(post(orjson.dumps(make_measurement(1)))).answer()[0] == 201
        status, headers, body = c.send(post(orjson.dumps(make_measurement(2)))).answer()
        assert status == 429 and orjson.loads(body)["error"] == "rate_limited" and int(headers["retry-after"]) >= 1
        assert c.send(get("/api/v1/log/sth")).answer()[0] == 200
        metrics = c.send(get("/metrics")).answer()[2].decode()
        assert 'censorwatch_collector_rejected_total{reason="rate_limited"} 1' in metrics
        c.close()


def _exchange(url: str, data: bytes) -> bytes:
    """Send ``data``, half-close, read everything the server answers until it closes."""
    c = Raw(url)
    c.sock.sendall(data)
    c.sock.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while chunk := c.sock.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    c.close()
    return out


def _no_500(out: bytes) -> None:
    for line in out.split(b"\r\n"):
        if line.startswith(b"HTTP/"):
            assert not line.startswith(b"HTTP/1.1 5"), out[:500]


FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_tokens = st.sampled_from([b"GET", b"POST", b"HEAD", b"PUT", b"G\x00T", b""])
_paths = st.sampled_from([POST.encode(), b"/api/v1/log/sth", b"/metrics", b"/api/v1/log/proof/inclusion?uid=%ff&tree_size=-1",
                          b"/" + b"a" * 3000, b"*", b"http://x/api/v1/log/key", b"/%", b""])
_headers = st.lists(st.tuples(st.sampled_from([b"content-length", b"transfer-encoding", b"expect", b"connection",
                                               b"host", b"x", b"content-length "]),
                              st.sampled_from([b"0", b"5", b"-1", b"chunked", b"100-continue", b"close", b"keep-alive",
                                               b"1" * 30, b"\xff", b""])), max_size=4)


@FUZZ
@given(method=_tokens, path=_paths, version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/x"]),
       headers=_headers, body=st.binary(max_size=64), repeat=st.integers(1, 3))
def test_hostile_requests_never_get_a_500(url: str, method: bytes, path: bytes, version: bytes,
                                          headers: list[tuple[bytes, bytes]], body: bytes, repeat: int) -> None:
    head = method + b" " + path + b" " + version + b"\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    _no_500(_exchange(url, (head + b"\r\n" + body) * repeat))


@FUZZ
@given(data=st.binary(max_size=512))
def test_arbitrary_bytes_never_get_a_500(url: str, data: bytes) -> None:
    _no_500(_exchange(url, data))
    _no_500(_exchange(url, b"GET /api/v1/log/sth HTTP/1.1\r\n" + data))


def test_still_serving_after_the_fuzzing(url: str) -> None:
    out = _exchange(url, get("/api/v1/log/sth"))
    assert out.startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("processes", ["1", "2"])
def test_sigterm_under_load_stops_the_server_cleanly(tmp_path: Path, processes: str) -> None:
    import signal
    import threading

    from collector.helpers import CollectorProcess

    for round_ in range(3):
        proc = CollectorProcess(tmp_path / f"t{round_}.duckdb", None, "--client-rate", "0", "--workers", processes).start()
        stop = threading.Event()

        def load(url: str = proc.url, k: int = round_, stop: threading.Event = stop) -> None:
            i = 0
            while not stop.is_set():
                try:
                    c = Raw(url)
                    c.send(post(orjson.dumps(make_measurement(k * 100_000 + i)))).answer()
                    c.close()
                except (OSError, AssertionError):  # refused, reset, or closed before the request was read
                    return
                i += 1

        workers = [threading.Thread(target=load) for _ in range(8)]
        for w in workers:
            w.start()
        import time

        time.sleep(0.5)
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        try:
            assert proc.proc.wait(20) == 0, proc.log.read_text()
        finally:
            stop.set()
            for w in workers:
                w.join(10)
            proc.kill()


def test_idle_and_trickling_connections_are_closed(tmp_path: Path) -> None:
    import time

    config = CollectorConfig(evidence_dir=tmp_path / "ev", client_rate=0)
    with lean_server(config, keep_alive=1.0, request_timeout=1.5) as u:
        idle, slow = Raw(u), Raw(u)
        assert idle.send(get("/api/v1/log/sth")).answer()[0] == 200
        head = b"GET /api/v1/log/sth HTTP/1.1\r\nx-slow: "
        t0, closed = time.monotonic(), False
        for i in range(40):  # a byte every 0.1 s: activity, but the request never completes
            try:
                slow.sock.sendall(head[i : i + 1] if i < len(head) else b"a")
            except OSError:
                closed = True
                break
            time.sleep(0.1)
            slow.sock.settimeout(0.01)
            try:
                if slow.sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed and time.monotonic() - t0 < 3.9, "a request trickling in was never dropped"
        idle.sock.settimeout(5)
        assert idle.sock.recv(1) == b"", "an idle keep-alive connection was never closed"
        idle.close()
        slow.close()
