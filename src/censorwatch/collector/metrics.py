"""The collector's counters, rendered in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...] = _BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, v)] += 1
        self.sum += v
        self.count += 1

    def render(self, name: str) -> list[str]:
        lines, cum = [], 0
        for b, c in zip(self.buckets, self.counts, strict=False):
            cum += c
            lines.append(f'{name}_bucket{{le="{b}"}} {cum}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{name}_sum {self.sum:.6f}")
        lines.append(f"{name}_count {self.count}")
        return lines


class Metrics:
    def __init__(self) -> None:
        self.accepted = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        self.batches = 0
        self.latency = Histogram()  # POST /api/v1/measurements, seconds, accepted + duplicates
        self.batch_seconds = Histogram()
        self.batch_size = Histogram((1, 2, 5, 10, 25, 50, 100, 250, 500, 1000))
        self.gauges: dict[str, Callable[[], float]] = {}

    def render(self) -> bytes:
        out: list[str] = []

        def metric(name: str, kind: str, help_: str, lines: list[str]) -> None:
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)

        p = "censorwatch_collector"
        metric(f"{p}_accepted_total", "counter", "Measurements durably stored (201).",
               [f"{p}_accepted_total {self.accepted}"])
        metric(f"{p}_duplicates_total", "counter", "Submissions of an already stored measurement (200).",
               [f"{p}_duplicates_total {self.duplicates}"])
        metric(f"{p}_rejected_total", "counter", "Submissions refused, by reason.",
               [f'{p}_rejected_total{{reason="{r}"}} {n}' for r, n in sorted(self.rejected.items())])
        metric(f"{p}_batches_total", "counter", "Write batches committed.", [f"{p}_batches_total {self.batches}"])
        for name, fn in sorted(self.gauges.items()):
            metric(f"{p}_{name}", "gauge", name.replace("_", " ") + ".", [f"{p}_{name} {fn()}"])
        metric(f"{p}_request_latency_seconds", "histogram",
               "Time from request to answer for accepted and duplicate submissions.",
               self.latency.render(f"{p}_request_latency_seconds"))
        metric(f"{p}_batch_commit_seconds", "histogram", "Time to commit one batch durably.",
               self.batch_seconds.render(f"{p}_batch_commit_seconds"))
        metric(f"{p}_batch_size", "histogram", "Measurements per committed batch.",
               self.batch_size.render(f"{p}_batch_size"))
        return ("\n".join(out) + "\n").encode()
