"""``analyze --spark-output DIR``: a directory that is not a Spark job's output is refused, plainly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_directory_without_the_job_outputs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out" / "verdicts").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "COLUMNS": "300"}
    r = subprocess.run([sys.executable, "-m", "censorwatch", "analyze", "--db", str(tmp_path / "s.duckdb"),
                        "--spark-output", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert "not a Spark job's output (no agg_hourly, volume_hourly)" in r.stderr
    assert "Traceback" not in r.stderr
