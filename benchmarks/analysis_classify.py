"""Time ``classify`` alone (no parsing, no writing) on the real samples, per test type.

    PYTHONPATH=src python benchmarks/analysis_classify.py [SAMPLES_DIR] [FINGERPRINTS_DIR] [ROUNDS]

Prints CPU microseconds (process time, robust to a busy machine) per classify for web_connectivity and for everything, with the OONI + Censored
Planet fingerprints loaded (the expensive case: body scans run for anomalous pages).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

from censorwatch.analysis import classify
from censorwatch.analysis.fingerprints import load_fingerprints
from censorwatch.model.measurement import Measurement
from censorwatch.store.reader import read_paths

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    samples = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "ooni-samples"
    fdir = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT.parent / "shared" / "data" / "fingerprints"
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    t = time.process_time()
    for _ in range(5):
        sum(range(10**6))
    print(f"calibration: sum(range(10**6)) = {(time.process_time() - t) / 5 * 1000:.1f} ms of CPU "
          "(about 8 ms on an idle core; a higher figure means a busy machine, scale the numbers below)")
    t0 = time.process_time()
    fps = load_fingerprints(fdir)
    print(f"fingerprints: {len(fps)} rules loaded in {time.process_time() - t0:.2f} s")
    ms = [m for m in read_paths([samples]) if isinstance(m, Measurement)]
    groups = {"web_connectivity": [m for m in ms if m.test_name == "web_connectivity"], "all tests": ms}
    for name, group in groups.items():
        for m in group:  # warm caches (lru_cache on IP parsing) the way a long ingest would
            classify(m, fps)
        t = time.process_time()
        for _ in range(rounds):
            for m in group:
                m._obs_cache = None  # count the parse of the observations too, as a fresh read would
                classify(m, fps)
        dt = time.process_time() - t
        n = rounds * len(group)
        blobs = [orjson.dumps(m.raw) for m in group]
        t = time.process_time()
        for _ in range(rounds):
            for b in blobs:
                orjson.loads(b)
        floor = time.process_time() - t
        per = []
        for m in group:
            t = time.process_time()
            for _ in range(max(1, rounds // 10)):
                m._obs_cache = None
                classify(m, fps)
            per.append((time.process_time() - t) / max(1, rounds // 10))
        per.sort()
        print(f"{name}: {n} classifications, {dt / n * 1e6:.1f} us each (median measurement "
              f"{per[len(per) // 2] * 1e6:.1f} us), {n / dt:,.0f}/s on one core "
              f"(orjson.loads of the same measurements: {floor / n * 1e6:.1f} us; ratio {dt / floor:.1f})")


if __name__ == "__main__":
    main()
