"""Benchmark: ``censorwatch sync`` from an S3-compatible server against ``ingest`` of the same files.

A simulated corpus is laid out as OONI's archive (``raw/YYYYMMDD/HH/CC/webconnectivity/*.jsonl.gz``)
and uploaded to moto's S3 server on loopback (a public bucket, as OONI's is). Measured in the same
run: ``censorwatch sync`` into a fresh store (list, fetch, inflate, classify, store, record each
object), ``censorwatch ingest`` of the same files from disk into another fresh store (the peer: the
difference is what fetching and bookkeeping cost), a re-run of the sync (listing only: nothing is
fetched) and a ``--dry-run``. The stores must end with the same measurements.

Usage: ``python benchmarks/sync.py --count 100000 [--work /tmp/cw-scale] [--results benchmarks/results/scale.md]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
from harness import ROOT, append_results, archive_layout, load, log, run_cli, simulated_corpus


def _fresh(db: Path) -> Path:
    for p in (db, Path(f"{db}.wal"), Path(f"{db}.raw"), Path(f"{db}.tmp")):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    return db


def _uids(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT measurement_uid FROM measurements").fetchall()}
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/cw-scale"))
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "scale.md")
    args = ap.parse_args()
    import boto3
    from moto.server import ThreadedMotoServer

    started = load()
    corpus, _ = simulated_corpus(args.count, args.work)
    root = args.work / f"archive-{args.count}"
    objects, n = archive_layout(corpus, root)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-central-1", aws_access_key_id="bench",
                      aws_secret_access_key="bench")
    bucket = "ooni-bench"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    log(f"uploading {objects:,} objects")
    files = sorted(root.rglob("*.jsonl.gz"))
    for f in files:
        s3.upload_file(str(f), bucket, str(f.relative_to(root)))
    size = sum(f.stat().st_size for f in files)
    days = sorted(d.name for d in (root / "raw").iterdir())
    since, until = f"{days[0][:4]}-{days[0][4:6]}-{days[0][6:]}", f"{days[-1][:4]}-{days[-1][4:6]}-{days[-1][6:]}"
    env = {"AWS_ENDPOINT_URL": endpoint}
    sync_args = ["sync", "--bucket", bucket, "--since", since, "--until", until, "--format", "json"]
    rows: list[dict[str, Any]] = []
    try:
        db = _fresh(args.work / f"sync-{args.count}.duckdb")
        log("sync --dry-run")
        r = run_cli([*sync_args, "--db", str(db), "--dry-run"], env)
        rows.append({"what": "sync --dry-run (list only)", **r, "fetched": orjson.loads(r["stdout"])["objects"]})
        log("sync")
        r = run_cli([*sync_args, "--db", str(db)], env)
        rows.append({"what": "sync (fetch, inflate, classify, store, record)", **r,
                     "fetched": orjson.loads(r["stdout"])["objects"]})
        log(f"  {r['s']:.0f} s; the peer: ingest of the same files from disk")
        peer = _fresh(args.work / f"peer-{args.count}.duckdb")
        r = run_cli(["ingest", str(root / "raw"), "--db", str(peer)])
        rows.append({"what": "peer: ingest of the same files from disk", **r, "fetched": "-"})
        log(f"  {r['s']:.0f} s; re-run of the sync")
        r = run_cli([*sync_args, "--db", str(db)], env)
        rows.append({"what": "sync again (nothing new)", **r, "fetched": orjson.loads(r["stdout"])["objects"]})
        same = _uids(db) == _uids(peer)
    finally:
        server.stop()
    lines = [f"## Sync from an S3-compatible server (`python benchmarks/sync.py --count {args.count}`)\n",
             f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()}-core VM, moto's server on loopback in the "
             f"benchmark's process; load average at the start {started}. {n:,} measurements in {objects:,} objects "
             f"({size / 2**20:,.1f} MiB). Same measurements stored by sync and by the peer: "
             f"{'yes' if same else 'NO'}.\n",
             "| step | objects fetched | seconds | msmt/s | MiB/s | CPU s (censorwatch) | peak RSS (MiB) | load |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        moved = r["what"].startswith(("sync (", "peer"))
        rate = f"{n / r['s']:,.0f}" if moved else "-"
        mib = f"{size / 2**20 / r['s']:,.1f}" if moved else "-"
        lines.append(f"| {r['what']} | {r['fetched']} | {r['s']:.1f} | {rate} | {mib} | {r['cpu_s']:.1f} | "
                     f"{r['rss_mib']} | {r['load']} |")
    append_results(args.results, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
