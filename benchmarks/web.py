"""Dashboard/API latency with 10 million measurements: builds the store with DuckDB SQL, then times pages.

    PYTHONPATH=src python benchmarks/web.py [--rows 10000000] [--db /tmp/censorwatch-bench/web.duckdb]
                                          [--rebuild] [--n 40]

Rows are generated set-wise in SQL (no Python loops): 30 countries (AA..BD) x 4 networks x 100 targets over 60
days, time-ordered as they would be ingested; 5 countries block 10 targets in the second month.
Aggregates are computed from the verdicts with GROUP BY, as the pipeline does. A uvicorn server on
127.0.0.1 serves the store; each URL is fetched once to warm up, then ``--n`` times sequentially.
Results go to benchmarks/results/web.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import duckdb
import httpx
import orjson
import uvicorn
import zstandard
from rich.progress import Progress

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from censorwatch.store import schema  # noqa: E402
from censorwatch.store.views import open_db  # noqa: E402
from censorwatch.web.app import create_app  # noqa: E402

START = "2024-01-01 00:00:00"


def build(path: Path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("SET preserve_insertion_order = false")
    for ddl in schema.ALL:
        con.execute(ddl)
    raw = zstandard.ZstdCompressor().compress(orjson.dumps({"test_name": "web_connectivity", "test_keys": {}}))
    steps = [
        ("measurements", f"""
        INSERT INTO measurements
        SELECT printf('%s.%06d_%s_webconnectivity_%016x', strftime(t, '%Y%m%d%H%M%S'), i % 1000000, chr(65 + c // 26) || chr(65 + c % 26), i),
               NULL, 'web_connectivity', 'https://site' || d || '.example/', 'site' || d || '.example',
               chr(65 + c // 26) || chr(65 + c % 26), 'AS' || (64500 + c * 4 + a), t, 'bench', '0', false, 'bench', t, 100, ?, NULL, NULL, NULL
        FROM (SELECT i, TIMESTAMP '{START}' + to_microseconds(CAST(i * (60 * 86400e6 / {rows}) AS BIGINT)) AS t,
                     CAST((i * 7919) % 30 AS INTEGER) AS c, CAST((i * 104729) % 4 AS INTEGER) AS a,
                     CAST((i * 31 + i // 977) % 100 AS INTEGER) AS d
              FROM range({rows}) r(i))"""),
        ("verdicts", f"""
        INSERT INTO verdicts (measurement_uid, rules_version, status, method, rule, explanation, test_name,
                              probe_cc, probe_asn, input, domain, measurement_start_time, details)
        SELECT measurement_uid, 'bench-1', st,
               CASE st WHEN 'confirmed' THEN 'http.blockpage' WHEN 'anomaly' THEN 'dns.nxdomain' ELSE NULL END,
               'wc.' || st, st, test_name, probe_cc, probe_asn, input, domain, measurement_start_time, NULL
        FROM (SELECT *, CASE
                WHEN probe_cc < 'AF' AND domain < 'site10' AND measurement_start_time >= TIMESTAMP '{START}' + INTERVAL 30 DAY
                     THEN CASE WHEN hash(measurement_uid) % 3 = 0 THEN 'anomaly' ELSE 'confirmed' END
                WHEN hash(measurement_uid) % 100 < 2 THEN 'anomaly'
                WHEN hash(measurement_uid) % 100 < 3 THEN 'down'
                ELSE 'ok' END AS st FROM measurements)"""),
        ("agg_hourly", """
        INSERT INTO agg_hourly SELECT probe_cc, probe_asn, domain, date_trunc('hour', measurement_start_time),
            count(*), count(*) FILTER (status = 'ok'), count(*) FILTER (status = 'anomaly'),
            count(*) FILTER (status = 'confirmed'), count(*) FILTER (status = 'down'),
            count(*) FILTER (status = 'failure'), count(*) FILTER (status = 'measured'), NULL
            FROM verdicts GROUP BY ALL ORDER BY 4"""),
        ("agg_daily", """
        INSERT INTO agg_daily SELECT probe_cc, probe_asn, domain, CAST(hour AS DATE), sum(total), sum(ok),
            sum(anomaly), sum(confirmed), sum(down), sum(failure), sum(measured), NULL FROM agg_hourly
            GROUP BY ALL ORDER BY 4"""),
        ("volume_hourly", """
        INSERT INTO volume_hourly SELECT probe_cc, probe_asn, hour, sum(total), sum(total) - sum(down)
        FROM agg_hourly GROUP BY ALL ORDER BY 3"""),
        ("events", f"""
        INSERT INTO events SELECT printf('ev-%s-%s-%s', probe_cc, probe_asn, domain), 'blocking', 'bayes',
            probe_cc, probe_asn, [probe_asn], domain, TIMESTAMP '{START}' + INTERVAL 30 DAY, NULL, 'http.blockpage',
            'confirmed', count(*), list(measurement_uid ORDER BY measurement_uid DESC)[:100], NULL
        FROM verdicts WHERE status = 'confirmed' AND probe_cc < 'AF' AND domain < 'site10' GROUP BY ALL"""),
        ("incidents", f"""
        INSERT INTO incidents SELECT printf('inc-%s-%s', cc, target), cc, target, 'blocking', list(asn ORDER BY asn),
            ['http.blockpage'], min(start_time), NULL, 'confirmed', 'inc.confirmed', 'blockpage fingerprint',
            list(id), flatten(list(evidence))[:400], sum(measurements), TIMESTAMP '{START}' + INTERVAL 60 DAY, NULL
        FROM events GROUP BY cc, target"""),
        ("ended incidents", f"""
        INSERT INTO incidents SELECT printf('old-%d-%d', i % 30, i), chr(CAST(65 + (i % 30) // 26 AS INTEGER)) || chr(CAST(65 + (i % 30) % 26 AS INTEGER)), 'site' || (i % 100) || '.example',
            'blocking', ['AS' || (64500 + (i % 30) * 4)], ['dns.nxdomain'], TIMESTAMP '{START}' + to_days(CAST(i % 25 AS INTEGER)),
            TIMESTAMP '{START}' + to_days(CAST(i % 25 + 2 AS INTEGER)), 'likely', 'inc.likely', 'persistent NXDOMAIN',
            [], [], 50, TIMESTAMP '{START}' + to_days(CAST(i % 25 + 2 AS INTEGER)), NULL FROM range(2000) r(i)"""),
    ]
    with Progress() as progress:
        task = progress.add_task("building the benchmark store", total=len(steps))
        for name, sql in steps:
            progress.update(task, description=f"building {name}")
            con.execute(sql, [raw] if name == "measurements" else [])
            progress.advance(task)
    con.execute("CHECKPOINT")
    con.close()


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def urls_for(inc: str, uid: str) -> list[tuple[str, str]]:
    return [
        ("home page", "/"), ("home API", "/api/v1/home"),
        ("country page", "/country/AB"), ("country API", "/api/v1/countries/AB"),
        ("incident page", f"/incident/{inc}"), ("incident API", f"/api/v1/incidents/{inc}"),
        ("incident evidence API", f"/api/v1/incidents/{inc}/evidence"),
        ("incidents list API", "/api/v1/incidents?limit=50"),
        ("atom feed", "/feeds/incidents.atom"),
        ("measurements API (cc filter)", "/api/v1/measurements?cc=AH&limit=50"),
        ("measurements API (no filter)", "/api/v1/measurements?limit=50"),
        ("measurement page", f"/measurement/{uid}"),
    ]


def run(con: duckdb.DuckDBPyConnection, db: Path, urls: list[tuple[str, str]], n: int, ttl: float) -> list[tuple[str, str, float, float, int]]:
    """Serve with the given page-cache TTL; warm each URL once, then time ``n`` sequential requests."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(con, db_path=db, cache_ttl=ttl)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    while not srv.started:
        time.sleep(0.05)
    results = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client, Progress() as progress:
        task = progress.add_task(f"timing (cache ttl {ttl:g}s)", total=len(urls) * (n + 1))
        for name, url in urls:
            r = client.get(url)
            assert r.status_code == 200, (url, r.status_code, r.text[:200])
            progress.advance(task)
            times = []
            for _ in range(n):
                t = time.perf_counter()
                r = client.get(url)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200
                progress.advance(task)
            results.append((name, url, statistics.median(times), percentile(times, 95), len(r.content)))
    srv.should_exit = True
    th.join(timeout=10)
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--db", type=Path, default=Path("/tmp/censorwatch-bench/web.duckdb"))
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "web.md")
    a = ap.parse_args()
    if a.rebuild or not a.db.exists():
        t = time.monotonic()
        build(a.db, a.rows)
        print(f"built {a.rows} measurements in {time.monotonic() - t:.0f}s")
    con = open_db(a.db)
    n = con.execute("SELECT count(*) FROM measurements").fetchone()[0]  # type: ignore[index]
    inc = con.execute("SELECT id FROM incidents WHERE end_time IS NULL ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
    uid = con.execute("SELECT evidence[1] FROM incidents WHERE id = ?", [inc]).fetchone()[0]  # type: ignore[index]
    load_before = os.getloadavg()[0]
    results = {ttl: run(con, a.db, urls_for(inc, uid), a.n, ttl) for ttl in (0.0, 600.0)}
    load_after = os.getloadavg()[0]
    lines = [
        "# Web: dashboard and API latency",
        "",
        f"Store: {n:,} measurements (+ verdicts, hourly/daily aggregates), built synthetically in DuckDB SQL.",
        f"Command: `PYTHONPATH=src python benchmarks/web.py --rows {a.rows} --n {a.n}`; machine: 2-core "
        f"{platform.machine()} VM, Python {platform.python_version()}; sequential requests over loopback to "
        "uvicorn, after one warm-up request each. Goal: p95 < 200 ms.",
        f"Machine load average during the run: {load_before:.1f} before, {load_after:.1f} after (other work "
        "shared the 2 cores; numbers on an idle machine are lower).",
        "",
        "Uncached: every request runs all its queries (`--cache-ttl 0`). Cached: the default page-data cache",
        "(home, country, target and incident data; admin writes clear it) answers repeated requests.",
        "",
        "| what | URL | uncached p50 ms | uncached p95 ms | cached p50 ms | cached p95 ms | bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for (name, url, p50, p95, size), (_, _, c50, c95, _) in zip(results[0.0], results[600.0], strict=True):
        lines.append(f"| {name} | `{url}` | {p50:.1f} | {p95:.1f} | {c50:.1f} | {c95:.1f} | {size} |")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
