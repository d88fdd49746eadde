"""Throttling detection: time to a verdict and accuracy over a grid of caps and network speeds.

Loopback with user-space pacing (``censorwatch.lab.pacing.PacedServer``): the *network speed* caps both
the target and the reference server, the *cap* additionally caps the target (as an SNI throttle
does). Ground truth: the target is throttled when its cap is below the network speed. Each cell is
one full ``throughput`` measurement (interleaved transfers) classified by ``analysis.throttle``.

    PYTHONPATH=src python benchmarks/throttle.py [--samples 2] [--duration 1.5] [--out benchmarks/results/platform.md]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "platform"))

from platform_certs import make_ca_and_server
from throttle_table import append_grid

from censorwatch.lab.pacing import PacedServer
from censorwatch.probe import ProbeConfig, build_context, throughput

SPEEDS = (500.0, 2000.0, 8000.0, 20000.0)
CAPS: tuple[float | None, ...] = (None, 150.0, 400.0, 1000.0, 4000.0)


async def cell(tmp: Path, speed: float, cap: float | None, samples: int, duration: float) -> dict[str, object]:
    ca, sctx = make_ca_and_server(tmp)
    t_rate = min(speed, cap) if cap else speed
    t_srv, r_srv = PacedServer(link_kbps=t_rate, ssl_context=sctx), PacedServer(link_kbps=speed, ssl_context=sctx)
    _, tp = await t_srv.start("127.0.0.1", 0)
    _, rp = await r_srv.start("127.0.0.1", 0)
    ctx = build_context(ProbeConfig(allow_loopback=True, system_resolver="127.0.0.1:9", ca_files=[ca],
                                    trust_system=False))
    t0 = time.monotonic()
    try:
        m = await throughput.run(ctx, f"https://127.0.0.1:{tp}/", f"https://127.0.0.1:{rp}/", samples=samples,
                                 duration=duration)
    finally:
        await t_srv.aclose()
        await r_srv.aclose()
    tk = m["test_keys"]
    truth = cap is not None and cap < speed
    rate = tk["rate_kbps"] or 0.0
    return {"speed": speed, "cap": cap, "truth": truth, "called": bool(tk["throttling"]),
            "rate": rate, "rate_err": abs(rate - t_rate) / t_rate, "ratio": tk["ratio"],
            "seconds": time.monotonic() - t0}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2)
    ap.add_argument("--duration", type=float, default=1.5)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for speed in SPEEDS:
            for cap in CAPS:
                if cap is not None and cap >= speed * 2:
                    continue
                r = await cell(Path(d), speed, cap, a.samples, a.duration)
                rows.append(r)
                print(f"speed {speed:>7.0f} cap {cap or '-':>6} truth {r['truth']!s:5} called {r['called']!s:5} "
                      f"rate {r['rate']:8.1f} kbps (err {r['rate_err']:.1%}) ratio {r['ratio']} "
                      f"{r['seconds']:.1f}s", flush=True)
    tp = sum(1 for r in rows if r["truth"] and r["called"])
    fn = sum(1 for r in rows if r["truth"] and not r["called"])
    fp = sum(1 for r in rows if not r["truth"] and r["called"])
    tn = sum(1 for r in rows if not r["truth"] and not r["called"])
    secs = sorted(float(r["seconds"]) for r in rows)  # type: ignore[arg-type]
    errs = [float(r["rate_err"]) for r in rows if r["truth"]]  # type: ignore[arg-type]
    summary = (f"cells {len(rows)}: true throttle calls {tp}, missed {fn}, false calls {fp}, true negatives {tn}; "
               f"time to verdict median {secs[len(secs) // 2]:.1f} s (max {secs[-1]:.1f} s); "
               f"measured rate of throttled targets within {max(errs):.1%} of the cap (median "
               f"{sorted(errs)[len(errs) // 2]:.1%})")
    print(summary)
    if a.out is not None:
        append_grid(a.out, f"Throttling detection grid (loopback, user-space pacing; samples={a.samples}, "
                    f"duration={a.duration}s)",
                    f"PYTHONPATH=src python benchmarks/throttle.py --samples {a.samples} --duration {a.duration} "
                    f"--out {a.out}", "", summary, [{**r, "err": r["rate_err"]} for r in rows])

if __name__ == "__main__":
    asyncio.run(main())
