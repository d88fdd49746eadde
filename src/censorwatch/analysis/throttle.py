"""Throttling verdicts from ``throughput`` measurements: pure statistics over ``network_events``.

Rates come from the byte-level ``read`` events of each transfer (``transaction_id``), never from a
stopwatch: a transfer's span (first to last read) is cut into ``WINDOWS`` equal windows; the first
window is dropped (TCP slow start, a shaper's token-bucket burst, buffered bytes), the others give
one rate sample each and the transfer's *steady rate* (their bytes over their time).

Decision (rule ids in brackets; thresholds and why):

- ``ratio`` = median steady rate of the reference / median steady rate of the target. With a control
  (the same measurement from an uncensored vantage, ``test_keys.control``) the ratio is divided by
  the control's own ratio, so a target that is slow from everywhere is not throttled here.
- [``throttle.statistical``] Wehe's pair of tests on the window samples (Li et al., IMC 2019; Kakhki et
  al., IMC 2015): two-sample Kolmogorov-Smirnov ``p < 0.05`` *and* the normalised area between the two
  empirical CDFs ``> 0.1`` (KS alone flags tiny, practically irrelevant differences once samples are
  many). Window samples of one transfer are autocorrelated, which makes KS p-values optimistic, and
  our reference is a different server (Wehe replays the same server), so we also require
  ``ratio >= 1.5``: a difference between two healthy servers of up to 1.5x is normal variation.
- [``throttle.ratio``] ``ratio >= 10``: OONI's throttling design note; Russia's 2021 Twitter throttle
  (130-150 kbps against multi-Mbps references) is far beyond it. Decides even with few samples.
- Otherwise [``throttle.none``]: a network where the reference is as slow as the target is a slow
  network, not throttling. Fewer than ``MIN_TRANSFERS`` good transfers per role gives ``failure``
  [``throttle.insufficient``]; a target that fails while the reference works is an ``anomaly``
  [``throttle.target_failed``] (blocking, which web_connectivity classifies precisely).
"""

from __future__ import annotations

import itertools
import math
from statistics import median
from typing import Any, Final

from censorwatch.analysis.verdicts import make_verdict
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

WINDOWS: Final = 10
KS_ALPHA: Final = 0.05
AREA_THRESHOLD: Final = 0.1
MIN_RATIO: Final = 1.5
BIG_RATIO: Final = 10.0
MIN_TRANSFERS: Final = 2


def kbps(num_bytes: float, seconds: float) -> float:
    return num_bytes * 8 / 1000 / seconds if seconds > 0 else math.inf


def transfer_rates(reads: list[tuple[float, int]], windows: int = WINDOWS) -> tuple[float | None, list[float]]:
    """``(steady_kbps, window_kbps)`` of one transfer from its ``(t, num_bytes)`` reads."""
    reads = sorted((t, b) for t, b in reads if b > 0)
    if len(reads) < 2:
        return None, []
    t_first, t_last = reads[0][0], reads[-1][0]
    span = t_last - t_first
    if span <= 0:
        return None, []
    width = span / windows
    bins = [0] * windows
    for t, b in reads[1:]:  # the first read's bytes arrived before t_first: no time to divide by
        bins[min(int((t - t_first) / width), windows - 1)] += b
    steady = bins[1:]
    return kbps(sum(steady), width * len(steady)), [kbps(b, width) for b in steady]


def ks_2samp(a: list[float], b: list[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov ``(D, p)``; p from the asymptotic distribution (Stephens' correction)."""
    xs, ys = sorted(a), sorted(b)
    n, m = len(xs), len(ys)
    if not n or not m:
        return 0.0, 1.0
    i = j = 0
    d = 0.0
    while i < n and j < m:
        v = min(xs[i], ys[j])
        while i < n and xs[i] <= v:
            i += 1
        while j < m and ys[j] <= v:
            j += 1
        d = max(d, abs(i / n - j / m))
    en = math.sqrt(n * m / (n + m))
    lam = (en + 0.12 + 0.11 / en) * d
    if lam < 1e-3:
        return d, 1.0
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, min(1.0, max(0.0, p))


def cdf_area(a: list[float], b: list[float]) -> float:
    """Area between the empirical CDFs of ``a`` and ``b``, normalised by the largest sample (0..1)."""
    if not a or not b:
        return 0.0
    top = max(max(a), max(b))
    if top <= 0:
        return 0.0
    xs, ys = sorted(a), sorted(b)
    points = sorted(set(xs) | set(ys))
    area = 0.0
    i = j = 0
    for lo, hi in itertools.pairwise(points):
        while i < len(xs) and xs[i] <= lo:
            i += 1
        while j < len(ys) and ys[j] <= lo:
            j += 1
        area += abs(i / len(xs) - j / len(ys)) * (hi - lo)
    return area / top


def summarize(tk: dict[str, Any]) -> dict[str, Any]:
    """Per role: steady rates, window samples, TLS handshake times, TTFBs and failures."""
    reads: dict[int, list[tuple[float, int]]] = {}
    for ev in tk.get("network_events") or []:
        if isinstance(ev, dict) and ev.get("operation") == "read" and isinstance(ev.get("num_bytes"), int):
            tid = ev.get("transaction_id")
            if isinstance(tid, int) and isinstance(ev.get("t"), int | float):
                reads.setdefault(tid, []).append((float(ev["t"]), ev["num_bytes"]))
    out: dict[str, Any] = {}
    for role in ("target", "reference"):
        steady: list[float] = []
        windows: list[float] = []
        hs: list[float] = []
        ttfb: list[float] = []
        failed: list[str] = []
        for row in tk.get("samples") or []:
            if not isinstance(row, dict) or row.get("role") != role:
                continue
            if row.get("failure"):
                failed.append(F.normalize(row["failure"]) or "")
                continue
            rate, win = transfer_rates(reads.get(row.get("transaction_id") or -1, []))
            if rate is None and row.get("bytes") and row.get("duration"):
                rate = kbps(row["bytes"], row["duration"])
            if rate is not None:
                steady.append(rate)
                windows.extend(win or [rate])
            for key, acc in (("tls_handshake_time", hs), ("ttfb", ttfb)):
                if isinstance(row.get(key), int | float):
                    acc.append(float(row[key]))
        out[role] = {"steady": steady, "windows": windows, "tls_handshake_time": hs, "ttfb": ttfb,
                     "failures": failed}
    return out


def _ratio(s: dict[str, Any]) -> float | None:
    t, r = s["target"]["steady"], s["reference"]["steady"]
    if not t or not r:
        return None
    mt = median(t)
    return math.inf if mt <= 0 else median(r) / mt


def decide(tk: dict[str, Any]) -> dict[str, Any]:
    """The statistics and the rule that fires (pure; ``classify_throughput`` wraps it in a Verdict)."""
    s = summarize(tk)
    t, r = s["target"], s["reference"]
    res: dict[str, Any] = {
        "rate_kbps": round(median(t["steady"]), 1) if t["steady"] else None,
        "reference_rate_kbps": round(median(r["steady"]), 1) if r["steady"] else None,
        "transfers": {"target": len(t["steady"]), "reference": len(r["steady"])},
        "target_failures": t["failures"],
        "tls_handshake_time": {k: round(median(s[k]["tls_handshake_time"]), 6) if s[k]["tls_handshake_time"]
                               else None for k in ("target", "reference")},
        "ttfb": {k: round(median(s[k]["ttfb"]), 6) if s[k]["ttfb"] else None for k in ("target", "reference")},
    }
    if len(r["steady"]) < MIN_TRANSFERS:
        res["rule"] = "throttle.insufficient"
        return res
    if len(t["steady"]) < MIN_TRANSFERS:
        res["rule"] = "throttle.target_failed" if t["failures"] else "throttle.insufficient"
        return res
    ratio = _ratio(s) or 1.0
    control_ratio = None
    ctrl = tk.get("control")
    if isinstance(ctrl, dict):
        control_ratio = _ratio(summarize(ctrl))
    adjusted = ratio / control_ratio if control_ratio and math.isfinite(control_ratio) else ratio
    d, p = ks_2samp(t["windows"], r["windows"])
    area = cdf_area(t["windows"], r["windows"])
    res.update(ratio=round(ratio, 3), control_ratio=None if control_ratio is None else round(control_ratio, 3),
               adjusted_ratio=round(adjusted, 3), ks_d=round(d, 4), ks_p=p, area=round(area, 4))
    if adjusted >= BIG_RATIO:
        res["rule"] = "throttle.ratio"
    elif p < KS_ALPHA and area > AREA_THRESHOLD and adjusted >= MIN_RATIO:
        res["rule"] = "throttle.statistical"
    else:
        res["rule"] = "throttle.none"
    return res


def classify_throughput(m: Measurement) -> Verdict:
    tk = m.test_keys or {}
    res = decide(tk)
    rule = res["rule"]
    target = tk.get("target") or m.input
    if rule in ("throttle.ratio", "throttle.statistical"):
        status, method = "anomaly", "throttle"
        why = (f"{target} runs at {res['rate_kbps']} kbps, {res['adjusted_ratio']}x slower than the reference "
               f"({res['reference_rate_kbps']} kbps; KS p={res['ks_p']:.3g}, area={res['area']})")
    elif rule == "throttle.none":
        status, method = "ok", None
        why = (f"{target} at {res['rate_kbps']} kbps vs reference {res['reference_rate_kbps']} kbps "
               f"(ratio {res['adjusted_ratio']}): no throttling")
    elif rule == "throttle.target_failed":
        status, method = "anomaly", None
        why = f"transfers from {target} failed ({', '.join(sorted(set(res['target_failures'])))}) while the reference worked"
    else:
        status, method = "failure", None
        why = "not enough successful transfers to compare"
    return make_verdict(
        m, status, rule, why, method=method,  # type: ignore[arg-type]
        blocking=None, accessible=None if status == "failure" else rule != "throttle.target_failed",
        details=res,
    )
