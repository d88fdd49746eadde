"""Probe throughput: URLs per minute at concurrency 64 against 64 local hosts with a 100 ms RTT.

Setup (all on loopback, nothing leaves the machine):
- a servers process: 64 web hosts (127.0.1.1-64, one port) and two DNS servers, an emulated-RTT one
  for the probe and a plain one for the control server. The RTT is emulated in user space, towards
  the probe's address only (the probe connects from 127.0.0.77): the DNS server answers after one RTT;
  a web server answers a request after two RTTs (the kernel completes loopback TCP handshakes at once,
  so the handshake's round trip is charged to the first response), so an http URL costs the probe
  DNS + TCP + HTTP = 3 round trips, as on a real path;
- the control server (censorwatch control serve, HTTPS, lab mode) in its own process, co-located with
  the sites (its own traffic has no emulated RTT, as a test helper in a data centre);
- the probe in this process through the library API (the same code as `censorwatch probe`).

Ideal = concurrency / (round trips per URL x RTT) = 64 / (3 x 0.1 s) = 213 URLs/s = 12,800 URLs/min.
A measurement "failed because of the probe" is any with an HTTP or control failure (the hosts never
fail on purpose here). The result row goes to benchmarks/results/probe.md.

    python benchmarks/probe.py [--urls 1920] [--concurrency 64] [--rtt 0.1] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests" / "probe"))

PROBE_SRC = "127.0.0.77"
HOSTS = [f"127.0.1.{i}" for i in range(1, 65)]
PAGE = (b"<!doctype html><html><head><title>Benchmark host</title></head><body>"
        + b"<p>censorwatch benchmark page</p>" * 100 + b"</body></html>")
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " + str(len(PAGE)).encode()
            + b"\r\n\r\n" + PAGE)


def _servers(rtt: float, port: int, ready: mp.Queue) -> None:  # type: ignore[type-arg]
    import dns.message
    import dns.rrset

    async def web(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            if writer.get_extra_info("peername")[0] == PROBE_SRC:
                await asyncio.sleep(2 * rtt)
            writer.write(RESPONSE)
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    class DNS(asyncio.DatagramProtocol):
        def __init__(self, delay: float) -> None:
            self.delay = delay
            self.cache: dict[bytes, bytes] = {}  # query without its id -> answer without its id

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            body = self.cache.get(data[2:])
            if body is None:  # the harness answers each distinct question once, then from its cache
                q = dns.message.from_wire(data)
                r = dns.message.make_response(q)
                name = q.question[0].name
                label = name.labels[0].decode()
                if q.question[0].rdtype == 1 and label.startswith("h"):
                    r.answer.append(dns.rrset.from_text(name, 60, "IN", "A", HOSTS[int(label[1:]) % 64]))
                body = self.cache[data[2:]] = r.to_wire()[2:]
            wire = data[:2] + body
            asyncio.get_running_loop().call_later(self.delay, self.t.sendto, wire, addr)  # type: ignore[attr-defined]

    async def main() -> None:
        servers = [await asyncio.start_server(web, h, port, backlog=512) for h in HOSTS]
        loop = asyncio.get_running_loop()
        t1, _ = await loop.create_datagram_endpoint(lambda: DNS(rtt), local_addr=("127.0.1.200", 0))
        t2, _ = await loop.create_datagram_endpoint(lambda: DNS(0.0), local_addr=("127.0.1.201", 0))
        ready.put((t1.get_extra_info("sockname")[1], t2.get_extra_info("sockname")[1]))
        await asyncio.sleep(3600)
        for s in servers:
            s.close()

    asyncio.run(main())


def _control(cert: str, key: str, ca: str, resolver: str, ready: mp.Queue) -> None:  # type: ignore[type-arg]
    from censorwatch.control import serve
    from censorwatch.control.helper import HelperConfig

    cfg = HelperConfig(lab=True, resolver=resolver, doh_url=None, ca_files=[Path(ca)], trust_system=False)
    srv = serve.server(cfg, tls_cert=Path(cert), tls_key=Path(key), max_concurrency=256)
    sock = serve.bind("127.0.1.250", 0)
    ready.put(sock.getsockname()[1])
    serve.run(srv, sock)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.1.1", 0))
        return int(s.getsockname()[1])


async def _measure(args: argparse.Namespace, port: int, dns_port: int, control: str | None, ca: Path) -> dict:
    from censorwatch.probe import ProbeConfig, RunStats, Timeouts, run

    urls = [f"http://h{i % 64}.bench:{port}/p{i}" for i in range(args.urls)]
    cfg = ProbeConfig(urls=urls, control_url=control, ca_files=[ca], trust_system=False, allow_loopback=True,
                      system_resolver=f"127.0.1.200:{dns_port}", source_address=PROBE_SRC,
                      concurrency=args.concurrency, timeouts=Timeouts(), url_deadline=60)
    stats = RunStats()
    t0, c0 = time.perf_counter(), time.process_time()
    done = await run(cfg, stats)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    failed = [m for m in done if m["test_keys"]["http_experiment_failure"] or
              (control and m["test_keys"]["control_failure"])]
    return {"done": len(done), "seconds": seconds, "cpu_ms": 1000 * cpu / max(1, len(done)), "failed": len(failed), "errors": stats.errors,
            "sample": sorted({str(m["test_keys"]["http_experiment_failure"] or m["test_keys"]["control_failure"])
                              for m in failed})[:5],
            "blocked": stats.blocked}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--urls", type=int, default=1920)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rtt", type=float, default=0.1)
    ap.add_argument("--no-control", action="store_true", help="measure without a control server")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from probenet import CA

    tmp = Path(tempfile.mkdtemp(prefix="cw-bench-"))
    ca = CA.make("bench CA")
    (tmp / "ca.pem").write_bytes(ca.pem())
    c, k = ca.issue(["control.bench"], ips=["127.0.1.250"])
    (tmp / "c.crt").write_bytes(c)
    (tmp / "c.key").write_bytes(k)
    port = _free_port()
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=_servers, args=(args.rtt, port, q), daemon=True)]
    procs[0].start()
    dns_port, th_dns_port = q.get(timeout=30)
    control = None
    if not args.no_control:
        procs.append(mp.Process(target=_control, args=(str(tmp / "c.crt"), str(tmp / "c.key"), str(tmp / "ca.pem"),
                                                       f"127.0.1.201:{th_dns_port}", q), daemon=True))
        procs[1].start()
        control = f"https://127.0.1.250:{q.get(timeout=30)}/"
        time.sleep(1.0)
    try:
        before = [_cpu_seconds(p.pid) for p in procs if p.pid]
        res = asyncio.run(_measure(args, port, dns_port, control, tmp / "ca.pem"))
        after = [_cpu_seconds(p.pid) for p in procs if p.pid]
        per = [1000 * (a - b) / max(1, res["done"]) for a, b in zip(after, before, strict=True)]
        res["servers_cpu_ms"] = per[0]
        res["control_cpu_ms"] = per[1] if len(per) > 1 else 0.0
    finally:
        for p in procs:
            p.terminate()
            p.join(5)
    rtts = 3
    ideal = args.concurrency / (rtts * args.rtt)  # URLs/s
    rate = res["done"] / res["seconds"]
    pct = 100 * rate / ideal
    print(f"{res['done']} URLs in {res['seconds']:.1f} s at concurrency {args.concurrency}, RTT {args.rtt * 1000:.0f} ms: "
          f"{rate * 60:,.0f} URLs/min = {pct:.0f} % of the ideal {ideal * 60:,.0f}/min; "
          f"failed because of the probe: {res['failed']} ({res['sample']}); errors {len(res['errors'])}; "
          f"control {'on' if control else 'off'}; CPU per URL: probe {res['cpu_ms']:.1f} ms, control "
          f"{res['control_cpu_ms']:.1f} ms, sites+DNS {res['servers_cpu_ms']:.1f} ms; "
          f"load avg {os.getloadavg()[0]:.1f}")
    if not args.no_write:
        out = REPO / "benchmarks" / "results" / "probe.md"
        header = "| what | command | result | machine |\n|---|---|---|---|\n"
        cmd = "python benchmarks/probe.py" + (" --no-control" if args.no_control else "") + f" --urls {args.urls}"
        row = (f"| probe web_connectivity, {len(HOSTS)} local hosts, RTT {args.rtt * 1000:.0f} ms emulated, "
               f"concurrency {args.concurrency}, control {'on (HTTPS, local)' if control else 'off'} | `{cmd}` | "
               f"{rate * 60:,.0f} URLs/min = {pct:.0f} % of ideal {ideal * 60:,.0f}/min "
               f"({res['done']} URLs, {res['failed']} failed because of the probe; CPU per URL: probe "
               f"{res['cpu_ms']:.1f} ms, control {res['control_cpu_ms']:.1f} ms, sites+DNS "
               f"{res['servers_cpu_ms']:.1f} ms) | "
               f"2-core {platform.machine()} VM, Python {platform.python_version()}, "
               f"load avg {os.getloadavg()[0]:.1f} |\n")
        text = out.read_text() if out.exists() else "# probe benchmark\n\n" + header
        out.write_text(text + row)
    return 0 if res["failed"] == 0 and not res["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
