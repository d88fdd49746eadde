"""Throttling detection in the lab: time to a verdict and accuracy over a grid of caps and network speeds.

Each cell is a scenario run by ``censorwatch lab run`` (needs root): the lab censor throttles the
reference (``largefile.com``) to the *network speed* and the target (``video.twimg.com``) to
``min(speed, cap)`` by SNI in its user-space proxy; the probe runs the ``throughput`` test from the
ISP namespace. Ground truth: throttled when the cap is below the speed. "none" = the lab's unshaped
path.

    PYTHONPATH=src python benchmarks/throttle_lab.py [--jobs 3] [--out benchmarks/results/platform.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from throttle_table import append_grid

SPEEDS: tuple[float | None, ...] = (None, 4000.0, 1000.0, 400.0)
CAPS: tuple[float | None, ...] = (None, 150.0, 400.0, 1000.0)
REPO = Path(__file__).resolve().parents[1]


def scenario(speed: float | None, cap: float | None) -> tuple[str, str]:
    name = f"bench-throttle-s{int(speed or 0)}-c{int(cap or 0)}"
    rules = []
    target = min(x for x in (speed, cap) if x) if (speed or cap) else None
    if target:
        rules.append(f"  - {{sni: video.twimg.com, action: throttle, rate_kbps: {target:g}}}")
    if speed:
        rules.append(f"  - {{sni: largefile.com, action: throttle, rate_kbps: {speed:g}}}")
    body = f'name: {name}\nprobe: {{test: throughput, input: "https://video.twimg.com/"}}\n'
    if rules:
        body += "censor:\n" + "\n".join(rules) + "\n"
    return name, body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    cells: dict[str, tuple[float | None, float | None]] = {}
    with tempfile.TemporaryDirectory() as d:
        files = []
        for speed in SPEEDS:
            for cap in CAPS:
                if cap is not None and speed is not None and cap >= speed:
                    continue
                name, body = scenario(speed, cap)
                cells[name] = (speed, cap)
                f = Path(d) / f"{name}.yaml"
                f.write_text(body)
                files.append(str(f))
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "censorwatch", "lab", "run", *files, "--jobs", str(a.jobs)],
                           capture_output=True, text=True, timeout=1800, env=env)
        wall = time.monotonic() - t0
    rows: list[dict[str, Any]] = []
    for line in p.stdout.splitlines():
        r = json.loads(line)
        speed, cap = cells[r["scenario"]]
        if "error" in r:
            print(f"{r['scenario']}: error {r['error']}", file=sys.stderr)
            continue
        v = r["verdict"]
        expected_rate = min(x for x in (speed, cap) if x) if (speed or cap) else None
        rate = v["details"].get("rate_kbps") or 0.0
        rows.append({"speed": speed, "cap": cap, "truth": cap is not None and (speed is None or cap < speed),
                     "called": v["method"] == "throttle", "rate": rate,
                     "err": abs(rate - expected_rate) / expected_rate if expected_rate else None,
                     "ratio": v["details"].get("ratio"), "seconds": r["measurement"]["test_runtime"]})
    rows.sort(key=lambda r: (-(r["speed"] or 1e9), r["cap"] or 0))
    for r in rows:
        print(r, flush=True)
    tp = sum(r["truth"] and r["called"] for r in rows)
    fn = sum(r["truth"] and not r["called"] for r in rows)
    fp = sum(not r["truth"] and r["called"] for r in rows)
    tn = sum(not r["truth"] and not r["called"] for r in rows)
    secs = sorted(r["seconds"] for r in rows)
    errs = sorted(r["err"] for r in rows if r["err"] is not None)
    summary = (f"cells {len(rows)}/{len(cells)}: true throttle calls {tp}, missed {fn}, false calls {fp}, true "
               f"negatives {tn}; time to verdict (probe runtime) median {secs[len(secs) // 2]:.1f} s, max "
               f"{secs[-1]:.1f} s; measured rate vs configured rate: median error {errs[len(errs) // 2]:.1%}, max "
               f"{errs[-1]:.1%}; whole grid {wall:.0f} s with --jobs {a.jobs}")
    print(summary)
    if a.out is not None:
        append_grid(a.out, "Throttling detection grid in the lab (SNI throttle in the lab censor; samples=3, "
                    "duration=3s)", f"sudo PYTHONPATH=src python benchmarks/throttle_lab.py --jobs {a.jobs} "
                    f"--out {a.out}", " (shared with other test runs: load average > 10)", summary, rows)

if __name__ == "__main__":
    main()
