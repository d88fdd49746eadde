"""One bad record never stops ``classify`` or ``ingest``: it is reported as ``path:line: reason``,
every good record of the same file is kept, and a re-run gets past it. Records past the reader's
limits (line size, nesting depth) are such bad records, and memory stays bounded while skipping them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fuzz.hostile import huge_line_files, peak_rss_mb

REPO = Path(__file__).resolve().parents[2]
GOOD_BEFORE = GOOD_AFTER = 3000


def cw(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "censorwatch", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def good(i: int) -> dict[str, object]:
    return {"test_name": "web_connectivity", "measurement_start_time": "2024-02-17 10:00:00",
            "input": f"https://site{i}.example/", "probe_cc": "PK", "probe_asn": "AS17557",
            "test_keys": {"queries": [], "tcp_connect": []}}


def _deep(m: dict[str, object], levels: int) -> bytes:
    """``m`` with ``test_keys.x`` nested ``levels`` deep (written by hand: no encoder goes that deep)."""
    nested = b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)
    return orjson.dumps({**m, "test_keys": {"x": 0}}).replace(b'"x":0', b'"x":' + nested)


def deep_without_uid() -> bytes:
    return _deep(good(-1), 300)  # orjson reads 1,024 levels, writes back 254


DEEP_UID = "20240217100000.000000_PK_webconnectivity_0123456789abcdef"


def deep_with_uid() -> bytes:
    return _deep({**good(-2), "measurement_uid": DEEP_UID}, 1000)


def year_one_with_offset() -> bytes:
    m = good(-3)
    m["measurement_start_time"] = "0001-01-01 00:00:00+01:00"  # before year 1 once in UTC
    return orjson.dumps(m)


BAD = {"deep_without_uid": (deep_without_uid, "no uid for this record: JSON nested deeper than 254 levels"),
       "year_one_with_offset": (year_one_with_offset, "measurement_start_time")}


def _file(tmp_path: Path, bad: bytes) -> Path:
    f = tmp_path / "mixed.jsonl"
    with f.open("wb") as fh:
        for i in range(GOOD_BEFORE):
            fh.write(orjson.dumps(good(i)) + b"\n")
        fh.write(bad + b"\n")
        for i in range(GOOD_BEFORE, GOOD_BEFORE + GOOD_AFTER):
            fh.write(orjson.dumps(good(i)) + b"\n")
    return f


def _reported(stderr: str, f: Path) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith(f"{f}:")]


@pytest.mark.parametrize("shape", sorted(BAD))
def test_classify_reports_the_record_and_prints_every_other(tmp_path: Path, shape: str) -> None:
    make, reason = BAD[shape]
    f = _file(tmp_path, make())
    r = cw("classify", f)
    assert r.returncode == 1, r.stderr[-2000:]
    assert len(r.stdout.splitlines()) == GOOD_BEFORE + GOOD_AFTER
    (err,) = _reported(r.stderr, f)
    assert err.startswith(f"{f}:{GOOD_BEFORE + 1}: ") and reason in err
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("shape", sorted(BAD))
def test_ingest_stores_every_other_record_and_reruns_get_past_it(tmp_path: Path, shape: str) -> None:
    make, reason = BAD[shape]
    f = _file(tmp_path, make())
    db = tmp_path / "s.duckdb"
    first = cw("ingest", f, "--db", db)
    assert first.returncode == 1, first.stderr[-2000:]
    (err,) = _reported(first.stderr, f)
    assert err.startswith(f"{f}:{GOOD_BEFORE + 1}: ") and reason in err
    again = cw("ingest", f, "--db", db)
    assert again.returncode == 1 and len(_reported(again.stderr, f)) == 1, again.stderr[-2000:]
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count(*) FROM measurements").fetchone()
    assert row is not None and row[0] == GOOD_BEFORE + GOOD_AFTER


def test_a_deep_measurement_with_its_own_uid_is_kept_and_shown(tmp_path: Path) -> None:
    """Its uid needs no canonical bytes: it is stored as read, classified, and its page renders."""
    from fastapi.testclient import TestClient

    from censorwatch.store.views import open_db
    from censorwatch.web.app import create_app

    f = _file(tmp_path, deep_with_uid())
    db = tmp_path / "s.duckdb"
    r = cw("ingest", f, "--db", db)
    assert r.returncode == 0, r.stderr[-2000:]
    con = open_db(db)
    with TestClient(create_app(con, db_path=db, cache_ttl=0), raise_server_exceptions=False) as c:
        page = c.get(f"/measurement/{DEEP_UID}")
        raw = c.get(f"/api/v1/measurements/{DEEP_UID}/raw")
    con.close()
    assert page.status_code == 200 and raw.status_code == 200
    assert raw.content == deep_with_uid()


def test_a_top_level_empty_array_and_an_empty_file_are_reported(tmp_path: Path) -> None:
    arr = tmp_path / "empty-array.json"
    arr.write_bytes(b"[]\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    scalar = tmp_path / "number.json"
    scalar.write_bytes(b"42")
    r = cw("classify", arr, empty, scalar)
    assert r.returncode == 1 and r.stdout == ""
    assert f"{arr}:1: an empty JSON array: no measurements" in r.stderr
    assert f"{empty}: no measurements: the file is empty" in r.stderr
    assert f"{scalar}:1: expected a JSON object, got int" in r.stderr


def test_a_reused_uid_with_other_content_is_a_conflict_not_a_duplicate(tmp_path: Path) -> None:
    uid, uid2 = (f"20240217100000.000000_PK_webconnectivity_00000000000000{x}" for x in ("aa", "bb"))
    first = {**good(1), "measurement_uid": uid}
    a = tmp_path / "a.jsonl"
    a.write_bytes(orjson.dumps(first) + b"\n")
    b = tmp_path / "b.json"  # the same measurement pretty-printed: a duplicate
    b.write_bytes(orjson.dumps(first, option=orjson.OPT_INDENT_2))
    c = tmp_path / "c.jsonl"  # a forgery of the stored one, the stored one again, then a new uid twice
    c.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in (
        {**good(2), "measurement_uid": uid}, first,
        {**good(3), "measurement_uid": uid2}, {**good(4), "measurement_uid": uid2})))
    db = tmp_path / "s.duckdb"
    assert cw("ingest", a, "--db", db).returncode == 0
    dup = cw("ingest", b, "--db", db)
    assert dup.returncode == 0, dup.stderr
    conflict = cw("ingest", c, "--db", db)
    assert conflict.returncode == 1
    lines = _reported(conflict.stderr, c)
    assert len(lines) == 2, conflict.stderr
    assert lines[0].startswith(f"{c}:1: conflict: measurement_uid {uid!r} is already stored")
    assert lines[1].startswith(f"{c}:4: conflict: measurement_uid {uid2!r} is earlier in this input")
    with duckdb.connect(str(db), read_only=True) as con:
        stored = con.execute("SELECT input FROM measurements ORDER BY input").fetchall()
    assert stored == [("https://site1.example/",), ("https://site3.example/",)]  # the first ones are kept


@pytest.fixture(scope="module")
def huge_lines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A 1 MB .jsonl.gz holding one 1 GiB line, a plain file with a 200 MB line, and a small file,
    each between good records."""
    d = tmp_path_factory.mktemp("huge")
    gz, plain, small = huge_line_files(d, orjson.dumps(good(1)), orjson.dumps(good(2)))
    assert gz.stat().st_size < 2 * 2**20
    return gz, plain, small


@pytest.mark.parametrize("command", ["classify", "ingest"])
def test_an_over_long_line_is_refused_with_bounded_memory(huge_lines: tuple[Path, Path, Path], command: str,
                                                           tmp_path: Path) -> None:
    gz, plain, small = huge_lines
    extra = ["--db", tmp_path / "s.duckdb"] if command == "ingest" else []
    baseline, _ = peak_rss_mb(command, small, *[str(x).replace("s.duckdb", "base.duckdb") for x in extra])
    for f, size in ((gz, "1,073,741,"), (plain, "200,000,")):
        peak, stderr = peak_rss_mb(command, f, *extra)
        (err,) = _reported(stderr, f)
        assert err.startswith(f"{f}:2: line of {size}") and "over the 33,554,432-byte record limit" in err, err
        assert "Traceback" not in stderr
        # the record limit is 32 MiB: reading past it costs at most a few times that
        assert peak < baseline + 160, (f.name, peak, baseline)
    if command == "ingest":
        with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
            row = con.execute("SELECT count(*) FROM measurements").fetchone()
        assert row is not None and row[0] == 2  # good(1) and good(2): the same in both files


def test_max_file_size(tmp_path: Path) -> None:
    f = tmp_path / "m.jsonl"
    lines = [orjson.dumps(good(i)) + b"\n" for i in range(10)]
    f.write_bytes(b"".join(lines))
    cut = sum(len(x) for x in lines[:4]) + 1  # past it during the fifth line
    r = cw("classify", f, "--max-file-size", str(cut))
    assert r.returncode == 1, r.stderr
    assert len(r.stdout.splitlines()) == 5
    assert _reported(r.stderr, f) == [f"{f}:5: over {cut:,} bytes decompressed (the per-file limit, "
                                      "--max-file-size): the rest of the file is not read"]
    r = cw("ingest", f, "--db", tmp_path / "s.duckdb", "--max-file-size", "0")  # 0: no limit
    assert r.returncode == 0, r.stderr
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM measurements").fetchone() == (10,)
    r = cw("classify", f, "--max-file-size", "2GiB")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 10, r.stderr
    r = cw("classify", f, "--max-file-size", "lots")
    assert r.returncode == 2 and "--max-file-size: not a size: 'lots'" in r.stderr and "Traceback" not in r.stderr


def test_parse_size() -> None:
    from censorwatch.cli.reading import parse_size

    assert [parse_size(s) for s in ("0", "1024", "4GiB", "500MB", "1.5k", "2 TiB", "7b")] == [
        0, 1024, 4 * 2**30, 500 * 10**6, 1500, 2 * 2**40, 7]
    for bad in ("", "-1", "4 GiBs", "GiB", "1e9"):
        with pytest.raises(ValueError, match="not a size"):
            parse_size(bad)
