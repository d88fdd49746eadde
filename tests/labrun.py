"""Run scenario files through the real ``censorwatch lab run`` and index the JSON lines by scenario."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]


def lab_run(scenarios: list[Path], jobs: int, timeout: float = 900) -> dict[str, dict[str, Any]]:
    """``{scenario name: {"scenario", "network", "measurement", "verdict"} or {..., "error"}}``."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    p = subprocess.run([sys.executable, "-m", "censorwatch", "lab", "run", *map(str, scenarios), "--jobs", str(jobs)],
                       capture_output=True, text=True, timeout=timeout, env=env)
    out = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        out[r["scenario"]] = r
    assert out, f"lab run printed nothing (exit {p.returncode}): {p.stderr[-3000:]}"
    return out


def scenario_names(scenarios: list[Path]) -> set[str]:
    return {yaml.safe_load(p.read_text())["name"] for p in scenarios}
