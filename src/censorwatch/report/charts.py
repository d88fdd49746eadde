"""Server-side chart geometry: pure functions turning counts into shapes.

Templates draw the shapes as inline SVG (``templates/_charts.html``), so every label goes through
Jinja's autoescaping; nothing here builds markup. Colours are SVG ``fill`` attributes, which a strict
Content-Security-Policy (no inline styles) allows.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

COLORS = {
    "ok": "#3a9d5d",
    "anomaly": "#f0a500",
    "confirmed": "#c62828",
    "down": "#5f6368",
    "measured": "#4a7fb5",
    "nodata": "#e6e6e6",
    "outage": "#1f1f1f",
}
STATUS_ORDER = ("ok", "anomaly", "confirmed", "down", "measured")

#: Rule ``web.cell_status`` v1: how a bucket of verdict counts is summarised as one colour.
CELL_RULE = "web.cell_status/1"


def cell_status(total: int, ok: int, anomaly: int, confirmed: int, down: int, measured: int = 0) -> str:
    """``nodata`` without measurements; ``measured`` when every one is a speed test or diagnostic
    (no censorship verdict: they never count in the shares below); ``confirmed`` if any confirmed (a
    fingerprinted blockpage is proof on its own); ``down`` if at least half failed for the target
    being down everywhere; ``anomaly`` if at least 20 % anomalous (a lone anomaly is noise); else ``ok``."""
    if total <= 0:
        return "nodata"
    total -= measured
    if total <= 0:
        return "measured"
    if confirmed > 0:
        return "confirmed"
    if down * 2 >= total:
        return "down"
    if anomaly * 5 >= total:
        return "anomaly"
    return "ok"


@dataclass(slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


@dataclass(slots=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"


@dataclass(slots=True)
class Chart:
    width: int
    height: int
    title: str
    rects: list[Rect] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    lines: list[tuple[float, float, float, float, str]] = field(default_factory=list)
    points: int = 0  # buckets with data: a test can assert the chart is not empty
    bucket: str = ""  # the time axis's bucket (hour, day), for time-axis charts
    columns: int = 0  # how many buckets the time axis has


def _fmt(t: datetime, hourly: bool) -> str:
    return t.strftime("%m-%d %H:00") if hourly else t.strftime("%Y-%m-%d")


def stacked_bars(
    series: Sequence[dict[str, Any]],
    *,
    title: str,
    start: datetime | None = None,
    end: datetime | None = None,
    width: int = 760,
    height: int = 220,
) -> Chart:
    """One stacked bar per bucket (ok / anomaly / confirmed / down), optional incident start/end lines."""
    chart = Chart(width, height, title)
    left, right, top, bottom = 48, 10, 16, 34
    pw, ph = width - left - right, height - top - bottom
    if not series:
        chart.labels.append(Label(width / 2, height / 2, "no measurements in this window", "middle"))
        return chart
    times = [r["t"] for r in series]
    step = min((b - a for a, b in itertools.pairwise(times)), default=timedelta(hours=1))
    hourly = step < timedelta(days=1)
    t0, t1 = times[0], times[-1] + step
    span = (t1 - t0).total_seconds() or 1.0
    ymax = max(int(r["total"] or 0) for r in series) or 1

    def xof(t: datetime) -> float:
        return left + pw * (t - t0).total_seconds() / span

    bw = max(pw * step.total_seconds() / span - 1, 1)
    for r in series:
        x, y = xof(r["t"]), float(top + ph)
        for st in STATUS_ORDER:
            n = int(r.get(st) or 0)
            if n <= 0:
                continue
            h = ph * n / ymax
            y -= h
            chart.rects.append(Rect(round(x, 1), round(y, 1), round(bw, 1), round(h, 1), COLORS[st],
                                    f"{_fmt(r['t'], hourly)}: {n} {st} of {r['total']}"))
        if r["total"]:
            chart.points += 1
    chart.lines.append((left, top + ph, left + pw, top + ph, "#444"))
    chart.labels.append(Label(left - 4, top + 8, str(ymax), "end"))
    chart.labels.append(Label(left - 4, top + ph, "0", "end"))
    for i in range(5):
        t = t0 + (t1 - t0) * i / 4
        chart.labels.append(Label(xof(t), height - 18, _fmt(t, hourly), "middle" if 0 < i < 4 else ("start" if i == 0 else "end")))
    for t, name in ((start, "start"), (end, "end")):
        if t is not None and t0 <= t <= t1:
            x = round(xof(t), 1)
            chart.lines.append((x, top - 4, x, top + ph, "#000"))
            chart.labels.append(Label(x + 3, top + 4, f"incident {name}"))
    chart.labels.append(Label(left, height - 4, "measurements per " + ("hour" if hourly else "day")))
    return chart


#: tick spacings to choose from (the first that keeps at most MAX_TICKS labels)
HOUR_STEPS = (1, 2, 3, 6, 12, 24, 48)
DAY_STEPS = (1, 2, 7, 14, 28, 56, 91, 182, 364)
MAX_TICKS = 8


def ticks(times: Sequence[datetime], hourly: bool) -> list[tuple[int, str]]:
    """(bucket index, label) for the time axis: at round hours or days, at most MAX_TICKS of them;
    an hourly label says the date where the day changes (and on the first tick)."""
    if not times:
        return []
    steps = HOUR_STEPS if hourly else DAY_STEPS
    step = next((k for k in steps if len(times) / k <= MAX_TICKS), steps[-1])
    out: list[tuple[int, str]] = []
    for i, t in enumerate(times):
        unit = t.hour if hourly else (t - datetime(2000, 1, 3, tzinfo=t.tzinfo)).days  # Mondays for weeks
        if unit % step:
            continue
        if hourly:
            text = t.strftime("%m-%d %H:00") if not out or t.hour == 0 else t.strftime("%H:00")
        else:
            text = t.strftime("%Y-%m-%d") if not out or (t.month, t.day) == (1, 1) else t.strftime("%m-%d")
        out.append((i, text))
    return out


def heatmap(
    rows: Sequence[str],
    times: Sequence[datetime],
    cells: dict[tuple[str, datetime], dict[str, Any]],
    *,
    title: str,
    hourly: bool,
    outages: Sequence[tuple[str | None, datetime, datetime | None]] = (),
    width: int = 760,
    row_labels: dict[str, str] | None = None,
) -> Chart:
    """Rows (networks or countries) x time buckets; each cell coloured by ``cell_status``.

    ``outages`` are ``(row or None for all rows, start, end)``: overlaid as dark bars under the row.
    ``row_labels`` names the rows (``PTCL (AS17557)`` for ``AS17557``); the time axis is labelled at
    round hours or days (``ticks``).
    """
    names = {r: (row_labels or {}).get(r) or r for r in rows}
    left = min(240, max(90, 6 * max((len(n) for n in names.values()), default=0) + 12))
    top, rh = 4, 16
    height = top + rh * max(len(rows), 1) + 26
    chart = Chart(width, height, title, bucket="hour" if hourly else "day", columns=len(times))
    n = max(len(times), 1)
    cw = (width - left - 4) / n
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    for ri, row in enumerate(rows):
        y = top + ri * rh
        name = names[row]
        chart.labels.append(Label(left - 4, y + rh - 4, name, "end"))
        for ti, t in enumerate(times):
            c = cells.get((row, t))
            if c is None:
                st, tip = "nodata", f"{name} {_fmt(t, hourly)}: no data"
            else:
                st = cell_status(c["total"], c["ok"], c["anomaly"], c["confirmed"], c["down"], c.get("measured") or 0)
                tip = (f"{name} {_fmt(t, hourly)}: {st} ({c['ok']} ok, {c['anomaly']} anomaly, "
                       f"{c['confirmed']} confirmed, {c['down']} down, {c.get('measured') or 0} measured "
                       f"of {c['total']})")
                chart.points += 1
            chart.rects.append(Rect(round(left + ti * cw, 1), y, round(max(cw - 1, 1), 1), rh - 2, COLORS[st], tip))
        for o_row, o_start, o_end in outages:
            if o_row not in (None, row) or not times:
                continue
            a = max(o_start, times[0])
            b = min(o_end or times[-1] + step, times[-1] + step)
            if b <= a:
                continue
            x0 = left + (a - times[0]) / step * cw
            x1 = left + (b - times[0]) / step * cw
            chart.rects.append(Rect(round(x0, 1), y + rh - 4, round(max(x1 - x0, 2), 1), 3, COLORS["outage"],
                                    f"{name}: outage from {_fmt(o_start, True)}"))
    axis = top + rh * max(len(rows), 1)
    for i, text in ticks(times, hourly):
        x = round(left + i * cw, 1)
        chart.lines.append((x, axis, x, axis + 4, "#444"))
        chart.labels.append(Label(x, height - 8, text, "start" if i == 0 else "middle"))
    return chart


def buckets(start: datetime, end: datetime, hourly: bool) -> list[datetime]:
    """Every bucket start in ``[start, end)``, aligned to the hour or the day."""
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    t = start.replace(minute=0, second=0, microsecond=0)
    if not hourly:
        t = t.replace(hour=0)
    out = []
    while t < end:
        out.append(t)
        t += step
    return out
