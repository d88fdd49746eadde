"""Collector benchmark: sustained submissions/s and latency from 100 concurrent clients, p99 at a fixed
rate, the same after a restart, and a zero-loss check. Our own load generator, never locust:

- ``--client raw`` (default): asyncio protocols on uvloop, one keep-alive HTTP/1.1 connection per
  client, pre-built request heads, parsing only the status line, Content-Length and the body;
- ``--client httpx``: one ``httpx.AsyncClient`` (one keep-alive connection) per client, as the issue
  first named it; httpx alone costs ~2.7 ms of CPU per request, more than the collector.

Either way every answer is checked (status; 200/201 must carry a receipt for the same uid), and at
the end every acknowledged uid is fetched back (``GET /api/v1/measurements/{uid}``, its leaf hash
compared with the receipt's) and the whole log is exported and checked with ``censorwatch verify log``.

    .venv/bin/python benchmarks/collector.py [--clients 100] [--duration 20] [--rate 1000] [--procs 2]
        [--client raw|httpx] [--workers N] [--src DIR]

Measurements are real OONI web_connectivity/tor/openvpn/... measurements from ../shared/data/ooni-samples
(the 4-60 KB ones), each copy made unique (report_id, input, start time) so each is a new log leaf;
their mean size is printed (~10 KB). The collector runs as its own process(es) (``collector serve``,
``--workers N`` passed on when given, else its default: one HTTP front-end process per core plus the
writer process) on 127.0.0.1 with a fresh database and --client-rate 0 (all clients share one address). Load generator
processes (``--procs``) share the same 2 cores as the collector: the numbers are for the whole
machine doing both, and the CPU time per submission of each side is reported (it does not depend on
what else runs). ``--src`` runs another checkout's ``src`` (e.g. ``git worktree add /tmp/before main``)
as the collector, for a before/after comparison with the same load generator. Latency at a fixed rate is measured from each request's scheduled start (open loop,
no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
POST = "/api/v1/measurements"
SRC = Path(os.environ.get("CW_BENCH_SRC") or REPO / "src")  # set by --src (inherited by the workers)
sys.path.insert(0, str(SRC))


def load_templates(samples: Path) -> list[dict[str, Any]]:
    out = []
    for f in sorted(samples.rglob("*.json")):
        data = f.read_bytes()
        try:
            objs = [orjson.loads(data)]
        except orjson.JSONDecodeError:
            continue
        for o in objs:
            if isinstance(o, dict) and 4_000 <= len(data) <= 60_000:
                o.pop("measurement_uid", None)
                out.append(o)
    if not out:
        raise SystemExit(f"no sample measurements under {samples}")
    return out


class Bodies:
    """Unique measurement bodies made on demand (a shallow copy of a template with 4 fields changed,
    ~15 us each), averaging ~10 KB: a mix of the templates biased towards the small ones."""

    def __init__(self, templates: list[dict[str, Any]], tag: str, target: int = 10_000) -> None:
        self.small = [t for t in templates if len(orjson.dumps(t)) <= target]
        self.large = [t for t in templates if len(orjson.dumps(t)) > target]
        self.tag = tag
        self.i = 0

    def __call__(self) -> bytes:
        i = self.i
        self.i += 1
        pool = self.small if (i % 5 and self.small) or not self.large else self.large
        m = dict(pool[i % len(pool)])
        m["report_id"] = f"bench-{self.tag}-{i}"
        m["measurement_start_time"] = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}"
        if m.get("input") and isinstance(m["input"], str):
            m["input"] = m["input"].rstrip("/") + f"/?b={self.tag}{i}"
        m["annotations"] = {**(m.get("annotations") or {}), "bench": f"{self.tag}-{i}"}
        return orjson.dumps(m)


# --- load generator (runs in each generator process) --------------------------------------------------
_SSL = ssl.create_default_context()  # unused over http://, but httpx builds one per client unless given
Transport = (httpx.TransportError, OSError, EOFError)


class HttpxConn:
    """One client = one keep-alive connection (one AsyncClient each: httpcore's pool bookkeeping
    grows with the number of connections and queued requests it juggles, a cost of the load
    generator, not of the server)."""

    def __init__(self, url: str) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.c = httpx.AsyncClient(base_url=url, timeout=60, limits=limits, verify=_SSL)

    async def post(self, body: bytes) -> tuple[int, bytes]:
        r = await self.c.post(POST, content=body, headers={"content-type": "application/json"})
        return r.status_code, r.content

    async def get(self, path: str) -> tuple[int, bytes]:
        r = await self.c.get(path)
        return r.status_code, r.content

    async def close(self) -> None:
        await self.c.aclose()


class RawConn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time: writes a pre-built head + the body,
    reads the status line, Content-Length and exactly that many body bytes."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.need = -1
        self.body_at = 0
        self.status = 0
        self.closed = False

    @classmethod
    async def open(cls, url: str) -> RawConn:
        hostport = url.split("//", 1)[1]
        host, port = hostport.rsplit(":", 1)
        _, proto = await asyncio.get_running_loop().create_connection(lambda: cls(hostport), host, int(port))
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(EOFError("connection closed by the server"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is None or self.waiter.done():
            return
        buf = self.buf
        if self.need < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            if not head.startswith(b"http/1.1 "):
                self.waiter.set_exception(EOFError(f"not an HTTP/1.1 answer: {head[:40]!r}"))
                return
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:  # the collector always sends Content-Length; anything else is a bug to see
                self.waiter.set_exception(EOFError("answer without Content-Length"))
                return
            stop = head.find(b"\r\n", at + 2)
            self.body_at = end + 4
            self.need = end + 4 + int(head[at + 17 : stop if stop > 0 else len(head)])
        if len(buf) >= self.need:
            body = bytes(buf[self.body_at : self.need])
            del buf[: self.need]
            self.need = -1
            self.waiter.set_result((self.status, body))

    async def _roundtrip(self, *parts: bytes) -> tuple[int, bytes]:
        if self.closed or self.transport is None:
            raise EOFError("connection closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.writelines(parts)
        return await self.waiter

    async def post(self, body: bytes) -> tuple[int, bytes]:
        head = (f"POST {POST} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n\r\n").encode()
        return await self._roundtrip(head, body)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self._roundtrip(f"GET {path} HTTP/1.1\r\nhost: {self.host}\r\n\r\n".encode())

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


Conn = HttpxConn | RawConn


async def _connect(kind: str, url: str, n: int) -> list[Conn]:
    if kind == "httpx":
        return [HttpxConn(url) for _ in range(n)]
    return list(await asyncio.gather(*(RawConn.open(url) for _ in range(n))))


def _record(status: int, content: bytes, codes: dict[int | str, int], acked: dict[str, str]) -> bool:
    """Count the answer; for 200/201 check it carries a receipt for its uid and keep uid -> leaf hash."""
    codes[status] = codes.get(status, 0) + 1
    if status not in (200, 201):
        return False
    doc = orjson.loads(content)
    uid, receipt = doc["measurement_uid"], doc["receipt"]
    if receipt["measurement_uid"] != uid or not receipt.get("signature"):
        codes["bad_receipt"] = codes.get("bad_receipt", 0) + 1
        return False
    acked[uid] = receipt["leaf_hash"]
    return True


async def _closed_loop(kind: str, url: str, bodies: Callable[[], bytes], clients: int, duration: float) -> dict[str, Any]:
    lat: list[float] = []
    acked: dict[str, str] = {}
    codes: dict[int | str, int] = {}
    conns = await _connect(kind, url, clients)
    t_end = time.perf_counter() + duration

    async def client(c: Conn) -> None:
        try:
            while time.perf_counter() < t_end:
                body = bodies()
                t0 = time.perf_counter()
                try:
                    status, content = await c.post(body)
                except Transport as exc:
                    codes[type(exc).__name__] = codes.get(type(exc).__name__, 0) + 1
                    return
                if _record(status, content, codes, acked):
                    lat.append(time.perf_counter() - t0)
        finally:
            await c.close()

    t0 = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for c in conns:
            tg.create_task(client(c))
    return {"lat": lat, "acked": acked, "codes": codes, "elapsed": time.perf_counter() - t0}


async def _open_loop(kind: str, url: str, bodies: Callable[[], bytes], clients: int, rate: float,
                     duration: float) -> dict[str, Any]:
    """Requests are due at a fixed rate whatever the answers; ``clients`` connections take them in
    order. Latency counts from the time a request was due (so a server that falls behind shows it:
    no coordinated omission). What is still not answered 10 s after the last one was due is counted
    as ``unfinished``."""
    lat: list[float] = []
    acked: dict[str, str] = {}
    codes: dict[int | str, int] = {}
    conns = await _connect(kind, url, clients)
    n = int(rate * duration)
    start = time.perf_counter() + 0.5 + clients * 0.002
    deadline = start + duration + 10
    due: asyncio.Queue[int] = asyncio.Queue()
    done = 0
    last = start

    async def schedule() -> None:
        i = 0
        while i < n:  # release every request that is due, then sleep until the next one is
            upto = min(n, int((time.perf_counter() - start) * rate) + 1)
            while i < upto:
                due.put_nowait(i)
                i += 1
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        for _ in range(clients):
            due.put_nowait(-1)  # no more: each client stops when it takes one

    async def watchdog() -> None:
        """At the deadline, stop whatever is still waiting (no per-request timeout on the hot path)."""
        await asyncio.sleep(max(0.0, deadline - time.perf_counter()))
        for c in conns:
            if isinstance(c, RawConn) and c.transport is not None:
                c.transport.abort()
        for _ in range(clients):
            due.put_nowait(-1)

    async def client(c: Conn) -> None:
        try:
            await serve_due(c)
        finally:
            await c.close()

    async def serve_due(c: Conn) -> None:
        nonlocal done, last
        while True:
            i = await due.get()
            if i < 0 or time.perf_counter() > deadline:
                return
            scheduled = start + i / rate
            try:
                status, content = await c.post(bodies())
            except Transport as exc:
                codes[type(exc).__name__] = codes.get(type(exc).__name__, 0) + 1
                return
            finally:
                done += 1
            if _record(status, content, codes, acked):
                last = time.perf_counter()
                lat.append(last - scheduled)

    scheduler = asyncio.create_task(schedule())
    guard = asyncio.create_task(watchdog())
    async with asyncio.TaskGroup() as tg:
        for c in conns:
            tg.create_task(client(c))
    scheduler.cancel()
    guard.cancel()
    if done < n:
        codes["unfinished"] = n - done
    # achieved rate: answers over the time from the first due request to the last answer
    return {"lat": lat, "acked": acked, "codes": codes, "elapsed": max(duration, last - start)}


def procs_of() -> int:
    return int(os.environ.get("CW_BENCH_PROCS", "2"))


def _run(kind: str, coro: Any) -> Any:
    if kind == "raw":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)  # httpx: as it was first measured, on the standard event loop


def _worker(args: tuple[str, str, str, list[dict[str, Any]], str, int, float, float]) -> dict[str, Any]:
    kind, mode, url, templates, tag, clients, rate, duration = args
    bodies = Bodies(templates, tag)
    # bodies are made before the clock starts, as a load tester does (each unique; ~20 us each):
    # as many as the fixed-rate phase sends, or 2,000/s worth for a closed loop (then made on demand)
    made = [bodies() for _ in range(int((rate or 2000 / procs_of()) * duration) + 1)]
    pool = iter(made)

    def body() -> bytes:
        return next(pool, None) or bodies()

    cpu0 = time.process_time()
    if mode == "closed":
        res = _run(kind, _closed_loop(kind, url, body, clients, duration))
    else:
        res = _run(kind, _open_loop(kind, url, body, clients, rate, duration))
    res["cpu"] = time.process_time() - cpu0
    return res


async def _fetch_back(url: str, acked: dict[str, str], conns: int = 20) -> tuple[int, int]:
    """GET every acknowledged uid back; its leaf hash must be the receipt's. (missing, altered)"""
    from censorwatch.collector.merkle import leaf_hash

    todo = list(acked.items())
    missing = altered = 0

    async def worker(c: RawConn, part: list[tuple[str, str]]) -> None:
        nonlocal missing, altered
        for uid, want in part:
            status, body = await c.get(f"{POST}/{uid}")
            if status != 200:
                missing += 1
            elif leaf_hash(body).hex() != want:
                altered += 1
        await c.close()

    cs = [await RawConn.open(url) for _ in range(conns)]
    async with asyncio.TaskGroup() as tg:
        for i, c in enumerate(cs):
            tg.create_task(worker(c, todo[i::conns]))
    return missing, altered


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and of its live descendants (the collector's signing
    helper process counts as the collector), from Linux /proc."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def run_phase(pool: Any, procs: int, kind: str, mode: str, url: str, templates: list[dict[str, Any]], tag: str,
              clients: int, rate: float, duration: float, server_pid: int) -> dict[str, Any]:
    server0 = cpu_seconds(server_pid)
    jobs = [(kind, mode, url, templates, f"{tag}{i}", clients // procs, rate / procs, duration) for i in range(procs)]
    parts = pool.map(_worker, jobs)
    server_cpu = cpu_seconds(server_pid) - server0
    lat = sorted(x for p in parts for x in p["lat"])
    codes: dict[int | str, int] = {}
    for p in parts:
        for k, v in p["codes"].items():
            codes[k] = codes.get(k, 0) + v
    elapsed = max(p["elapsed"] for p in parts)
    q = statistics.quantiles(lat, n=100) if len(lat) > 100 else [float("nan")] * 99
    return {
        "ok": len(lat), "per_s": len(lat) / elapsed, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
        "max_ms": lat[-1] * 1000 if lat else float("nan"), "codes": codes, "elapsed": elapsed,
        "acked": {u: h for p in parts for u, h in p["acked"].items()},
        "server_ms": server_cpu / max(1, len(lat)) * 1000,
        "client_ms": sum(p["cpu"] for p in parts) / max(1, len(lat)) * 1000,
    }


# --- the collector without HTTP: its own cost per submission ---------------------------------------------
async def _inprocess(templates: list[dict[str, Any]], where: Path, clients: int, seconds: float) -> dict[str, Any]:
    """Drive the collector's ASGI app directly (validation, queue, batching, signing, durable commit;
    no sockets, no HTTP parsing, no client) with ``clients`` concurrent submitters."""
    from censorwatch.collector.app import Collector, CollectorConfig

    col = Collector(CollectorConfig(evidence_dir=where, client_rate=0))
    app = col.app()
    bodies = Bodies(templates, "inproc")
    lat: list[float] = []
    async with col.lifespan(app):
        t_end = time.perf_counter() + seconds

        async def client() -> None:
            while time.perf_counter() < t_end:
                body = bodies()
                sent: list[dict[str, Any]] = []

                async def receive(body: bytes = body) -> dict[str, Any]:
                    return {"type": "http.request", "body": body, "more_body": False}

                async def send(msg: dict[str, Any], sent: list[dict[str, Any]] = sent) -> None:
                    sent.append(msg)

                scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                         "scheme": "http", "path": POST, "raw_path": POST.encode(), "query_string": b"",
                         "root_path": "", "headers": [(b"content-length", str(len(body)).encode())],
                         "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8470)}
                t0 = time.perf_counter()
                await app(scope, receive, send)
                assert sent[0]["status"] == 201, sent
                lat.append(time.perf_counter() - t0)

        cpu0, t0 = time.process_time(), time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(clients):
                tg.create_task(client())
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    lat.sort()
    q = statistics.quantiles(lat, n=100)
    return {"per_s": len(lat) / wall, "cpu_ms": cpu / len(lat) * 1000, "p50_ms": q[49] * 1000,
            "p99_ms": q[98] * 1000, "n": len(lat), "batch": col.metrics.batch_size.sum / max(1, col.metrics.batches)}


# --- the collector process ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_collector(db: Path, port: int, extra: list[str]) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "censorwatch", "collector", "serve", "--db", str(db), "--port", str(port),
         "--client-rate", "0", *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    while True:
        if proc.poll() is not None:
            raise SystemExit("collector exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/log/sth", timeout=1).status_code == 200:
                return proc, time.perf_counter() - t0
        except httpx.TransportError:
            time.sleep(0.05)


def verify_log(db: Path, key: bytes, where: Path) -> str:
    """``censorwatch collector export`` + ``censorwatch verify log`` with the key pinned at the start."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    (where / "key.pinned.json").write_bytes(key)
    out = where / "export"
    for args in (["collector", "export", str(out), "--db", str(db)],
                 ["verify", "log", str(out), "--key", str(where / "key.pinned.json")]):
        res = subprocess.run([sys.executable, "-m", "censorwatch", *args], env=env, capture_output=True, text=True)
        if res.returncode != 0:
            return f"FAILED ({' '.join(args[:2])}, exit {res.returncode}): {(res.stdout + res.stderr).strip()[-300:]}"
    last = [ln for ln in res.stdout.splitlines() if ln.strip()]
    return "verifies: " + (last[-1].strip() if last else "ok")


def stop_collector(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    ap.add_argument("--rate", type=float, default=1000.0, help="fixed-rate phase, submissions/s")
    ap.add_argument("--procs", type=int, default=2, help="load generator processes")
    ap.add_argument("--client", choices=("raw", "httpx"), default="raw", help="load generator HTTP client")
    ap.add_argument("--samples", type=Path, default=REPO.parent / "shared" / "data" / "ooni-samples")
    ap.add_argument("--src", type=Path, help="run the collector from this checkout's src/ (before/after)")
    ap.add_argument("--workers", type=int, help="`collector serve --workers N` (default: the server's default)")
    ap.add_argument("--server-arg", action="append", default=[], help="extra argument for `collector serve`")
    ap.add_argument("--note", default="", help="a line saying what was measured (goes into the results)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "collector.md",
                    help="results file; the run is appended as a new section")
    args = ap.parse_args()
    os.environ["CW_BENCH_PROCS"] = str(args.procs)  # (the spawned workers read it)
    if args.src is not None:
        global SRC
        SRC = args.src.resolve()
        os.environ["CW_BENCH_SRC"] = str(SRC)
        sys.path.insert(0, str(SRC))
    if args.workers is not None:
        args.server_arg = [f"--workers={args.workers}", *args.server_arg]
    samples = args.samples if args.samples.is_dir() else Path(os.environ.get("CENSORWATCH_SHARED", "")) / "data" / "ooni-samples"
    templates = load_templates(samples)
    probe = Bodies(templates, "size")
    mean = sum(len(probe()) for _ in range(3000)) / 3000
    print(f"{len(templates)} sample measurements as templates, mean body {mean / 1000:.1f} KB", flush=True)
    workers = args.workers
    if workers is None:
        try:
            from censorwatch.collector.server import default_workers

            workers = default_workers()
        except ImportError:  # an older checkout (--src): one process
            workers = 1
    loads = [os.getloadavg()[0]]
    rows: list[tuple[str, str]] = []
    all_acked: dict[str, str] = {}
    started = time.strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory(prefix="cw-collector-bench-") as tmp, mp.get_context("spawn").Pool(args.procs) as pool:
        db = Path(tmp) / "bench.duckdb"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        inproc = asyncio.run(_inprocess(templates, Path(tmp) / "inproc.evidence", args.clients, args.duration))
        print("in-process", inproc, flush=True)
        rows.append((f"collector alone (ASGI app driven in-process, no HTTP), {args.clients} submitters",
                     f"{inproc['per_s']:.0f} submissions/s ({inproc['n']} in {args.duration:g} s); p50 {inproc['p50_ms']:.1f} ms, "
                     f"p99 {inproc['p99_ms']:.1f} ms; CPU {inproc['cpu_ms']:.2f} ms per submission; "
                     f"mean batch {inproc['batch']:.0f}"))
        key = b""
        missing = altered = -1
        for round_ in ("fresh", "after restart"):
            proc, boot = start_collector(db, port, args.server_arg)
            try:
                key = key or httpx.get(url + "/api/v1/log/key").content
                size_before = httpx.get(url + "/api/v1/log/sth").json()["tree_size"]
                rows.append((f"{round_}: start-up with {size_before} leaves", f"{boot:.2f} s"))
                tag = "a" if round_ == "fresh" else "b"
                phase = (pool, args.procs, args.client)
                run_phase(*phase, "closed", url, templates, tag + "w", args.clients, 0, 2, proc.pid)
                sat = run_phase(*phase, "closed", url, templates, tag + "s", args.clients, 0, args.duration, proc.pid)
                loads.append(os.getloadavg()[0])
                print(round_, "saturation", {k: v for k, v in sat.items() if k != "acked"}, flush=True)
                fixed = run_phase(*phase, "open", url, templates, tag + "f", args.clients,
                                  args.rate, args.duration, proc.pid)
                loads.append(os.getloadavg()[0])
                print(round_, "fixed", {k: v for k, v in fixed.items() if k != "acked"}, flush=True)
                all_acked.update(sat["acked"])
                all_acked.update(fixed["acked"])
                rows.append((f"{round_}: sustained, {args.clients} clients, mean body {mean / 1000:.1f} KB",
                             f"{sat['per_s']:.0f} submissions/s; p50 {sat['p50_ms']:.1f} ms, p99 {sat['p99_ms']:.1f} ms; "
                             f"codes {sat['codes']}"))
                both = 2 / ((sat["server_ms"] + sat["client_ms"]) / 1000)
                one = 1 / (sat["server_ms"] / 1000)  # one process: its work is (almost all) on one thread
                rows.append((f"{round_}: CPU time per submission (sustained phase; collector = all its processes)",
                             f"collector {sat['server_ms']:.3f} ms, load generator ({args.client}) {sat['client_ms']:.3f} ms: "
                             f"estimate for 2 otherwise idle cores: both sides over 2 cores ~{both:.0f}/s"
                             + (f"; one process (its event loop, one thread): ~{one:.0f}/s" if workers == 1 else "")))
                rows.append((f"{round_}: fixed {args.rate:.0f}/s, {args.clients} clients",
                             f"achieved {fixed['per_s']:.0f}/s; p50 {fixed['p50_ms']:.1f} ms, p99 {fixed['p99_ms']:.1f} ms, "
                             f"max {fixed['max_ms']:.0f} ms; codes {fixed['codes']}; CPU per submission: collector "
                             f"{fixed['server_ms']:.3f} ms, load generator {fixed['client_ms']:.3f} ms"))
                if round_ == "after restart":
                    missing, altered = uvloop_run(_fetch_back(url, all_acked))
            finally:
                stop_collector(proc)
        con = sqlite3.connect(f"file:{db}.evidence/evidence.sqlite?mode=ro", uri=True)
        stored = {r[0] for r in con.execute("SELECT measurement_uid FROM leaves")}
        con.close()
        lost = set(all_acked) - stored
        # the warm-up submissions are stored too, so stored >= acked
        rows.append(("zero loss: every acknowledged (201/200) uid fetched back over HTTP after the restart, "
                     "its leaf hash = the receipt's",
                     f"{len(all_acked)} acknowledged, {len(stored)} stored, {len(lost)} not in the database, "
                     f"{missing} not served, {altered} altered"))
        verdict = verify_log(db, key, Path(tmp))
        rows.append(("the whole log: `collector export` + `verify log` (key pinned before the run)", verdict))
    machine = f"2-core x86_64 VM, Python {platform.python_version()}" if os.cpu_count() == 2 else \
        f"{os.cpu_count()}-core {platform.machine()}, Python {platform.python_version()}"
    cmd = (f"python benchmarks/collector.py --clients {args.clients} --duration {args.duration:g} --rate {args.rate:g} "
           f"--procs {args.procs} --client {args.client}" + (f" --workers {args.workers}" if args.workers else "")
           + "".join(f" --server-arg={a}" for a in args.server_arg if not a.startswith("--workers="))
           + (f" --src {args.src}" if args.src else ""))
    load = ", ".join(f"{x:.1f}" for x in [*loads, os.getloadavg()[0]])
    procs = "one process" if workers == 1 else f"{workers} HTTP front-end processes + the writer process"
    lines = ["", f"## {started}: {args.note or args.client + ' client'}", "", f"Command: `{cmd}`  ",
             f"Collector: `collector serve` with {procs}.  ",
             f"Machine: {machine}; collector and load generator share it; 1-min load average at start, after each "
             f"phase and at the end: {load} (other work on the machine).", "",
             "| what | result |", "|---|---|"] + [f"| {w} | {r} |" for w, r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as f:
        f.write(text)
    if lost or missing or altered or not verdict.startswith("verifies"):
        raise SystemExit(f"LOST {len(lost)} / not served {missing} / altered {altered}; log: {verdict}")


def uvloop_run(coro: Any) -> Any:
    return _run("raw", coro)


if __name__ == "__main__":
    main()
