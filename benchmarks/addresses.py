"""The one address policy's ``is_bogon`` against the analysis's former ``netaddr.is_bogon``, same run.

The analysis asks ``is_bogon`` about every DNS answer of every measurement, so it must cost no more
than what it replaced. The former implementation is loaded from git (``--base``, default ``main``:
``src/censorwatch/analysis/netaddr.py`` as it was there) and both are timed in this process on

- ``answers``: the DNS answers of the real samples, repeated as a long ingest sees them (cache hits);
- ``fresh``: 200,000 distinct random IPv4/IPv6 addresses, each asked once (cache misses: the parse,
  the interval search and, for IPv6, the embedded forms).

Usage: ``python benchmarks/addresses.py [--base REV] [--rounds N] [--samples DIR]``
Prints ns per call (CPU time) for each; run with ``uptime`` beside it.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from censorwatch.model import addresses  # noqa: E402
from censorwatch.model.measurement import Measurement  # noqa: E402
from censorwatch.store.reader import read_paths  # noqa: E402


def former(rev: str) -> Callable[..., bool]:
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:src/censorwatch/analysis/netaddr.py"],
                         capture_output=True, text=True, check=True).stdout
    mod = types.ModuleType("former_netaddr")
    exec(compile(src, f"{rev}:netaddr.py", "exec"), mod.__dict__)
    if "is_bogon" not in mod.__dict__:
        raise SystemExit(f"{rev}: netaddr.py has no is_bogon")
    return mod.__dict__["is_bogon"]  # type: ignore[no-any-return]


def answers_of(samples: Path) -> list[str]:
    out: list[str] = []
    for m in read_paths([samples]):
        if not isinstance(m, Measurement) or not m.test_keys:
            continue
        for q in m.test_keys.get("queries") or []:
            for a in (q or {}).get("answers") or []:
                v = a.get("ipv4") or a.get("ipv6") if isinstance(a, dict) else None
                if isinstance(v, str):
                    out.append(v)
    return out


def per_call_ns(fn: Callable[..., bool], items: list[str], rounds: int) -> float:
    t = time.process_time()
    for _ in range(rounds):
        for ip in items:
            fn(ip, lab=False)
    return (time.process_time() - t) / (rounds * len(items)) * 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="main")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--samples", type=Path, default=REPO.parent / "shared" / "data" / "ooni-samples")
    args = ap.parse_args()
    old = former(args.base)
    new = addresses.is_bogon
    answers = answers_of(args.samples)
    rng = random.Random(1)
    fresh = [str(ipaddress.IPv4Address(rng.getrandbits(32))) if rng.random() < 0.7
             else str(ipaddress.IPv6Address(rng.getrandbits(128))) for _ in range(200_000)]
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {len(answers)} answers in the samples")
    for name, items, rounds in (("answers (cache hits)", answers, args.rounds), ("fresh (cache misses)", fresh, 1)):
        # warm both caches the same way for the hit case; the miss case runs once on cold caches
        if rounds > 1:
            for ip in items:
                old(ip, lab=False)
                new(ip, lab=False)
        t_old = per_call_ns(old, items, rounds)
        t_new = per_call_ns(new, items, rounds)
        print(f"{name:22s} former netaddr.is_bogon {t_old:7.0f} ns   model.addresses.is_bogon {t_new:7.0f} ns   "
              f"ratio {t_new / t_old:4.2f}")
    differ = [ip for ip in set(answers) | set(fresh[:50_000]) if old(ip) != new(ip)]
    print(f"answers judged differently (the new table covers more): {len(differ)} of "
          f"{len(set(answers) | set(fresh[:50_000]))}, e.g. {sorted(differ)[:5]}")


if __name__ == "__main__":
    main()
