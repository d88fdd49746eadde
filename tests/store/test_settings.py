"""DuckDB's memory limit, threads and temp directory: set on every open, options over env over defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from censorwatch.store.db import (
    DEFAULT_MEMORY_LIMIT,
    STREAMING_MEMORY_LIMIT,
    DuckDBSettings,
    Store,
    StoreError,
)

REPO = Path(__file__).resolve().parents[2]


def _settings(store: Store) -> tuple[str, int, str]:
    row = store.con.execute("SELECT current_setting('memory_limit'), current_setting('threads'), "
                            "current_setting('temp_directory')").fetchall()[0]
    return row[0], int(row[1]), row[2]


def _mib(limit: str) -> float:
    value, unit = limit.split()
    return float(value) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def test_defaults_are_set_on_purpose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CENSORWATCH_DUCKDB_MEMORY", "CENSORWATCH_DUCKDB_THREADS", "CENSORWATCH_DUCKDB_TEMP"):
        monkeypatch.delenv(var, raising=False)
    with Store(tmp_path / "a.duckdb") as s:
        memory, threads, temp = _settings(s)
    assert DEFAULT_MEMORY_LIMIT == "512MB" and abs(_mib(memory) - 512e6 / 2**20) < 1
    assert DuckDBSettings(default_memory=STREAMING_MEMORY_LIMIT).resolve(tmp_path)["memory_limit"] == "256MB"
    assert threads == (os.cpu_count() or 1)
    assert temp == f"{tmp_path / 'a.duckdb'}.tmp"


def test_options_win_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENSORWATCH_DUCKDB_MEMORY", "300MB")
    monkeypatch.setenv("CENSORWATCH_DUCKDB_THREADS", "1")
    monkeypatch.setenv("CENSORWATCH_DUCKDB_TEMP", str(tmp_path / "spill"))
    with Store(tmp_path / "a.duckdb") as s:
        memory, threads, temp = _settings(s)
    assert abs(_mib(memory) - 300e6 / 2**20) < 1 and threads == 1 and temp == str(tmp_path / "spill")
    with Store(tmp_path / "a.duckdb", settings=DuckDBSettings("200MB", 2, tmp_path / "other")) as s:
        memory, threads, temp = _settings(s)
    assert abs(_mib(memory) - 200e6 / 2**20) < 1 and threads == 2 and temp == str(tmp_path / "other")


def test_a_bad_value_names_the_setting_and_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENSORWATCH_DUCKDB_MEMORY", "plenty")
    with pytest.raises(StoreError, match=r"memory_limit = 'plenty' \(option or \$CENSORWATCH_DUCKDB_MEMORY\)"):
        Store(tmp_path / "a.duckdb")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "CENSORWATCH_DUCKDB_MEMORY": "plenty"}
    r = subprocess.run([sys.executable, "-m", "censorwatch", "analyze", "--db", str(tmp_path / "b.duckdb")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 3 and "CENSORWATCH_DUCKDB_MEMORY" in r.stderr
    r = subprocess.run([sys.executable, "-m", "censorwatch", "analyze", "--db", str(tmp_path / "b.duckdb"),
                        "--memory-limit", "256MB", "--threads", "1"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
