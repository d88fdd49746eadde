"""Verdict-row series for the pure detector tests (no measurements, no store)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from censorwatch.analysis.detect.series import VerdictRow

T0 = datetime(2024, 2, 10, tzinfo=UTC)


def series(
    hours: int,
    rate: float,
    blocked: list[tuple[float, float | None]],
    seed: int,
    *,
    flaky: float = 0.03,
    partial: float = 1.0,
    down: list[tuple[float, float]] | None = None,
    method: str = "tls.reset",
    cc: str = "PK",
    asn: str = "AS17557",
    target: str = "x.com",
) -> list[VerdictRow]:
    """Poisson(rate)/hour measurements; ``blocked`` = [(start_h, end_h|None)] with ``partial`` share blocked."""
    rnd = random.Random(seed)
    rows: list[VerdictRow] = []
    t = 0.0
    i = 0
    while True:
        t += rnd.expovariate(rate)
        if t >= hours:
            break
        is_blocked = any(s <= t and (e is None or t < e) for s, e in blocked)
        is_down = any(s <= t < e for s, e in (down or []))
        if is_down:
            status, m = "down", "unreachable"
        elif is_blocked and rnd.random() < partial:
            status, m = "anomaly", method
        elif rnd.random() < flaky:
            status, m = "anomaly", "tcp.timeout"
        elif rnd.random() < 0.02:
            status, m = "failure", None
        else:
            status, m = "ok", None
        rows.append(VerdictRow(T0 + timedelta(hours=t), cc, asn, target, status, m, f"{seed}-{i}"))
        i += 1
    return rows


def at(h: float) -> datetime:
    return T0 + timedelta(hours=h)
