"""Lab benchmarks: setup + teardown of one world, and 50 scenarios through ``lab run --jobs 8``.

Run as root: ``python benchmarks/lab.py [--repeat 10] [--scenarios 50] [--jobs 8]``.
Writes benchmarks/results/lab.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from censorwatch.lab import netns, scenario  # noqa: E402
from censorwatch.lab.instance import LabInstance  # noqa: E402

MACHINE = "2-core x86_64 VM, Python 3.11"
SUITE = REPO / "tests" / "scenarios"


def world_cycle(control: bool, networks: int) -> tuple[float, float]:
    doc = {"name": "bench", "networks": [{"name": f"n{i}"} for i in range(networks)]}
    t0 = time.monotonic()
    lab = LabInstance(scenario.parse(doc, "bench"), control=control)
    lab.up()
    t1 = time.monotonic()
    problems = lab.down()
    t2 = time.monotonic()
    assert not problems, problems
    return t1 - t0, t2 - t1


def bench_worlds(repeat: int, control: bool, networks: int) -> dict[str, float]:
    world_cycle(control, networks)  # warm the certificate cache and the page cache
    ups, downs = [], []
    for _ in range(repeat):
        u, d = world_cycle(control, networks)
        ups.append(u)
        downs.append(d)
    totals = [u + d for u, d in zip(ups, downs, strict=True)]
    return {"up_median": statistics.median(ups), "down_median": statistics.median(downs),
            "total_median": statistics.median(totals), "total_max": max(totals)}


def bench_scenarios(n: int, jobs: int) -> dict[str, float | int]:
    files = sorted(SUITE.glob("*.yaml"))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(n):
            doc = yaml.safe_load(files[i % len(files)].read_text())
            doc["name"] = f"{doc['name']}-{i}"
            p = Path(tmp) / f"s{i:03d}.yaml"
            p.write_text(yaml.safe_dump(doc, allow_unicode=True))
            paths.append(str(p))
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "censorwatch", "lab", "run", *paths, "--jobs", str(jobs)],
                           capture_output=True, text=True, env=env, timeout=3600)
        wall = time.monotonic() - t0
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    for x in lines:
        if "error" in x:
            print(f"  error in {x['scenario']}: {x['error'][:300]}", file=sys.stderr)
    return {"wall_s": wall, "results": len(lines), "errors": sum("error" in x for x in lines)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--scenarios", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=8)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("benchmarks/lab.py needs root (it builds network namespaces)", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    before = set(netns.list_netns())
    rows = []
    from censorwatch.lab.pool import POOL

    POOL.target = 1  # repeated worlds take their servers warm, as lab run does
    w = bench_worlds(args.repeat, control=False, networks=1)
    rows.append(("world setup + teardown, 1 ISP, no control server (median of "
                 f"{args.repeat})", f"{w['total_median']:.2f} s (up {w['up_median']:.2f} s, down "
                 f"{w['down_median']:.2f} s, max {w['total_max']:.2f} s)"))
    w = bench_worlds(max(3, args.repeat // 3), control=False, networks=3)
    rows.append(("world setup + teardown, 3 ISPs, no control server", f"{w['total_median']:.2f} s"))
    import importlib.util

    if importlib.util.find_spec("censorwatch.control") is not None:
        w = bench_worlds(max(3, args.repeat // 3), control=True, networks=1)
        rows.append(("world setup + teardown, 1 ISP, with the control server", f"{w['total_median']:.2f} s "
                     f"(up {w['up_median']:.2f} s)"))
    s = bench_scenarios(args.scenarios, args.jobs)
    rows.append((f"{args.scenarios} scenarios, lab run --jobs {args.jobs}",
                 f"{s['wall_s']:.0f} s wall, {s['results']} results, {s['errors']} errors"))
    from censorwatch.lab.topology import STATE_ROOT

    # namespaces that appeared meanwhile and belong to no live world (others may use the lab too)
    leftovers = [n for n in set(netns.list_netns()) - before
                 if n.startswith("cw") and not (STATE_ROOT / n[2:7]).exists()]
    out = REPO / "benchmarks" / "results" / "lab.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = ["# Lab benchmarks", "",
            f"Machine: {MACHINE}; load average at start {load:.1f} (other work shares the 2 cores).", "",
            "| what | command | result |", "|---|---|---|"]
    cmd = f"sudo python benchmarks/lab.py --repeat {args.repeat} --scenarios {args.scenarios} --jobs {args.jobs}"
    text += [f"| {what} | `{cmd}` | {res} |" for what, res in rows]
    text += ["", f"Namespaces the benchmark's worlds left behind: {len(leftovers)}.", ""]
    out.write_text("\n".join(text))
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
