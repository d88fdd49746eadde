"""Benchmark: web_connectivity measurements per second per core, parse + classify + write.

Builds a corpus of >= 100,000 web_connectivity measurements by repeating the real samples in
``../shared/data/ooni-samples`` (each copy gets its own ``measurement_start_time`` and ``report_id``
and no ``measurement_uid``, so every copy gets its own derived uid), writes it as one ``.jsonl.gz``
into a temporary directory, then

1. in one process with DuckDB limited to one thread: read + parse, uid, classify, build rows,
   compress raw, write to a fresh DuckDB file (``pipeline.ingest.ingest``), reported per CPU second;
2. the same work split into stages (parse only; parse + classify) to show where the time goes;
3. ``censorwatch classify CORPUS`` as a subprocess (CPU seconds, against the floor), then
   ``censorwatch ingest CORPUS --db fresh.duckdb`` as a subprocess (wall time, default threads),
   then once more to time an idempotent re-ingest.

``--stages`` instead walks the ingest path by hand, batch by batch as ``ingest`` does, and reports
the CPU time of each stage per measurement (inflate, JSON decode, envelope, uid, typed observations,
classify, rows, Arrow tables, raw part, DuckDB inserts + commit) beside the floor of the same run.

Usage: ``python benchmarks/classify.py [--count N] [--max-sample-bytes B] [--profile] [--stages] [--results FILE]``
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from censorwatch.analysis import RULES_VERSION, classify  # noqa: E402
from censorwatch.analysis.fingerprints import load_fingerprints  # noqa: E402
from censorwatch.model.measurement import Measurement  # noqa: E402
from censorwatch.pipeline.ingest import ingest  # noqa: E402
from censorwatch.store.db import Store  # noqa: E402
from censorwatch.store.reader import read_paths  # noqa: E402

SAMPLES = Path(os.environ.get("CENSORWATCH_SHARED", REPO.parent / "shared")) / "data" / "ooni-samples"
MACHINE = "2-core x86_64 VM, Python 3.11"


def real_samples(directory: Path, max_bytes: int) -> list[dict[str, Any]]:
    """Every web_connectivity measurement in ``directory`` whose raw form is <= ``max_bytes`` (0: all)."""
    out = []
    for item in read_paths([directory]):
        if isinstance(item, Measurement) and item.test_name == "web_connectivity":
            size = len(item.raw_bytes or orjson.dumps(item.raw))
            if max_bytes <= 0 or size <= max_bytes:
                out.append(item.raw)
    if not out:
        sys.exit(f"no web_connectivity samples in {directory}")
    return out


def build_corpus(samples: list[dict[str, Any]], count: int, path: Path) -> int:
    """Write ``count`` copies round-robin as JSON lines (gzip); returns the uncompressed byte count."""
    base = datetime(2024, 1, 1, tzinfo=UTC)
    total = 0
    with gzip.open(path, "wb", compresslevel=1) as fh:
        buf = io.BytesIO()
        for i in range(count):
            obj = dict(samples[i % len(samples)])
            obj.pop("measurement_uid", None)
            start = base + timedelta(seconds=i)
            obj["measurement_start_time"] = start.strftime("%Y-%m-%d %H:%M:%S")
            obj["report_id"] = f"{start:%Y%m%dT%H%M%SZ}_webconnectivity_bench_{i:08d}"
            line = orjson.dumps(obj) + b"\n"
            total += len(line)
            buf.write(line)
            if buf.tell() > 1 << 24:
                fh.write(buf.getvalue())
                buf = io.BytesIO()
        fh.write(buf.getvalue())
    return total


def timed(fn: Any) -> tuple[Any, float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    res = fn()
    return res, time.process_time() - c0, time.perf_counter() - w0


def stage_costs(corpus: Path, fps: Any, tmp: Path, batch: int = 2000) -> list[tuple[str, float]]:
    """CPU seconds of each stage of the ingest path over ``corpus``, timed around its own calls.

    The same calls ``pipeline.ingest`` makes, in the same batches; the Arrow tables are built once
    apart (to time them) and once more inside ``Store.write``, whose time is reported without them.
    """
    import gc
    import itertools

    from censorwatch.store.reader import open_input
    from censorwatch.store.rows import RowBatch
    from censorwatch.store.uid import stable_uid

    pt = time.process_time
    gc.disable()  # as ingest does while a batch is alive
    try:
        t = pt()
        with open_input(corpus) as fh:
            for _ in fh:
                pass
        inflate = pt() - t
        t = pt()
        with open_input(corpus) as fh:
            for line in fh:
                orjson.loads(line)
        floor = pt() - t
        store = Store(tmp / "stages.duckdb")
        store.con.execute("SET threads = 1").fetchall()
        raws_append = store.raws.append
        cost = dict.fromkeys(("reader", "uid", "lookup", "observations", "classify", "rows", "arrow",
                              "raw part", "write"), 0.0)

        def timed_append(uids: list[str], raws: list[bytes]) -> int:
            t0 = pt()
            part = raws_append(uids, raws)
            cost["raw part"] += pt() - t0
            return part

        store.raws.append = timed_append  # type: ignore[method-assign]
        items = read_paths([corpus])
        while True:
            t = pt()
            ms: list[Measurement] = list(itertools.islice(items, batch))  # type: ignore[arg-type]
            cost["reader"] += pt() - t
            if not ms:
                break
            t = pt()
            uids = [stable_uid(m) for m in ms]
            cost["uid"] += pt() - t
            t = pt()
            store.existing_uids(uids)
            cost["lookup"] += pt() - t
            t = pt()
            for m in ms:
                m.observations(with_events=False)  # what the web_connectivity rules read
            cost["observations"] += pt() - t
            t = pt()
            verdicts = [classify(m, fps) for m in ms]
            cost["classify"] += pt() - t
            t = pt()
            rb = RowBatch()
            for uid, m, v in zip(uids, ms, verdicts, strict=True):
                rb.add_measurement(uid, m, m.raw_bytes or b"")
                rb.add_verdict(uid, v, m.measurement_start_time)
            cost["rows"] += pt() - t
            t = pt()
            rb.measurements_table(), rb.observations_table(), rb.verdicts_table()
            cost["arrow"] += pt() - t
            t = pt()
            store.write(rb)
            cost["write"] += pt() - t
        t = pt()
        store.close()
        cost["write"] += pt() - t
    finally:
        gc.enable()
    duckdb = cost.pop("write") - cost["arrow"] - cost["raw part"]
    reader = cost.pop("reader") - floor
    return [("floor: inflate + split lines", inflate), ("floor: orjson.loads", floor - inflate),
            ("envelope (reader + Measurement.from_raw, beyond the floor)", reader),
            *((k, v) for k, v in cost.items()), ("DuckDB inserts + commit + checkpoints", duckdb)]


def full_run(args: argparse.Namespace, corpus: Path, fps: Any, desc: str, tmp: Path) -> list[str]:
    """The floor, the parse and classify stages, the in-process ingest and (unless ``--no-cli``) the CLI."""
    rows: list[str] = []
    # the floor: inflating the file and decoding each line's JSON, nothing else
    def floor() -> int:
        from censorwatch.store.reader import open_input
        n = 0
        with open_input(corpus) as fh:
            for line in fh:
                orjson.loads(line)
                n += 1
        return n
    n_floor, c_floor, _ = timed(floor)
    print(f"floor (inflate + orjson.loads): {n_floor / c_floor:9,.0f} msmt/cpu-s ({c_floor:.1f} s)")
    # stage split: parse only, then parse + classify (no store)
    n_parse, c_parse, _ = timed(lambda: sum(1 for _ in read_paths([corpus])))
    n_cls, c_cls, _ = timed(lambda: sum(1 for m in read_paths([corpus]) if classify(m, fps)))  # type: ignore[arg-type,misc]
    print(f"parse only:       {n_parse / c_parse:9,.0f} msmt/cpu-s ({c_parse:.1f} s)")
    print(f"parse + classify: {n_cls / c_cls:9,.0f} msmt/cpu-s ({c_cls:.1f} s)")

    # the full pipeline in one process, DuckDB on one thread
    db = tmp / "inproc.duckdb"
    store = Store(db)
    store.con.execute("SET threads = 1").fetchall()
    prof = cProfile.Profile() if args.profile else None
    if prof:
        prof.enable()
    stats, cpu, wall = timed(lambda: ingest(store, read_paths([corpus]), fingerprints=fps))
    if prof:
        prof.disable()
    counts = store.counts()
    store.close()
    assert stats.new == args.count and counts["verdicts"] == args.count, (stats, counts)
    per_core = args.count / cpu
    raw_mib = sum(p.stat().st_size for p in Path(f"{db}.raw").glob("*.parquet")) / 2**20
    print(f"parse+classify+write: {per_core:9,.0f} msmt/cpu-s; wall {wall:.1f} s "
          f"({args.count / wall:,.0f}/s); db {db.stat().st_size / 2**20:,.0f} MiB + raw parts "
          f"{raw_mib:,.0f} MiB; {counts}")
    rows.append(f"| parse + classify + write, one process, DuckDB threads=1 | {desc} | "
                f"**{per_core:,.0f} msmt/s/core** (CPU {cpu:.1f} s, wall {wall:.1f} s) |")
    rows.append(f"| floor: inflate the .gz and decode each line's JSON, nothing else | same corpus | "
                f"{n_floor / c_floor:,.0f} msmt/s/core |")
    rows.append(f"| stage: parse only (reader + envelope) | same corpus | {n_parse / c_parse:,.0f} msmt/s/core |")
    rows.append(f"| stage: parse + classify (no store) | same corpus | {n_cls / c_cls:,.0f} msmt/s/core |")
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)

    if not args.no_cli:
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        cli_db = tmp / "cli.duckdb"
        # `censorwatch classify` (no store) per CPU second, against the floor measured above
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run([sys.executable, "-m", "censorwatch", "classify", str(corpus)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            sys.exit(f"`censorwatch classify` failed ({proc.returncode}): {proc.stderr[-2000:]}")
        cpu_s = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        ratio = c_floor / cpu_s
        print(f"censorwatch classify: {args.count / cpu_s:,.0f} msmt/cpu-s, {ratio:.3f}x the floor")
        rows.append(f"| `censorwatch classify` CLI (start-up included), per CPU second | same corpus | "
                    f"{args.count / cpu_s:,.0f} msmt/s/core = **{ratio:.3f}x the floor** |")
        cmd = [sys.executable, "-m", "censorwatch", "ingest", str(corpus), "--db", str(cli_db)]
        for label in ("ingest (fresh db)", "re-ingest (idempotent)"):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            w0 = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            w = time.perf_counter() - w0
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_s = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            if proc.returncode != 0:
                sys.exit(f"`censorwatch ingest` failed ({proc.returncode}): {proc.stderr[-2000:]}")
            rss = r1.ru_maxrss / 2**10  # KiB -> MiB; the largest of the children so far
            print(f"censorwatch {label}: wall {w:.1f} s ({args.count / w:,.0f} msmt/s), CPU {cpu_s:.1f} s, "
                  f"peak RSS {rss:,.0f} MiB")
            rows.append(f"| `censorwatch ingest` CLI, {label} | same corpus | wall {w:.1f} s "
                        f"({args.count / w:,.0f} msmt/s), CPU {cpu_s:.1f} s, peak RSS {rss:,.0f} MiB |")
        # every verdict made stale, as after a rules change: `analyze` re-derives them all
        with Store(cli_db) as s:
            s.con.execute("UPDATE verdicts SET rules_version = '0-bench'").fetchall()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "censorwatch", "analyze", "--db", str(cli_db)],
                              env=env, capture_output=True, text=True)
        w = time.perf_counter() - w0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        if proc.returncode != 0:
            sys.exit(f"`censorwatch analyze` failed ({proc.returncode}): {proc.stderr[-2000:]}")
        print(f"censorwatch analyze (all stale): wall {w:.1f} s ({args.count / w:,.0f} msmt/s), CPU {cpu_s:.1f} s")
        rows.append(f"| `censorwatch analyze` CLI, every verdict stale (rules changed) | same corpus | "
                    f"wall {w:.1f} s ({args.count / w:,.0f} msmt/s), CPU {cpu_s:.1f} s |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--samples", type=Path, default=SAMPLES)
    ap.add_argument("--max-sample-bytes", type=int, default=65_536,
                    help="use samples up to this size (0 = every web_connectivity sample)")
    ap.add_argument("--profile", action="store_true", help="cProfile the in-process run, print the top 25")
    ap.add_argument("--no-cli", action="store_true", help="skip the `censorwatch ingest` subprocess runs")
    ap.add_argument("--stages", action="store_true", help="only the CPU cost of each stage of the ingest path")
    ap.add_argument("--results", type=Path, help="append the result rows (markdown) to this file")
    args = ap.parse_args()

    samples = real_samples(args.samples, args.max_sample_bytes)
    fps = load_fingerprints(None)
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cw-bench-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl.gz"
        raw_total = build_corpus(samples, args.count, corpus)
        mean = raw_total / args.count
        desc = (f"{args.count:,} web_connectivity msmts repeating {len(samples)} real samples "
                f"(mean {mean / 1024:.1f} KiB, {raw_total / 2**20:,.0f} MiB JSON, "
                f"{corpus.stat().st_size / 2**20:,.0f} MiB gz)")
        print(desc, f"rules {RULES_VERSION}", flush=True)

        if args.stages:
            costs = stage_costs(corpus, fps, Path(tmp))
            floor_s = costs[0][1] + costs[1][1]
            total = sum(v for _, v in costs)
            load = os.getloadavg()
            rows.append("| stage | CPU us per measurement |\n|---|---:|")
            rows += [f"| {name} | {v / args.count * 1e6:.1f} |" for name, v in costs]
            rows.append(f"| **parse + classify + write (every stage, the floor's included)** | "
                        f"**{total / args.count * 1e6:.1f}** = {args.count / total:,.0f} msmt/s/core, "
                        f"{floor_s / total:.3f}x the floor ({args.count / floor_s:,.0f}/s) |")
            rows.append(f"\nload average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; {desc}")
        else:
            rows += full_run(args, corpus, fps, desc, Path(tmp))
    text = "\n".join(rows)
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as fh:
            fh.write(f"\n<!-- {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, "
                     f"Python {platform.python_version()}, rules {RULES_VERSION}; machine: {MACHINE} -->\n")
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
