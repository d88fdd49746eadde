"""One row per measurement_uid without a primary-key index (store/schema.py ``UID_KEYED``).

``Store.write`` anti-joins each batch against the stored uids between the batch's least and greatest;
these tests write batches whose ranges overlap what is stored in every way, and check that each uid
is stored exactly once, that repeats are refused, and that running out of DuckDB's budget is one
clear ``StoreError`` with everything committed before it kept.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict
from censorwatch.store import schema
from censorwatch.store.db import DuckDBSettings, Store, StoreError
from censorwatch.store.rows import RowBatch

REPO = Path(__file__).resolve().parents[2]
START = datetime(2024, 2, 17, 10, 0, 0)


def _uid(i: int) -> str:
    # the shape of OONI's uids: the measurement's time first, then country, test and a random part
    return f"202402{1 + i % 28:02d}{i % 24:02d}0000.{i:06d}_PK_webconnectivity_{i * 2654435761 % 2**64:016x}"


def _batch(ids: list[int], *, verdicts: bool = True) -> RowBatch:
    batch = RowBatch()
    for i in ids:
        uid = _uid(i)
        m = Measurement.from_raw({"test_name": "web_connectivity", "input": f"https://s{i}.example/",
                                  "measurement_start_time": "2024-02-17 10:00:00", "probe_cc": "PK",
                                  "probe_asn": "AS17557", "test_keys": {}}, source="t")
        batch.add_measurement(uid, m, f'{{"n": {i}}}'.encode())
        if verdicts:
            batch.add_verdict(uid, Verdict(
                source="t", measurement_uid=uid, report_id=None, test_name="web_connectivity", probe_cc="PK",
                probe_asn="AS17557", input=m.input, domain=m.domain, measurement_start_time=None, status="ok",
                method=None, rule="r", rules_version="web_connectivity/x", explanation="e."), START)
    return batch


def test_a_new_store_keeps_no_index_over_the_uids(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as store:
        keyed = {r[0] for r in store.con.execute(
            "SELECT table_name FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
        ).fetchall()}
    assert keyed and not keyed & set(schema.UID_KEYED)


def test_each_uid_is_stored_once_whatever_the_batches_overlap(tmp_path: Path) -> None:
    rng = random.Random(7)
    ids = list(range(3000))
    with Store(tmp_path / "a.duckdb") as store:
        stored: set[int] = set()
        for _ in range(12):
            # a fresh slice, some already stored (inside and at the edges of the batch's uid range)
            chosen = set(rng.sample(ids, rng.randint(1, 400))) | set(rng.sample(sorted(stored) or ids, 50))
            res = store.write(_batch(sorted(chosen, key=lambda i: rng.random())))
            assert res.measurements == res.verdicts == len(chosen - stored)
            stored |= chosen
            probe = rng.sample(ids, 300)
            assert store.existing_uids(_uid(i) for i in probe) == {_uid(i) for i in probe if i in stored}
        counts = store.con.execute(
            "SELECT (SELECT count(*) FROM measurements), (SELECT count(DISTINCT measurement_uid) FROM measurements), "
            "(SELECT count(*) FROM verdicts), (SELECT count(DISTINCT measurement_uid) FROM verdicts)").fetchall()[0]
        raws = store.stored_raws([_uid(i) for i in stored])
    assert counts == (len(stored),) * 4
    assert raws == {_uid(i): f'{{"n": {i}}}'.encode() for i in stored}


def test_replacing_verdicts_leaves_one_per_uid(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as store:
        store.write(_batch(list(range(100))))
        res = store.write(_batch(list(range(50, 150)), verdicts=True), replace_verdicts=True)
        per_uid = store.con.execute(
            "SELECT max(n), count(*) FROM (SELECT count(*) AS n FROM verdicts GROUP BY measurement_uid)").fetchall()
    assert res.measurements == 50 and res.verdicts == 100
    assert per_uid == [(1, 150)]


def test_a_batch_that_repeats_a_uid_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as store:
        with pytest.raises(ValueError, match=r"holds measurement_uid '.*' more than once"):
            store.write(_batch([1, 2, 1]))
        assert store.counts()["measurements"] == store.counts()["verdicts"] == 0


def test_running_out_of_the_budget_is_one_clear_error_and_keeps_what_was_stored(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with Store(db) as store:
        store.write(_batch(list(range(200))))
    # a budget DuckDB accepts but cannot sort a large batch's strings in (no spilling: no temp dir)
    with Store(db, settings=DuckDBSettings("4MB", 1, None)) as store:
        store.con.execute("SET temp_directory = ''")
        big = _batch(list(range(200, 20200)))
        with pytest.raises(StoreError) as err:  # not duckdb.OutOfMemoryException
            store.write(big)
    message = str(err.value)
    assert "ran out of its 4MB memory budget" in message and "nothing stored before this point is lost" in message
    assert "(200 measurements stored)" in message and "--memory-limit" in message
    with Store(db) as store:
        assert store.counts()["measurements"] == 200
        store.write(big)
        assert store.counts()["measurements"] == 20200


def test_ingest_out_of_its_budget_says_so_in_one_line_and_a_rerun_goes_on(tmp_path: Path) -> None:
    records = tmp_path / "m.jsonl"
    records.write_text("".join(
        f'{{"test_name": "web_connectivity", "input": "https://s{i}.example/", "probe_cc": "PK", '
        f'"probe_asn": "AS17557", "measurement_start_time": "2024-02-17 10:{i // 1000:02d}:00", "test_keys": {{}}}}\n'
        for i in range(20000)))
    db = tmp_path / "a.duckdb"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("CENSORWATCH_DUCKDB_MEMORY", None)
    ingest = [sys.executable, "-m", "censorwatch", "ingest", str(records), "--db", str(db), "--batch-size", "20000"]
    r = subprocess.run([*ingest, "--memory-limit", "4MB"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "ran out of its 4MB memory budget" in errors[0], r.stderr
    r = subprocess.run(ingest, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    with Store(db, read_only=True) as store:
        assert store.counts()["measurements"] == 20000
