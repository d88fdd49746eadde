"""Shared by the scale benchmarks: simulated corpora of a given size, OONI's archive layout on disk,
CLI runs with their peak RSS and CPU time, and the load average to record beside every number."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from censorwatch.pipeline.archive.local import write_archive  # noqa: E402
from censorwatch.pipeline.simulate import parse, write  # noqa: E402


def load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S} load {load()}] {msg}", file=sys.stderr, flush=True)


def sized_scenario(count: int, days: int = 28) -> dict[str, Any]:
    """``benchmarks/events.py``'s random scenario scaled to about ``count`` measurements."""
    from events import TARGETS, random_scenario

    base = random_scenario(99, days)
    per_rate = sum(n["rate"] for c in base["countries"] for n in c["networks"]) * len(TARGETS) * 24 * days
    return random_scenario(99, days, scale=count / per_rate)


def simulated_corpus(count: int, work: Path) -> tuple[Path, int]:
    """A ``.jsonl.gz`` of about ``count`` simulated measurements, made once per work directory."""
    work.mkdir(parents=True, exist_ok=True)
    out, done = work / f"corpus-{count}.jsonl.gz", work / f"corpus-{count}.count"
    if not done.exists():
        log(f"simulating {count:,} measurements into {out}")
        stats = write(parse(sized_scenario(count)), out, work / f"corpus-{count}.truth.json")
        done.write_text(str(stats.measurements))
    return out, int(done.read_text())


def archive_layout(corpus: Path, root: Path) -> tuple[int, int]:
    """Lay ``corpus`` out as OONI's archive under ``root`` (``pipeline/archive/local.py``): two or
    three objects per hour and country (one per network, as the simulator writes each network's
    measurements in time order). Made once per ``root``. Returns (objects, measurements)."""
    done = root / ".done"
    if not done.exists():
        log(f"laying {corpus.name} out as the archive under {root}")
        with gzip.open(corpus, "rb") as fh:
            objects, n = write_archive(fh, root)
        done.write_text(f"{objects} {n}")
    objects, n = (int(x) for x in done.read_text().split())
    return objects, n


def run_cli(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``censorwatch ARGS``: wall seconds, CPU seconds and peak RSS (MiB) of it and its children."""
    code = ("import resource, runpy, sys; sys.argv = ['censorwatch'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('censorwatch', run_name='__main__')\n"
            "finally:\n    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "    sys.stderr.write(f'\\nPEAK_RSS_KB={max(s.ru_maxrss, c.ru_maxrss)} "
            "CPU_S={s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime}\\n')\n")
    return run_python(["-c", code, *args], env)


def run_python(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python ARGS`` whose last stderr line is ``PEAK_RSS_KB=.. CPU_S=..``."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT / "benchmarks"),
                **(env or {})}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, *args], env=full_env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args[:4])} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    rss_kb, cpu = 0, 0.0
    for line in p.stderr.splitlines():
        if line.startswith("PEAK_RSS_KB="):
            a, b = line.split()
            rss_kb, cpu = int(a.split("=")[1]), float(b.split("=")[1])
    return {"s": wall, "cpu_s": cpu, "rss_mib": rss_kb // 1024, "stdout": p.stdout, "stderr": p.stderr,
            "code": p.returncode, "load": load()}


def append_results(path: Path, text: str) -> None:
    """Print ``text`` and add it to the results file (made with its title when missing)."""
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = "# Scale benchmarks: memory, sync, Spark\n\n" if not path.exists() else ""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(head + text + "\n")
