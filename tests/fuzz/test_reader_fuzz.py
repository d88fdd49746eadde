"""Malformed files of mutated records through the reader and ``ingest``: every record is either stored
or reported with ``path:line`` and a reason, and everything else in the same file is stored."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import duckdb
import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from censorwatch.model.measurement import Measurement
from censorwatch.pipeline.ingest import ingest
from censorwatch.store.db import Store
from censorwatch.store.reader import Limits, ReadError, read_paths
from fuzz.hostile import hostile_bodies, measurement, mutate

HOSTILE = [body for _, body in hostile_bodies(3) if b"\n" not in body and body.strip()]


def _file(tmp: Path, seed: int, n: int, kind: str) -> tuple[Path, list[bytes]]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        good = orjson.dumps(measurement(seed * 10_000 + i))
        r = rng.random()
        lines.append(good if r < 0.5 else mutate(rng, good) if r < 0.8 else rng.choice(HOSTILE))
    body = b"\n".join(lines) + b"\n"
    path = tmp / f"f{seed}.{kind}"
    path.write_bytes(gzip.compress(body) if kind.endswith(".gz") else body)
    return path, lines


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(seed=0, n=2, kind="json")  # a damaged object line, then 42: JSON lines, each located
@example(seed=4639, n=2, kind="json")  # a damaged line, then one over the record limit: both located
@given(seed=st.integers(0, 10**6), n=st.integers(1, 40), kind=st.sampled_from(["jsonl", "jsonl.gz", "json"]))
def test_every_record_is_stored_or_located(tmp_path_factory, seed: int, n: int, kind: str) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("reader-fuzz")
    path, lines = _file(tmp, seed, n, kind)
    items = list(read_paths([path], limits=Limits(max_record_bytes=512 * 1024)))
    covered: set[int] = set()
    for it in items:
        src = it.source if isinstance(it, ReadError) else (it.source or "")
        if isinstance(it, ReadError):
            assert it.reason, it
        if src == str(path):  # a .json file read as one document (one record): its first line
            covered.add(1)
            continue
        assert src.startswith(f"{path}:"), src
        covered.add(int(src.split(":")[-1].split("[")[0]))
    expected = {i + 1 for i, line in enumerate(lines) if line.strip()}
    if kind == "json" and len(lines) == 1 and len(items) == 1:
        return  # one line under a .json name is one document: reported (or stored) whole
    assert expected <= covered, sorted(expected - covered)[:5]
    good = [it for it in items if isinstance(it, Measurement)]
    with Store(tmp / "s.duckdb") as store:
        errors: list[ReadError] = []
        stats = ingest(store, read_paths([path], limits=Limits(max_record_bytes=512 * 1024)), on_error=errors.append)
    assert stats.read == len(items)
    assert stats.new + stats.duplicates + stats.conflicts + stats.bad == stats.read
    with duckdb.connect(str(tmp / "s.duckdb"), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM measurements").fetchone()
    assert row is not None and row[0] == stats.new
    # a good record is stored, a duplicate, a conflict, or reported by ingest (e.g. no uid can be derived)
    reported_by_ingest = stats.bad - (len(items) - len(good))
    assert stats.new + stats.duplicates + stats.conflicts + reported_by_ingest == len(good)
    assert all(e.source.startswith(f"{path}") and e.reason for e in errors)
