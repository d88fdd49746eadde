"""The collector's counters, rendered in the Prometheus text exposition format (version 0.0.4).

With ``--workers N`` each process counts its own (the front-ends: requests, rejections, answers,
latency; the writer: batches, queue, tree); ``/metrics`` sums their ``snapshot``s with ``merge``."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable
from typing import Any

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

    def snapshot(self) -> list[Any]:
        return [self.counts, self.sum, self.count]

    def merge(self, snap: list[Any]) -> None:
        counts, total, n = snap
        self.counts = [a + b for a, b in zip(self.counts, counts, strict=True)]
        self.sum += total
        self.count += n

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
        self.requests = 0  # HTTP requests whose head was read, in this process
        self.requests_by_process: dict[str, int] = {}  # filled by ``merge``

    def snapshot(self) -> dict[str, Any]:
        """The counters (not the gauges) as plain JSON-able values, for ``merge`` in another process."""
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": dict(self.rejected),
                "batches": self.batches, "requests": self.requests, "latency": self.latency.snapshot(),
                "batch_seconds": self.batch_seconds.snapshot(), "batch_size": self.batch_size.snapshot()}

    def merge(self, snap: dict[str, Any], process: str | None) -> None:
        """Add another process's ``snapshot`` (its requests are also shown under ``process``, if given)."""
        self.accepted += snap["accepted"]
        self.duplicates += snap["duplicates"]
        self.rejected.update(snap["rejected"])
        self.batches += snap["batches"]
        self.requests += snap["requests"]
        if process is not None:
            self.requests_by_process[process] = snap["requests"]
        self.latency.merge(snap["latency"])
        self.batch_seconds.merge(snap["batch_seconds"])
        self.batch_size.merge(snap["batch_size"])

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
        metric(f"{p}_rejected_total", "counter", "Submissions and requests refused, by reason (the error code).",
               [f'{p}_rejected_total{{reason="{r}"}} {n}' for r, n in sorted(self.rejected.items())])
        metric(f"{p}_batches_total", "counter", "Write batches committed.", [f"{p}_batches_total {self.batches}"])
        by = self.requests_by_process or {"collector": self.requests}
        metric(f"{p}_http_requests_total", "counter", "HTTP requests read, by serving process.",
               [f'{p}_http_requests_total{{process="{k}"}} {n}' for k, n in sorted(by.items())])
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
