"""Benchmark: detection quality (ours vs OONI's CUSUM) and ingest + analyze throughput.

1. Quality: a random multi-week, multi-country scenario (seeded; censored and uncensored countries,
   sparse and bursty networks, partial blocks, restorations, network outages, global site outages,
   noise) is simulated, ingested and analysed with ``censorwatch``'s own pipeline; the events of our
   detector and of the CUSUM baseline are scored against the truth (``pipeline/simulate/score.py``):
   truth onsets found within [-2 h, +6 h], median onset error, false events per 1,000 series-days,
   outages found.
2. Throughput: a corpus of ``--count`` measurements is simulated, then ``censorwatch ingest`` and
   ``censorwatch analyze`` (local engine, then ``--engine spark`` unless ``--no-spark``) run as
   subprocesses on a fresh database: measurements per second and peak RSS (of the process and its
   children, i.e. the Spark JVM included).

Usage: ``python benchmarks/events.py [--days 28] [--seed 1] [--count 1000000] [--no-spark]
[--results benchmarks/results/detection.md]``
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from censorwatch.pipeline.simulate import parse, write  # noqa: E402
from censorwatch.pipeline.simulate.score import score  # noqa: E402

MACHINE = f"{os.cpu_count()}-core {platform.machine()} VM, Python {platform.python_version()}"
METHODS = ["tls.reset", "dns.nxdomain", "dns.bogon", "tcp.timeout", "http.blockpage"]
TARGETS = ["x.com", "wikipedia.org", "bbc.com", "dawn.com", "signal.org", "youtube.com", "rferl.org",
           "example.org", "telegram.org", "hrw.org", "torproject.org", "voanews.com"]


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_scenario(seed: int, days: int, scale: float = 1.0) -> dict[str, Any]:
    rnd = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    countries: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    outages: list[dict[str, Any]] = []
    asn = 64500
    for cc, censored in (("PK", True), ("IR", True), ("RU", True), ("TR", True), ("IT", False), ("DE", False)):
        nets = []
        for _ in range(rnd.choice((2, 3))):
            asn += 1
            nets.append({"asn": f"AS{asn}", "rate": round(rnd.choice((0.4, 0.7, 1.0, 1.5, 2.0)) * scale, 3),
                         "bursty": rnd.random() < 0.3})
        countries.append({"cc": cc, "networks": nets})
        if rnd.random() < 0.6:
            n = rnd.choice(nets)
            os_ = start + timedelta(hours=rnd.uniform(48, days * 24 - 48))
            outages.append({"cc": cc, "asn": n["asn"], "start": _iso(os_),
                            "end": _iso(os_ + timedelta(hours=rnd.uniform(6, 30))), "mode": "dark"})
        if not censored:
            continue
        for target in rnd.sample(TARGETS[:7] + TARGETS[8:], rnd.choice((3, 4, 5))):
            bs = start + timedelta(hours=rnd.uniform(30, days * 24 - 72))
            end = None if rnd.random() < 0.3 else bs + timedelta(hours=rnd.uniform(24, 8 * 24))
            if end is not None and end >= start + timedelta(days=days):
                end = None
            b: dict[str, Any] = {
                "cc": cc, "target": target, "method": rnd.choice(METHODS), "start": _iso(bs),
                "end": None if end is None else _iso(end),
                "asns": [x["asn"] for x in nets if rnd.random() < 0.75] or [nets[0]["asn"]],
                "partial": rnd.choice((1.0, 1.0, 0.9, 0.7)),
            }
            span_end = end or start + timedelta(days=days)
            if (span_end - bs) > timedelta(days=3) and rnd.random() < 0.4:
                rs = bs + timedelta(hours=rnd.uniform(30, (span_end - bs).total_seconds() / 3600 - 40))
                b["restorations"] = [[_iso(rs), _iso(rs + timedelta(hours=rnd.uniform(8, 20)))]]
            blocks.append(b)
    site = []
    for target in rnd.sample(TARGETS, 2):
        ss = start + timedelta(hours=rnd.uniform(24, days * 24 - 24))
        site.append({"target": target, "start": _iso(ss), "end": _iso(ss + timedelta(hours=rnd.uniform(6, 24)))})
    return {"name": f"bench-{seed}", "start": _iso(start), "days": days, "seed": seed, "noise": 0.04,
            "failure": 0.02, "diurnal": 0.5, "targets": TARGETS, "countries": countries, "blocks": blocks,
            "outages": outages, "site_outages": site}


def _cli(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run ``censorwatch ARGS``; (seconds, peak RSS of it and its children in MiB, stdout)."""
    from harness import run_cli

    r = run_cli(args, env)
    return r["s"], r["rss_mib"], r["stdout"]


#: a simulated corpus is one file; at 1M measurements it inflates past the reader's 4 GiB per-file default
WHOLE_FILE = ["--max-file-size", "0"]


def quality(tmp: Path, env: dict[str, str], seed: int, days: int) -> dict[str, Any]:
    sc = random_scenario(seed, days)
    corpus, truth_path, db = tmp / "q.jsonl.gz", tmp / "q.truth.json", tmp / "q.duckdb"
    stats = write(parse(sc), corpus, truth_path)
    t_ing, _, _ = _cli(["ingest", str(corpus), "--db", str(db), *WHOLE_FILE], env)
    t_an, _, _ = _cli(["analyze", "--db", str(db)], env)
    truth = orjson.loads(truth_path.read_bytes())
    res: dict[str, Any] = {"measurements": stats.measurements, "ingest_s": t_ing, "analyze_s": t_an}
    for det in ("ours", "cusum"):
        _, _, out = _cli(["events", "--db", str(db), "--format", "json", "--detector", det], env)
        evs = orjson.loads(out)
        if det == "cusum":  # the baseline has no outage detector of its own: score blocking only
            evs = [e for e in evs if e["kind"] == "blocking"]
        res[det] = score(truth, evs)
    res["truth"] = {"blocks": len(truth["blocks"]), "outages": len(truth["outages"]),
                    "site_outages": len(truth["site_outages"]), "uncensored": truth["uncensored_countries"]}
    return res


def throughput(tmp: Path, env: dict[str, str], count: int, spark: bool) -> list[dict[str, Any]]:
    from harness import sized_scenario

    sc = sized_scenario(count)
    corpus = tmp / "t.jsonl.gz"
    t0 = time.perf_counter()
    stats = write(parse(sc), corpus, tmp / "t.truth.json")
    rows = [{"what": "simulate", "n": stats.measurements, "s": time.perf_counter() - t0, "rss": 0}]
    db = tmp / "t.duckdb"
    s, rss, _ = _cli(["ingest", str(corpus), "--db", str(db), *WHOLE_FILE], env)
    rows.append({"what": "ingest (parse, classify, store)", "n": stats.measurements, "s": s, "rss": rss})
    s, rss, _ = _cli(["analyze", "--db", str(db)], env)
    rows.append({"what": "analyze local (aggregates, events, incidents)", "n": stats.measurements, "s": s,
                 "rss": rss})
    if spark:
        s, rss, _ = _cli(["analyze", "--db", str(db), "--engine", "spark"], env)
        rows.append({"what": "analyze --engine spark local[2] (export, classify, aggregate, events)",
                     "n": stats.measurements, "s": s, "rss": rss})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "detection.md")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    lines = [f"# Detection benchmarks\n\nMachine: {MACHINE}. Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.\n"]
    with tempfile.TemporaryDirectory(prefix="cw-bench-events-") as d:
        tmp = Path(d)
        if not args.skip_quality:
            q = quality(tmp, env, args.seed, args.days)
            for det in ("ours", "cusum"):
                print(det, {k: v for k, v in q[det].items() if k not in ("missed", "false_event_list")})
            lines.append(f"## Detection quality (`python benchmarks/events.py --days {args.days} --seed {args.seed}`)\n")
            lines.append(f"Random scenario: {q['measurements']:,} measurements, {args.days} days, 6 countries "
                         f"(uncensored: {', '.join(q['truth']['uncensored'])}), {q['truth']['blocks']} truth onsets, "
                         f"{q['truth']['outages']} network outages, {q['truth']['site_outages']} global site outages; "
                         f"{q['ours']['series_days']:,} series-days.\n")
            lines.append("| detector | onsets found in [-2 h, +6 h] | median onset error (h) | mean abs (h) | "
                         "found within 48 h (median error h) | median end error (h) | false events | "
                         "per 1,000 series-days | events in uncensored countries | outages found |")
            lines.append("|---|---|---|---|---|---|---|---|---|---|")
            for det, name in (("ours", "ours (bayes HMM + volume outages)"), ("cusum", "OONI CUSUM baseline")):
                r = q[det]
                outs = f"{r['outages_found']}/{r['truth_outages']}" if det == "ours" else "n/a"
                lines.append(f"| {name} | {r['found']}/{r['truth_blocks']} | {r['median_onset_error_h']} | "
                             f"{r['mean_abs_onset_error_h']} | {r['found_within_48h']} "
                             f"({r['median_onset_error_within_48h_h']}) | {r['median_end_error_h']} | {r['false_events']} | "
                             f"{r['false_per_1000_series_days']} | {r['events_in_uncensored_countries']} | {outs} |")
            lines.append("")
        rows = throughput(tmp, env, args.count, not args.no_spark)
    spark_flag = "" if not args.no_spark else " --no-spark"
    lines.append(f"## Throughput (`python benchmarks/events.py --count {args.count}{spark_flag}`)\n")
    lines.append("| what | measurements | seconds | msmt/s | peak RSS (MiB) |")
    lines.append("|---|---|---|---|---|")
    for r in rows:
        lines.append(f"| {r['what']} | {r['n']:,} | {r['s']:.1f} | {r['n'] / r['s']:,.0f} | {r['rss'] or '-'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    if args.skip_quality and args.results.exists():  # add a throughput run to the existing results
        text = args.results.read_text(encoding="utf-8") + "\n" + "\n".join(lines[1:]) + "\n"
    args.results.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
