"""``censorwatch classify``, ``ingest`` and ``analyze`` end to end, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import orjson

from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict
from censorwatch.store.reader import read_paths
from censorwatch.store.uid import stable_uid

REPO = Path(__file__).resolve().parents[2]
VERDICT_KEYS = set(Verdict.__dataclass_fields__)


def cw(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "censorwatch", *map(str, args)],
        capture_output=True, text=True, env=full_env, timeout=120,
    )


def _bad_file(tmp_path: Path) -> Path:
    f = tmp_path / "bad.jsonl"
    f.write_text(
        '{"test_name": "web_connectivity", "measurement_start_time": "2024-02-17 10:00:00", "probe_cc": "PK"}\n'
        "not json at all\n"
        '{"test_name": "dnscheck"}\n',
        encoding="utf-8",
    )
    return f


def test_classify_json_lines_cover_every_sample(samples: Path, tmp_path: Path) -> None:
    bad = _bad_file(tmp_path)
    expected = [m for m in read_paths([samples, bad]) if isinstance(m, Measurement)]
    r = cw("classify", samples, bad)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(expected)
    verdicts = [orjson.loads(line) for line in lines]
    for v, m in zip(verdicts, expected, strict=True):
        assert set(v) == VERDICT_KEYS
        assert v["source"] == m.source and v["test_name"] == m.test_name
        assert v["measurement_uid"]
        assert v["status"] in ("ok", "anomaly", "confirmed", "down", "failure")
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith(str(bad))]
    assert len(errors) == 2
    assert errors[0].startswith(f"{bad}:2: ") and errors[1].startswith(f"{bad}:3: ")


def test_classify_text_is_a_table_and_exit_zero_when_clean(samples: Path) -> None:
    files = [samples / "fastpath" / "report1.json", samples / "probe-cli" / "manual-youtube.json"]
    r = cw("classify", "--format", "text", *files)
    assert r.returncode == 0, r.stderr
    assert "report1.json" in r.stdout and "manual-youtube.json" in r.stdout
    assert "www.youtube.com" in r.stdout and "status" in r.stdout
    assert not r.stdout.lstrip().startswith("{")


def test_ingest_then_reingest_then_analyze(samples: Path, tmp_path: Path) -> None:
    db = tmp_path / "cw.duckdb"
    bad = _bad_file(tmp_path)
    first = cw("ingest", samples, bad, "--db", db)
    assert first.returncode == 1, first.stderr  # bad records present, good ones kept
    assert f"{bad}:2: invalid JSON" in first.stderr
    assert "read" in first.stdout and "duplicates" in first.stdout and "msmt/s" in first.stdout
    with duckdb.connect(str(db), read_only=True) as con:
        (n,) = con.execute("SELECT count(*) FROM measurements").fetchone() or (0,)
        (v,) = con.execute("SELECT count(*) FROM verdicts").fetchone() or (0,)
    distinct = {stable_uid(m) for m in read_paths([samples, bad]) if isinstance(m, Measurement)}
    assert n == v == len(distinct) == 49 + 1  # report2 and report2blocked are one measurement
    again = cw("ingest", samples, "--db", db)
    assert again.returncode == 0, again.stderr
    row = next(ln for ln in again.stdout.splitlines() if "│" in ln and any(c.isdigit() for c in ln))
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[:4] == ["50", "0", "50", "0"]  # read, new, duplicates, bad
    with duckdb.connect(str(db)) as con:
        (old,) = con.execute("UPDATE verdicts SET rules_version = '0-old' WHERE probe_cc = 'IT'").fetchone() or (0,)
    assert old >= 6  # at least the six Italian probe-cli measurements
    analyzed = cw("analyze", env={"CENSORWATCH_DB": str(db)})
    assert analyzed.returncode == 0, analyzed.stderr
    assert f"stale={old}, classified={old}, errors=0" in analyzed.stdout
    again = cw("analyze", "--db", db)
    assert "stale=0, classified=0" in again.stdout


def test_unusable_database_exits_3(tmp_path: Path, samples: Path) -> None:
    (tmp_path / "dir.duckdb").mkdir()
    r = cw("ingest", samples / "fastpath" / "report1.json", "--db", tmp_path / "dir.duckdb")
    assert r.returncode == 3
    assert "dir.duckdb" in r.stderr and "Traceback" not in r.stderr
