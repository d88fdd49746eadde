"""Ceiling: the least work issue 2's benchmark asks for, done as leanly as CPython allows, with NO classification.

Issue 2's goal is 10,000 web_connectivity measurements per second per core, parse + classify +
write: a budget of 100 us of CPU per measurement. This script measures a deliberately minimal
pipeline over the same corpus as ``benchmarks/classify.py`` (the real samples repeated), adding one
stage at a time, to show what is left of that budget before any rule runs:

A. inflate the ``.jsonl.gz`` (ISA-L) and split it into lines;
B. decode each line with ``msgspec`` straight into typed structs holding only the fields the flat
   observation rows need (faster than ``orjson.loads`` into dicts: unknown keys are skipped in C);
C. a uid (blake2b of the line: cheaper than the store's canonical form) and one flat row per
   network step (DNS query, TCP connect, TLS handshake, HTTP request, network event), as tuples;
D. the write, each variant timed on its own so the cheapest can be picked:
   - Arrow columns from the rows (one transpose per batch of 5,000 measurements);
   - DuckDB ``INSERT ... SELECT`` of the measurement and observation tables in one transaction
     (DuckDB on one thread), or a Parquet file of the observation rows instead;
   - the raw lines in a zstd (level 1) Parquet part, as ``store/rawstore.py`` keeps them.

Nothing here validates the envelope, survives odd records, normalises failures, derives the
canonical uid, classifies, or writes verdict rows: all of that is extra work the real pipeline
(``pipeline/ingest.py``) does on top. So the sum is a lower bound: if it already exceeds 100 us, the
goal cannot be reached by any CPython implementation of this design on this machine.

Usage: ``python benchmarks/classify_ceiling.py [--count N] [--results FILE]``
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
from isal import igzip

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classify import MACHINE, SAMPLES, build_corpus, real_samples

BATCH = 5000


class Query(msgspec.Struct):
    hostname: str | None = None
    query_type: str | None = None
    engine: str | None = None
    resolver_address: str | None = None
    failure: str | None = None
    t0: float | None = None
    t: float | None = None


class Status(msgspec.Struct):
    failure: str | None = None


class Connect(msgspec.Struct):
    ip: str | None = None
    port: int | None = None
    status: Status | None = None
    t0: float | None = None
    t: float | None = None


class Handshake(msgspec.Struct):
    address: str | None = None
    server_name: str | None = None
    failure: str | None = None
    t0: float | None = None
    t: float | None = None


class Request(msgspec.Struct):
    url: str | None = None


class Response(msgspec.Struct):
    code: int | None = None
    body: Any = None


class Http(msgspec.Struct):
    request: Request | None = None
    response: Response | None = None
    failure: str | None = None
    t0: float | None = None
    t: float | None = None


class Event(msgspec.Struct):
    address: str | None = None
    proto: str | None = None
    operation: str | None = None
    num_bytes: int | None = None
    failure: str | None = None
    t0: float | None = None
    t: float | None = None


class TestKeys(msgspec.Struct):
    queries: list[Query] | None = None
    tcp_connect: list[Connect] | None = None
    tls_handshakes: list[Handshake] | None = None
    requests: list[Http] | None = None
    network_events: list[Event] | None = None


class Envelope(msgspec.Struct):
    test_name: str = ""
    report_id: str | None = None
    input: str | None = None
    probe_cc: str = "ZZ"
    probe_asn: str = "AS0"
    measurement_start_time: str | None = None
    test_keys: TestKeys | None = None


OBS_COLUMNS = ("uid", "kind", "idx", "hostname", "query_type", "engine", "resolver", "ip", "port",
               "server_name", "url", "status_code", "body_length", "operation", "num_bytes", "failure",
               "t0", "t")
OBS_DDL = ("CREATE TABLE o (uid VARCHAR, kind VARCHAR, idx INT, hostname VARCHAR, query_type VARCHAR, "
           "engine VARCHAR, resolver VARCHAR, ip VARCHAR, port INT, server_name VARCHAR, url VARCHAR, "
           "status_code INT, body_length BIGINT, operation VARCHAR, num_bytes BIGINT, failure VARCHAR, "
           "t0 DOUBLE, t DOUBLE)")
MSMT_DDL = ("CREATE TABLE m (uid VARCHAR PRIMARY KEY, report_id VARCHAR, test_name VARCHAR, input VARCHAR, "
            "probe_cc VARCHAR, probe_asn VARCHAR, start VARCHAR)")


def rows_of(uid: str, tk: TestKeys, rows: list[tuple[Any, ...]]) -> None:
    """One flat tuple per network step, in OBS_COLUMNS order."""
    add = rows.append
    for i, q in enumerate(tk.queries or ()):
        add((uid, "dns", i, q.hostname, q.query_type, q.engine, q.resolver_address, None, None, None, None,
             None, None, None, None, q.failure, q.t0, q.t))
    for i, c in enumerate(tk.tcp_connect or ()):
        add((uid, "tcp", i, None, None, None, None, c.ip, c.port, None, None, None, None, None, None,
             c.status.failure if c.status else None, c.t0, c.t))
    for i, h in enumerate(tk.tls_handshakes or ()):
        add((uid, "tls", i, None, None, None, None, h.address, None, h.server_name, None, None, None, None,
             None, h.failure, h.t0, h.t))
    for i, r in enumerate(tk.requests or ()):
        resp = r.response
        body = resp.body if resp is not None else None
        add((uid, "http", i, None, None, None, None, None, None, None, r.request.url if r.request else None,
             resp.code if resp is not None else None, len(body) if isinstance(body, str) else None, None,
             None, r.failure, r.t0, r.t))
    for i, e in enumerate(tk.network_events or ()):
        add((uid, "event", i, None, None, e.proto, None, e.address, None, None, None, None, None, e.operation,
             e.num_bytes, e.failure, e.t0, e.t))


class Run:
    """One pass over the corpus doing stages up to ``upto``; write sub-stage CPU seconds in ``split``."""

    def __init__(self, corpus: Path, tmp: Path, upto: str, sink: str) -> None:
        self.corpus, self.tmp, self.upto, self.sink = corpus, tmp, upto, sink
        self.split = {"arrow": 0.0, "duckdb": 0.0, "obs parquet": 0.0, "raw part": 0.0}
        self.con = duckdb.connect(str(tmp / f"{upto}-{sink}.duckdb"))
        self.con.execute("SET threads = 1")
        self.con.execute(OBS_DDL)
        self.con.execute(MSMT_DDL)
        self.parts = 0

    def _timed(self, key: str, fn: Callable[[], Any]) -> Any:
        c0 = time.process_time()
        out = fn()
        self.split[key] += time.process_time() - c0
        return out

    def flush(self, m_cols: dict[str, list[Any]], rows: list[tuple[Any, ...]], raws: list[bytes]) -> None:
        if not raws or self.upto != "D":
            return
        obs = self._timed("arrow", lambda: pa.table(dict(zip(OBS_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))))
        msmts = self._timed("arrow", lambda: pa.table(m_cols))
        if self.sink == "duckdb":
            def insert() -> None:
                con = self.con
                con.register("_m", msmts)
                con.register("_o", obs)
                con.execute("BEGIN")
                con.execute("INSERT INTO m SELECT * FROM _m")
                con.execute("INSERT INTO o SELECT * FROM _o")
                con.execute("COMMIT")
                con.unregister("_m")
                con.unregister("_o")
            self._timed("duckdb", insert)
        else:
            self._timed("obs parquet", lambda: pq.write_table(obs, self.tmp / f"obs-{self.parts}.parquet",
                                                              compression="zstd", compression_level=1))
        raw_table = pa.table({"uid": m_cols["uid"], "raw": pa.array(raws, pa.binary())})
        self._timed("raw part", lambda: pq.write_table(raw_table, self.tmp / f"raw-{self.parts}.parquet",
                                                       compression="zstd", compression_level=1))
        self.parts += 1

    def __call__(self) -> float:
        decode = msgspec.json.Decoder(Envelope).decode
        blake = hashlib.blake2b
        upto = self.upto
        c0 = time.process_time()
        m_cols: dict[str, list[Any]] = {k: [] for k in ("uid", "report_id", "test_name", "input", "probe_cc",
                                                          "probe_asn", "start")}
        rows: list[tuple[Any, ...]] = []
        raws: list[bytes] = []
        with igzip.open(self.corpus, "rb") as fh:
            for line in fh:
                if upto == "A":
                    continue
                m = decode(line)
                if upto == "B":
                    continue
                uid = blake(line, digest_size=16).hexdigest()
                for key, value in (("uid", uid), ("report_id", m.report_id), ("test_name", m.test_name),
                                   ("input", m.input), ("probe_cc", m.probe_cc), ("probe_asn", m.probe_asn),
                                   ("start", m.measurement_start_time)):
                    m_cols[key].append(value)
                raws.append(line)
                if m.test_keys is not None:
                    rows_of(uid, m.test_keys, rows)
                if len(raws) >= BATCH:
                    self.flush(m_cols, rows, raws)
                    m_cols = {k: [] for k in m_cols}
                    rows, raws = [], []
        self.flush(m_cols, rows, raws)
        self.con.close()
        return time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--samples", type=Path, default=SAMPLES)
    ap.add_argument("--results", type=Path, help="append the result rows (markdown) to this file")
    args = ap.parse_args()
    gc.disable()  # decoded structs hold no cycles; the real ingest pauses the collector the same way
    n = args.count
    with tempfile.TemporaryDirectory(prefix="cw-ceiling-") as tmp_name:
        tmp = Path(tmp_name)
        corpus = tmp / "corpus.jsonl.gz"
        build_corpus(real_samples(args.samples, 65_536), n, corpus)
        us: dict[str, float] = {}
        for upto in ("A", "B", "C"):
            us[upto] = Run(corpus, tmp, upto, "duckdb")() / n * 1e6
        splits = {}
        for sink in ("duckdb", "parquet"):
            run = Run(corpus, tmp, "D", sink)
            us[f"D-{sink}"] = run() / n * 1e6
            splits[sink] = {k: v / n * 1e6 for k, v in run.split.items() if v}
    write = {sink: us[f"D-{sink}"] - us["C"] for sink in ("duckdb", "parquet")}
    best = min(write, key=lambda s: write[s])
    floor = us["C"] + write[best]
    lines = [
        f"| A. inflate (ISA-L) + split lines | {us['A']:.1f} us |",
        f"| B. + msgspec typed decode of the needed fields | {us['B']:.1f} us (decode {us['B'] - us['A']:.1f}) |",
        f"| C. + uid (blake2b of the line) + flat observation rows as tuples | {us['C']:.1f} us "
        f"(+{us['C'] - us['B']:.1f}) |",
    ]
    for sink in ("duckdb", "parquet"):
        parts = ", ".join(f"{k} {v:.1f}" for k, v in splits[sink].items())
        lines.append(f"| D. + write, observations to {sink} + zstd raw part | {us[f'D-{sink}']:.1f} us "
                     f"(+{write[sink]:.1f}: {parts}) |")
    lines.append(f"| **lower bound, no classification** (C + cheapest write: {best}) | **{floor:.1f} us = "
                 f"{1e6 / floor:,.0f} msmt/s/core** (goal: 100 us = 10,000/s) |")
    text = "\n".join(lines)
    print(f"{n:,} web_connectivity measurements; {MACHINE} ({platform.python_version()})")
    print(text)
    if args.results:
        with args.results.open("a", encoding="utf-8") as fh:
            fh.write(f"\n<!-- classify_ceiling.py --count {n}: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC -->\n")
            fh.write("| stage (cumulative) | CPU per measurement |\n|---|---|\n" + text + "\n")


if __name__ == "__main__":
    main()
