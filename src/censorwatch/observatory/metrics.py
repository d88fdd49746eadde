"""``/metrics`` of the observatory (Prometheus text format 0.0.4): where each stage stands.

The lag of each stage, in leaves of the evidence log: ``log_leaves`` (signed by the collector) ->
``stored_leaves`` (in the store, classified) -> ``analysed_leaves`` (stored when the last complete
analysis pass started); ``alerts_pending`` webhook deliveries wait for their (next) attempt. The
collector's own counters stay on its port's ``/metrics``."""

from __future__ import annotations

from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
P = "censorwatch_observatory"


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6f}"


def render(status: dict[str, Any], log_size: int, counts: dict[str, int], *, collector_up: bool,
           collector_restarts: int) -> bytes:
    out: list[str] = []

    def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP {P}_{name} {help_}")
        out.append(f"# TYPE {P}_{name} {kind}")
        out.extend(f"{P}_{name}{labels} {_num(value)}" for labels, value in samples)

    stored, analysed = status["stored_leaves"], status["analysed_leaves"]
    metric("log_leaves", "gauge", "Leaves the evidence log has signed.", [("", log_size)])
    metric("stored_leaves", "gauge", "Leaves stored and classified in the store.", [("", stored)])
    metric("analysed_leaves", "gauge", "Leaves stored when the last complete analysis pass started.", [("", analysed)])
    metric("lag_leaves", "gauge", "Leaves a stage is behind the one before it.",
           [('{stage="store"}', max(0, log_size - stored)), ('{stage="analysis"}', max(0, stored - analysed))])
    metric("alerts_pending", "gauge", "Webhook deliveries waiting for their (next) attempt.",
           [("", counts["alerts_pending"])])
    metric("measurements", "gauge", "Measurements in the store.", [("", counts["measurements"])])
    metric("incidents_active", "gauge", "Incidents still going on.", [("", counts["incidents_active"])])
    metric("collector_up", "gauge", "1 when the collector answers.", [("", 1 if collector_up else 0)])
    metric("collector_restarts_total", "counter", "Times the collector was started again after it exited.",
           [("", collector_restarts)])
    stages = sorted(status["stages"].items())
    metric("stage_runs_total", "counter", "Runs of each stage of the store loop.",
           [(f'{{stage="{n}"}}', s["runs"]) for n, s in stages])
    metric("stage_failures_total", "counter", "Runs that raised (each is logged and retried after a backoff).",
           [(f'{{stage="{n}"}}', s["failures"]) for n, s in stages])
    metric("stage_consecutive_failures", "gauge", "Failures since the stage last succeeded.",
           [(f'{{stage="{n}"}}', s["consecutive_failures"]) for n, s in stages])
    metric("stage_last_success_timestamp_seconds", "gauge", "Unix time of the stage's last success (0: never).",
           [(f'{{stage="{n}"}}', s["last_ok"] or 0) for n, s in stages])
    metric("stage_last_duration_seconds", "gauge", "How long the stage's last run took.",
           [(f'{{stage="{n}"}}', round(s["last_seconds"], 6)) for n, s in stages])
    return ("\n".join(out) + "\n").encode()
