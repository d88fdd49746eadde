"""Benchmark: what a primary-key index over measurement uids costs in memory, and the ranged anti-join.

Builds two DuckDB tables of ``--rows`` OONI-shaped uids (time first, then country, test and a random
part), one with ``measurement_uid`` as PRIMARY KEY and one without (store/schema.py ``UID_KEYED``),
reopens the database under ``--memory-limit``, then:

1. looks up ``--lookups`` batches of 200 stored uids spread over the whole range (what inserting
   measurements that arrive in time order per country does to the index) and reports DuckDB's own
   accounting (``duckdb_memory()``): the index's loaded part (``ART_INDEX``) stays, whatever the limit;
   or the lookups fail out of memory;
2. times the idempotency check of one 2,000-uid batch of consecutive uids against each table: the
   plain anti-join (the whole uid column) and the one over the batch's uid range (``Store.write``).

Usage: ``python benchmarks/uid_index_memory.py [--rows 5000000] [--memory-limit 256MB] [--lookups 50]``.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
from harness import ROOT, append_results, load, log

UIDS = """
SELECT strftime(TIMESTAMP '2024-01-01' + to_seconds((i % 28) * 86400 + (i // 28) % 86400), '%Y%m%d%H%M%S')
       || '.' || lpad((i % 1000000)::VARCHAR, 6, '0') || '_' || ['PK', 'IR', 'RU', 'CN'][1 + i % 4]
       || '_webconnectivity_' || substr(md5(i::VARCHAR), 1, 16) AS measurement_uid
FROM range({rows}) t(i)
"""


def _memory(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    rows = con.execute("SELECT tag, memory_usage_bytes / 2^20 FROM duckdb_memory() WHERE memory_usage_bytes > 0").fetchall()
    return {str(t): round(float(m), 1) for t, m in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--memory-limit", default="256MB")
    ap.add_argument("--lookups", type=int, default=50)
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "scale.md")
    args = ap.parse_args()
    started = load()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "uids.duckdb")
        log(f"building two tables of {args.rows:,} uids")
        with duckdb.connect(db) as con:
            con.execute("CREATE TABLE keyed (measurement_uid VARCHAR PRIMARY KEY)")
            con.execute("CREATE TABLE plain (measurement_uid VARCHAR NOT NULL)")
            # stored as an ingest of a simulated corpus stores them: each country's in time order in turn
            con.execute(f"CREATE TEMP TABLE u AS {UIDS.format(rows=args.rows)} "
                        "ORDER BY split_part(measurement_uid, '_', 2), measurement_uid")
            con.execute("INSERT INTO keyed SELECT * FROM u")
            con.execute("INSERT INTO plain SELECT * FROM u")
            for table in ("keyed", "plain"):
                con.execute(f"CREATE TABLE u_{table} AS SELECT * FROM u")
        results: list[tuple[str, str]] = []
        rng = random.Random(1)
        for table in ("keyed", "plain"):
            with duckdb.connect(db) as con:
                con.execute(f"SET memory_limit = '{args.memory_limit}'")
                con.execute("SET threads = 2")
                uids = [r[0] for r in con.execute(
                    f"SELECT measurement_uid FROM {table} WHERE rowid % {max(1, args.rows // 20000)} = 0").fetchall()]
                outcome = "ok"
                t0 = time.perf_counter()
                try:
                    for _ in range(args.lookups):
                        part = rng.sample(uids, 200)
                        con.execute(f"SELECT count(*) FROM {table} WHERE measurement_uid IN ({','.join('?' * 200)})",
                                    part).fetchall()
                except duckdb.OutOfMemoryException as exc:
                    outcome = "out of memory: " + str(exc).splitlines()[0]
                lookups_s = time.perf_counter() - t0
                mem = _memory(con)
                start = args.rows // 2
                batch = [r[0] for r in con.execute(
                    f"SELECT measurement_uid FROM u_{table} WHERE rowid BETWEEN {start} AND {start + 1999}").fetchall()]
                con.register("b", pa.table({"measurement_uid": batch}))
                timings = []
                for sql, params in ((f"SELECT count(*) FROM b ANTI JOIN {table} m USING (measurement_uid)", []),
                                    (f"SELECT count(*) FROM b ANTI JOIN (SELECT measurement_uid FROM {table} WHERE "
                                     "measurement_uid BETWEEN ? AND ?) m USING (measurement_uid)",
                                     [min(batch), max(batch)])):
                    t0 = time.perf_counter()
                    try:
                        con.execute(sql, params).fetchall()
                        timings.append(f"{(time.perf_counter() - t0) * 1000:.0f}")
                    except duckdb.OutOfMemoryException:
                        timings.append("out of memory")
                plain_s, ranged_s = timings
            line = (f"| {table} ({'PRIMARY KEY' if table == 'keyed' else 'no index'}) | {args.rows:,} | "
                    f"{args.memory_limit} | {args.lookups} x 200: {outcome} ({lookups_s:.1f} s) | "
                    f"{mem.get('ART_INDEX', 0.0)} | {mem.get('BASE_TABLE', 0.0)} | {plain_s} | {ranged_s} |")
            log(line)
            results.append((table, line))
    cmd = f"python benchmarks/uid_index_memory.py --rows {args.rows} --memory-limit {args.memory_limit} --lookups {args.lookups}"
    lines = [f"## A primary-key index over the uids vs none (`{cmd}`)\n",
             f"Load average at the start {started}, at the end {load()}. Memory is DuckDB's own accounting "
             "(`duckdb_memory()`) after the lookups; the anti-join is one 2,000-uid batch of consecutive uids.\n",
             "| table | uids | DuckDB limit | lookups spread over the range | ART_INDEX MiB | BASE_TABLE MiB | "
             "anti-join ms (whole column) | anti-join ms (batch's range) |",
             "|---|---|---|---|---|---|---|---|", *(line for _, line in results)]
    append_results(args.results, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
