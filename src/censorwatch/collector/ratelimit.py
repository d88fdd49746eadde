"""Per-client token buckets (``rate`` requests per second, bursts up to ``burst``)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict


class RateLimiter:
    def __init__(self, rate: float, burst: float, *, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, client: str, now: float | None = None) -> float:
        """Take one token; return 0 when allowed, else the seconds to wait for the next token."""
        if not self.enabled:
            return 0.0
        t = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.burst, t))
        tokens = min(self.burst, tokens + (t - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, t)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
