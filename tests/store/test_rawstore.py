"""Raw parts: exact bytes back from any row, crash leftovers harmless, old inline stores still read."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import orjson
import pytest
import zstandard

from censorwatch.pipeline.ingest import ingest
from censorwatch.store import schema
from censorwatch.store.db import Store
from censorwatch.store.rawstore import ROW_GROUP, RawStore, RawStoreError, raw_dir_for
from censorwatch.store.reader import read_paths
from censorwatch.store.views import measurement


def _msmt(i: int, pad: int = 0) -> bytes:
    return orjson.dumps({
        "test_name": "web_connectivity", "measurement_start_time": f"2024-02-17 10:{i // 60 % 60:02d}:{i % 60:02d}",
        "probe_cc": "PK", "probe_asn": "AS17557", "input": f"http://s{i}.example/",
        "test_keys": {"queries": [], "pad": "x" * pad, "i": i},
    })


def test_parts_return_every_row_exactly(tmp_path: Path) -> None:
    raws = RawStore(tmp_path / "r")
    first = [os.urandom(i % 300) for i in range(ROW_GROUP * 2 + 7)]  # three row groups, one partial
    second = [b"", b"\x00\xff" * 5000]
    p1 = raws.append([f"u{i}" for i in range(len(first))], first)
    p2 = raws.append(["a", "b"], second)
    assert (p1, p2) == (0, 1) and raws.part_ids() == [0, 1]
    again = RawStore(tmp_path / "r", read_only=True)  # a fresh reader, in reverse order
    for i in reversed(range(len(first))):
        assert again.get(p1, i) == first[i]
    assert again.get(p2, 0) == b"" and again.get(p2, 1) == second[1]
    with pytest.raises(RawStoreError, match="no row"):
        again.get(p1, len(first))
    with pytest.raises(RawStoreError, match=r"part-00000009\.parquet"):
        again.get(9, 0)
    with pytest.raises(RawStoreError, match="read-only"):
        again.append(["x"], [b"x"])
    # a writer opened later continues the numbering, never overwrites a part
    assert RawStore(tmp_path / "r").append(["c"], [b"c"]) == 2


def test_unreferenced_part_from_a_crash_is_harmless(tmp_path: Path) -> None:
    f = tmp_path / "m.jsonl"
    f.write_bytes(b"\n".join(_msmt(i, pad=i * 50) for i in range(40)) + b"\n")
    db = tmp_path / "db.duckdb"
    # a crash after the part was written but before the transaction committed: the part exists,
    # no row points at it
    leftover = RawStore(raw_dir_for(db)).append(["ghost"], [b"not referenced by any row"])
    with Store(db) as store:
        stats = ingest(store, read_paths([f]))
        assert stats.new == 40
        rows = store.con.execute("SELECT measurement_uid, raw_part, raw_row FROM measurements").fetchall()
        assert {r[1] for r in rows} == {leftover + 1}
        lines = f.read_bytes().splitlines()
        got = sorted(store.raw(r[0]) for r in rows)  # type: ignore[type-var]
        assert got == sorted(lines)


def test_store_of_schema_version_1_is_upgraded_and_still_read(tmp_path: Path) -> None:
    """A store written before raw parts kept zstd bytes inline, NOT NULL: it opens, its old rows read
    back, new rows go to parts."""
    db = tmp_path / "old.duckdb"
    old_raw = _msmt(1)
    con = duckdb.connect(str(db))
    old_ddl = next(d for d in schema.ALL if "CREATE TABLE IF NOT EXISTS measurements" in d)
    old_ddl = old_ddl.replace("raw BLOB,\n        raw_part INTEGER,\n        raw_row INTEGER", "raw BLOB NOT NULL")
    assert "raw_part" not in old_ddl
    con.execute(old_ddl)
    con.execute(
        "INSERT INTO measurements (measurement_uid, test_name, probe_cc, probe_asn, measurement_start_time, "
        "ingested_at, raw_size, raw) VALUES ('old-1', 'web_connectivity', 'PK', 'AS1', TIMESTAMP '2024-01-01', "
        "TIMESTAMP '2024-01-01', ?, ?)",
        [len(old_raw), zstandard.ZstdCompressor().compress(old_raw)],
    )
    con.close()
    f = tmp_path / "new.jsonl"
    f.write_bytes(_msmt(2) + b"\n")
    with Store(db) as store:
        assert store.raw("old-1") == old_raw
        assert ingest(store, read_paths([f])).new == 1
        (uid,) = [r[0] for r in store.con.execute(
            "SELECT measurement_uid FROM measurements WHERE raw IS NULL").fetchall()]
        assert store.raw(uid) == _msmt(2)
        stale = [m for chunk in store.iter_stale("none") for m in chunk]
        assert sorted(m.raw for m in stale) == sorted([old_raw, _msmt(2)])
    # the web's view of one measurement reads both layouts from the file's own raw parts
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert measurement(con, "old-1")["raw"] == old_raw  # type: ignore[index]
        assert measurement(con, uid)["raw"] == _msmt(2)  # type: ignore[index]
    finally:
        con.close()
