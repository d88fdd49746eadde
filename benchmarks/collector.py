"""Collector benchmark: sustained submissions/s and latency from 100 concurrent clients, p99 at a fixed
rate, the same after a restart, and a zero-loss check. Our own load generator: asyncio + httpx.

    .venv/bin/python benchmarks/collector.py [--clients 100] [--duration 20] [--rate 1000] [--procs 2]

Measurements are real OONI web_connectivity/tor/openvpn/... measurements from ../shared/data/ooni-samples
(the 4-60 KB ones), each copy made unique (report_id, input, start time) so each is a new log leaf;
their mean size is printed (~10 KB). The collector runs as its own process (uvicorn, uvloop, httptools)
on 127.0.0.1 with a fresh database and --client-rate 0 (all clients share one address). Load generator
processes (``--procs``) share the same 2 cores as the collector: the numbers are for the whole
machine doing both. Latency at a fixed rate is measured from each request's scheduled start (open loop,
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
from pathlib import Path
from typing import Any

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]
POST = "/api/v1/measurements"
sys.path.insert(0, str(REPO / "src"))


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


def _clients(url: str, n: int) -> list[httpx.AsyncClient]:
    """One client = one keep-alive connection (one AsyncClient each: httpcore's pool bookkeeping
    grows with the number of connections and queued requests it juggles, a cost of the load
    generator, not of the server)."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return [httpx.AsyncClient(base_url=url, timeout=60, limits=limits, verify=_SSL) for _ in range(n)]


async def _closed_loop(url: str, bodies: Bodies, clients: int, duration: float) -> dict[str, Any]:
    lat: list[float] = []
    acked: list[str] = []
    codes: dict[int | str, int] = {}
    t_end = time.perf_counter() + duration

    async def client(c: httpx.AsyncClient) -> None:
        async with c:
            while time.perf_counter() < t_end:
                await one(c)

    async def one(c: httpx.AsyncClient) -> None:
        body = bodies()
        t0 = time.perf_counter()
        try:
            r = await c.post(POST, content=body, headers={"content-type": "application/json"})
        except httpx.TransportError as exc:
            codes[type(exc).__name__] = codes.get(type(exc).__name__, 0) + 1
            return
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
        if r.status_code in (200, 201):
            lat.append(time.perf_counter() - t0)
            acked.append(orjson.loads(r.content)["measurement_uid"])

    conns = _clients(url, clients)
    t0 = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for c in conns:
            tg.create_task(client(c))
    return {"lat": lat, "acked": acked, "codes": codes, "elapsed": time.perf_counter() - t0}


async def _open_loop(url: str, bodies: Bodies, clients: int, rate: float, duration: float) -> dict[str, Any]:
    """Requests are due at a fixed rate whatever the answers; ``clients`` connections take them in
    order. Latency counts from the time a request was due (so a server that falls behind shows it:
    no coordinated omission). What is still not answered 10 s after the last one was due is counted
    as ``unfinished``."""
    lat: list[float] = []
    acked: list[str] = []
    codes: dict[int | str, int] = {}
    n = int(rate * duration)
    start = time.perf_counter() + 0.5 + clients * 0.002
    deadline = start + duration + 10
    due: asyncio.Queue[int] = asyncio.Queue()
    done = 0

    async def schedule() -> None:
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            due.put_nowait(i)

    async def client(c: httpx.AsyncClient) -> None:
        async with c:
            await serve_due(c)

    async def serve_due(c: httpx.AsyncClient) -> None:
        nonlocal done
        while time.perf_counter() < deadline and done < n:
            try:
                i = await asyncio.wait_for(due.get(), max(0.01, deadline - time.perf_counter()))
            except TimeoutError:
                return
            scheduled = start + i / rate
            try:
                r = await c.post(POST, content=bodies(), headers={"content-type": "application/json"})
            except httpx.TransportError as exc:
                codes[type(exc).__name__] = codes.get(type(exc).__name__, 0) + 1
                continue
            finally:
                done += 1
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code in (200, 201):
                lat.append(time.perf_counter() - scheduled)
                acked.append(orjson.loads(r.content)["measurement_uid"])

    conns = _clients(url, clients)
    scheduler = asyncio.create_task(schedule())
    async with asyncio.TaskGroup() as tg:
        for c in conns:
            tg.create_task(client(c))
    scheduler.cancel()
    if done < n:
        codes["unfinished"] = n - done
    return {"lat": lat, "acked": acked, "codes": codes, "elapsed": min(time.perf_counter(), deadline) - start}


def _worker(args: tuple[str, str, list[dict[str, Any]], str, int, float, float]) -> dict[str, Any]:
    mode, url, templates, tag, clients, rate, duration = args
    bodies = Bodies(templates, tag)
    cpu0 = time.process_time()
    if mode == "closed":
        res = asyncio.run(_closed_loop(url, bodies, clients, duration))
    else:
        res = asyncio.run(_open_loop(url, bodies, clients, rate, duration))
    res["cpu"] = time.process_time() - cpu0
    return res


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_phase(pool: Any, procs: int, mode: str, url: str, templates: list[dict[str, Any]], tag: str,
              clients: int, rate: float, duration: float, server_pid: int) -> dict[str, Any]:
    server0 = cpu_seconds(server_pid)
    jobs = [(mode, url, templates, f"{tag}{i}", clients // procs, rate / procs, duration) for i in range(procs)]
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
        "acked": [u for p in parts for u in p["acked"]],
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


def start_collector(db: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "censorwatch", "collector", "serve", "--db", str(db), "--port", str(port),
         "--client-rate", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    while True:
        if proc.poll() is not None:
            raise SystemExit("collector exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/log/sth", timeout=1).status_code == 200:
                return proc, time.perf_counter() - t0
        except httpx.TransportError:
            time.sleep(0.05)


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
    ap.add_argument("--samples", type=Path, default=REPO.parent / "shared" / "data" / "ooni-samples")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "collector.md")
    args = ap.parse_args()
    samples = args.samples if args.samples.is_dir() else Path(os.environ.get("CENSORWATCH_SHARED", "")) / "data" / "ooni-samples"
    templates = load_templates(samples)
    probe = Bodies(templates, "size")
    mean = sum(len(probe()) for _ in range(3000)) / 3000
    print(f"{len(templates)} sample measurements as templates, mean body {mean / 1000:.1f} KB", flush=True)
    load_before = os.getloadavg()
    rows: list[tuple[str, str]] = []
    all_acked: set[str] = set()
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
        for round_ in ("fresh", "after restart"):
            proc, boot = start_collector(db, port)
            try:
                size_before = httpx.get(url + "/api/v1/log/sth").json()["tree_size"]
                rows.append((f"{round_}: start-up with {size_before} leaves", f"{boot:.2f} s"))
                tag = "a" if round_ == "fresh" else "b"
                run_phase(pool, args.procs, "closed", url, templates, tag + "w", args.clients, 0, 2, proc.pid)
                sat = run_phase(pool, args.procs, "closed", url, templates, tag + "s", args.clients, 0, args.duration, proc.pid)
                print(round_, "saturation", {k: v for k, v in sat.items() if k != "acked"}, flush=True)
                fixed = run_phase(pool, args.procs, "open", url, templates, tag + "f", args.clients,
                                  args.rate, args.duration, proc.pid)
                print(round_, "fixed", {k: v for k, v in fixed.items() if k != "acked"}, flush=True)
                all_acked.update(sat["acked"])
                all_acked.update(fixed["acked"])
                rows.append((f"{round_}: sustained, {args.clients} clients, mean body {mean / 1000:.1f} KB",
                             f"{sat['per_s']:.0f} submissions/s; p50 {sat['p50_ms']:.1f} ms, p99 {sat['p99_ms']:.1f} ms; "
                             f"codes {sat['codes']}"))
                est = 2 / ((sat["server_ms"] + sat["client_ms"]) / 1000)
                rows.append((f"{round_}: CPU time per submission",
                             f"collector {sat['server_ms']:.2f} ms, load generator {sat['client_ms']:.2f} ms: "
                             f"estimate for 2 otherwise idle cores: ~{est:.0f}/s"))
                rows.append((f"{round_}: fixed {args.rate:.0f}/s, {args.clients} clients",
                             f"achieved {fixed['per_s']:.0f}/s; p50 {fixed['p50_ms']:.1f} ms, p99 {fixed['p99_ms']:.1f} ms, "
                             f"max {fixed['max_ms']:.0f} ms; codes {fixed['codes']}"))
            finally:
                stop_collector(proc)
        con = sqlite3.connect(f"file:{db}.evidence/evidence.sqlite?mode=ro", uri=True)
        stored = {r[0] for r in con.execute("SELECT measurement_uid FROM leaves")}
        con.close()
        lost = all_acked - stored
        # the warm-up submissions are stored too, so stored >= acked
        rows.append(("zero loss: acknowledged (201/200) vs stored after both runs",
                     f"{len(all_acked)} acknowledged, {len(stored)} stored, {len(lost)} lost"))
    machine = f"2-core x86_64 VM, Python {platform.python_version()}" if os.cpu_count() == 2 else \
        f"{os.cpu_count()}-core {platform.machine()}, Python {platform.python_version()}"
    cmd = f"python benchmarks/collector.py --clients {args.clients} --duration {args.duration:g} --rate {args.rate:g} --procs {args.procs}"
    load = f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine)"
    lines = ["# Collector benchmark", "", f"Command: `{cmd}`  ",
             f"Machine: {machine}; collector and load generator share it; {load}.", "",
             "| what | result |", "|---|---|"] + [f"| {w} | {r} |" for w, r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if lost:
        raise SystemExit(f"LOST {len(lost)} acknowledged measurements")


if __name__ == "__main__":
    main()
