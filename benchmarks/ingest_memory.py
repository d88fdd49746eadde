"""Benchmark: peak RSS of ``censorwatch ingest`` and ``analyze`` at growing corpus sizes.

For each ``--counts`` size, a simulated corpus (``censorwatch simulate``'s generator, sized like
``benchmarks/events.py``) is ingested into a fresh store and analysed, each as a subprocess; the peak
RSS of the process and its children, wall and CPU seconds are recorded with the load average.
``--baseline`` also ingests with the settings before the memory budget (DuckDB's own default memory
limit, 80 % of RAM, and batches of 5,000) as a peer measured in the same run.

The goal: peak RSS does not grow with the corpus (the store's DuckDB budget and the ingest batch fix
it; docs/store.md "Memory: a fixed budget").

Usage: ``python benchmarks/ingest_memory.py --counts 100000,1000000 [--baseline] [--work /tmp/cw-scale]
[--results benchmarks/results/scale.md]``. Corpora are kept in ``--work`` for the next run.
"""

from __future__ import annotations

import argparse
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from harness import ROOT, append_results, load, log, run_cli, simulated_corpus

OLD_BATCH = "5000"


def _old_memory_limit() -> str:
    """DuckDB's default: 80 % of the machine's memory."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{int(total * 0.8) // 2**20}MB"


def _size_mib(db: Path) -> int:
    files = [db, *Path(f"{db}.raw").glob("*")]
    return sum(f.stat().st_size for f in files if f.is_file()) // 2**20


def _stored(db: Path) -> int:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM measurements").fetchone()
    return int(row[0]) if row else 0


def measure(count: int, work: Path, baseline: bool) -> list[dict[str, object]]:
    corpus, n = simulated_corpus(count, work)
    rows: list[dict[str, object]] = []
    runs = [("ingest", [], "")]
    if baseline:
        runs.append(("ingest", ["--batch-size", OLD_BATCH, "--memory-limit", _old_memory_limit()],
                     f" (before: batch {OLD_BATCH}, DuckDB limit {_old_memory_limit()})"))
    for cmd, extra, label in runs:
        db = work / f"store-{count}{'-old' if extra else ''}.duckdb"
        for p in (db, Path(f"{db}.wal"), Path(f"{db}.raw"), Path(f"{db}.tmp")):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        log(f"{cmd}{label} of {n:,} measurements")
        # one file of n measurements: past the reader's 4 GiB per-file default from ~800k on
        r = run_cli([cmd, str(corpus), "--db", str(db), "--max-file-size", "0", *extra])
        stored = _stored(db)
        # exit 0: every record was stored or was already there (a corpus can repeat a measurement)
        if r["code"] != 0 or stored < n * 0.999:
            raise SystemExit(f"ingest stored {stored:,} of {n:,} measurements (exit {r['code']}, "
                             f"{r['s']:.0f} s, peak RSS {r['rss_mib']} MiB):\n{r['stdout'][-2000:]}\n"
                             f"{r['stderr'][-3000:]}")
        repeats = f", {n - stored:,} repeated in the corpus" if stored < n else ""
        rows.append({"what": f"ingest{label} ({stored:,} stored{repeats})", "n": n, **r, "size": _size_mib(db)})
        log(f"  {r['s']:.0f} s, peak RSS {r['rss_mib']} MiB")
        if not extra:
            log(f"analyze of {n:,} measurements")
            r = run_cli(["analyze", "--db", str(db)])
            rows.append({"what": "analyze (local engine)", "n": n, **r, "size": _size_mib(db)})
            log(f"  {r['s']:.0f} s, peak RSS {r['rss_mib']} MiB")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="100000,1000000")
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--work", type=Path, default=Path("/tmp/cw-scale"))
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "scale.md")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    started = load()
    rows = [r for c in counts for r in measure(c, args.work, args.baseline)]
    cmd = f"python benchmarks/ingest_memory.py --counts {args.counts}{' --baseline' if args.baseline else ''}"
    lines = [f"## Ingest and analyze memory (`{cmd}`)\n",
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()}-core VM; load average at the start "
             f"{started}, at each step in the last column.\n",
             "| step | measurements | seconds | msmt/s | CPU s | peak RSS (MiB) | store on disk (MiB) | load (1, 5, 15 min) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['what']} | {r['n']:,} | {r['s']:.1f} | {r['n'] / r['s']:,.0f} | {r['cpu_s']:.1f} | "
                     f"{r['rss_mib']} | {r['size']} | {r['load']} |")
    append_results(args.results, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
