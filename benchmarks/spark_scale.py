"""Benchmark: the Spark job over OONI's archive layout against the local engine, same data, same run.

For each ``--counts`` size: a simulated corpus is laid out as OONI's archive
(``raw/YYYYMMDD/HH/CC/webconnectivity/*.jsonl.gz``, ``pipeline/archive/local.py``), then

1. Spark on ``local[2]`` (a subprocess): start-up (JVM and session), file selection
   (``job.archive_files``), classification + aggregation written as Parquet (``job.run``), each timed
   on its own; per core = measurements per second of the job / 2;
2. the local engine: ``censorwatch ingest ROOT/raw`` then ``censorwatch analyze`` (subprocesses);
   per core = measurements per CPU second (it runs in one Python process);
3. the Spark outputs are compared with the local engine's tables (verdicts and every aggregate):
   they must be identical.

Usage: ``python benchmarks/spark_scale.py --counts 100000,1000000 [--work /tmp/cw-scale]
[--results benchmarks/results/scale.md]``. Corpora and archive folders are kept in ``--work``.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
from harness import ROOT, append_results, archive_layout, load, log, run_cli, run_python, simulated_corpus

SPARK = """
import json, os, resource, sys, time
t0 = time.perf_counter()

def tree_peak_kb(root):
    # the sum of each process's own peak RSS (VmHWM) in the tree under root: an upper bound of its peak
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            total += next(int(ln.split()[1]) for ln in open(f"/proc/{pid}/status") if ln.startswith("VmHWM:"))
        except (OSError, StopIteration):
            pass
        stack.extend(kids.get(pid, []))
    return total

from censorwatch.pipeline.spark.engine import session
from censorwatch.pipeline.spark import job
from censorwatch.pipeline.archive.layout import Selection
from datetime import datetime
spark = session("local[2]")
spark.range(1).count()
t1 = time.perf_counter()
sel = Selection(datetime.strptime(sys.argv[3], "%Y%m%d"), datetime.strptime(sys.argv[4], "%Y%m%d"))
files = job.archive_files(spark, sys.argv[1], sel)
t2 = time.perf_counter()
counts = job.run(spark, sys.argv[2], archive=files)
t3 = time.perf_counter()
tree = tree_peak_kb(os.getpid())  # the JVM and its Python workers are not waited for: read them live
spark.stop()
print(json.dumps({"startup": t1 - t0, "listing": t2 - t1, "job": t3 - t2, "files": len(files),
                  "tree_peak_kb": tree, **counts}))
s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stderr.write(f"\\nPEAK_RSS_KB={max(s.ru_maxrss, c.ru_maxrss)} CPU_S={s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime}\\n")
"""

VERDICT_COLS = ("measurement_uid, rules_version, status, method, rule, explanation, fingerprint_id, "
                "fingerprint_scope, blocking, accessible, dns_consistency, body_length_match, body_proportion, "
                "status_code_match, headers_match, title_match, test_name, probe_cc, probe_asn, input, domain, "
                "measurement_start_time, details::VARCHAR")
AGGREGATES = ("agg_hourly", "agg_daily", "agg_hourly_cc", "agg_daily_cc", "volume_hourly")


def _canonical(rows: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    """Rows with their JSON method counts parsed (a JSON object's key order carries no meaning)."""
    return Counter(tuple(tuple(sorted(orjson.loads(v).items())) if isinstance(v, str) and v.startswith("{") else v
                         for v in r) for r in rows)


def differences(db: Path, out: Path) -> dict[str, int]:
    """Rows in one side and not the other, per table (0 everywhere: identical)."""
    con = duckdb.connect(str(db), read_only=True)
    diff = {}
    try:
        spark = f"(SELECT {VERDICT_COLS} FROM read_parquet('{out / 'verdicts'}/*.parquet'))"
        local = f"(SELECT {VERDICT_COLS} FROM verdicts)"
        diff["verdicts"] = int(con.execute(
            f"SELECT (SELECT count(*) FROM ({local} EXCEPT ALL {spark})) + "
            f"(SELECT count(*) FROM ({spark} EXCEPT ALL {local}))").fetchall()[0][0])
        for table in AGGREGATES:
            cols = ", ".join(r[0] for r in con.execute(f"DESCRIBE {table}").fetchall())
            mine = _canonical(con.execute(f"SELECT {cols.replace('methods', 'methods::VARCHAR')} FROM {table}").fetchall())
            theirs = _canonical(con.execute(f"SELECT {cols} FROM read_parquet('{out / table}/*.parquet')").fetchall())
            diff[table] = sum(((mine - theirs) + (theirs - mine)).values())
    finally:
        con.close()
    return diff


def measure(count: int, work: Path) -> dict[str, Any]:
    corpus, _ = simulated_corpus(count, work)
    root = work / f"archive-{count}"
    objects, n = archive_layout(corpus, root)
    out = work / f"spark-out-{count}"
    shutil.rmtree(out, ignore_errors=True)
    log(f"Spark local[2] over {objects:,} archive objects ({n:,} measurements)")
    days = sorted(d.name for d in (root / "raw").iterdir())
    until = (datetime.strptime(days[-1], "%Y%m%d") + timedelta(days=1)).strftime("%Y%m%d")
    sp = run_python(["-c", SPARK, str(root), str(out), days[0], until])
    res = {"n": n, "objects": objects, "spark": sp, "spark_times": orjson.loads(sp["stdout"].splitlines()[-1])}
    log(f"  start-up {res['spark_times']['startup']:.0f} s, job {res['spark_times']['job']:.0f} s")
    db = work / f"local-{count}.duckdb"
    for p in (db, Path(f"{db}.wal"), Path(f"{db}.raw"), Path(f"{db}.tmp")):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    log("local engine: ingest")
    res["ingest"] = run_cli(["ingest", str(root / "raw"), "--db", str(db)])
    log(f"  {res['ingest']['s']:.0f} s; analyze")
    res["analyze"] = run_cli(["analyze", "--db", str(db)])
    log(f"  {res['analyze']['s']:.0f} s; comparing outputs")
    res["diff"] = differences(db, out)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="100000,1000000")
    ap.add_argument("--work", type=Path, default=Path("/tmp/cw-scale"))
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "scale.md")
    args = ap.parse_args()
    started = load()
    lines = [f"## Spark local[2] over the archive layout vs the local engine (`python benchmarks/spark_scale.py "
             f"--counts {args.counts}`)\n",
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()}-core VM; load average at the start {started}. "
             "Spark per core = job msmt/s / 2 (local[2]); local engine per core = msmt per CPU second "
             "(one Python process). Start-up is the JVM and session; the job is classification, aggregation "
             "and writing Parquet.\n",
             "Spark's peak RSS is the sum of each process's peak (driver, JVM, Python workers), an upper bound.\n",
             "| measurements (objects) | engine | start-up s | work s | msmt/s (work) | per core | peak RSS (MiB) "
             "| outputs identical | load at the end |",
             "|---|---|---|---|---|---|---|---|---|"]
    for count in (int(c) for c in args.counts.split(",")):
        r = measure(count, args.work)
        n, st = r["n"], r["spark_times"]
        same = "yes" if not any(r["diff"].values()) else f"NO: {r['diff']}"
        label = f"{n:,} ({r['objects']:,})"
        lines.append(f"| {label} | Spark job (select files + classify + aggregate) | {st['startup']:.1f} | "
                     f"{st['listing'] + st['job']:.1f} | {n / (st['listing'] + st['job']):,.0f} | "
                     f"{n / (st['listing'] + st['job']) / 2:,.0f} | {st['tree_peak_kb'] // 1024} | {same} | "
                     f"{r['spark']['load']} |")
        ing, an = r["ingest"], r["analyze"]
        wall, cpu = ing["s"] + an["s"], ing["cpu_s"] + an["cpu_s"]
        lines.append(f"| {label} | local: ingest + analyze | - | {wall:.1f} (ingest {ing['s']:.1f}) | "
                     f"{n / wall:,.0f} | {n / cpu:,.0f} | {max(ing['rss_mib'], an['rss_mib'])} | (reference) | "
                     f"{an['load']} |")
        print("\n".join(lines[-2:]), flush=True)
    append_results(args.results, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
