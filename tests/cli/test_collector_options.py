"""`collector serve` refuses impossible options before it touches anything: one check, in
collector/server.py, used by the CLI and by ``serve``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from censorwatch.collector.server import processes


def test_processes() -> None:
    assert processes("lean", 1) == 1
    assert processes("lean", None) >= 2  # one front-end per core, at least 2
    assert processes("uvicorn", None) == 1
    for http, workers, words in (("nope", 1, "lean or uvicorn"), ("uvicorn", 2, "one process"),
                                 ("lean", 0, "at least 1")):
        with pytest.raises(ValueError, match=words):
            processes(http, workers)


@pytest.mark.parametrize("args,words", [(["--http", "nope"], "lean or uvicorn"),
                                        (["--http", "uvicorn", "--workers", "2"], "one process")])
def test_cli_refuses_with_a_reason(tmp_path: Path, args: list[str], words: str) -> None:
    db = tmp_path / "cw.duckdb"
    env = dict(os.environ, COLUMNS="200")
    r = subprocess.run([sys.executable, "-m", "censorwatch", "collector", "serve", "--db", str(db), *args],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert words in r.stdout + r.stderr
    assert not Path(f"{db}.evidence").exists()  # nothing created
