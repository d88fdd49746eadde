"""Performance families: ndt (speed test, NDT5 and ndt7) and dash (video streaming).

These tests measure how fast the network is, not whether something is blocked: a run that worked is
``measured`` with its figures in ``details`` (kbit/s, milliseconds, retransmissions); a run that did
not is ``failure``. Neither is ever evidence of censorship (OONI's fastpath gives them no blocking
score either). Slowness aimed at one service is the throughput test's question (analysis/throttle.py).
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.experiments.common import number
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict


def _fmt_kbps(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v / 1000:.1f} Mbit/s" if v >= 1000 else f"{v:.0f} kbit/s"


def _server(tk: dict[str, Any]) -> str | None:
    srv = tk.get("server")
    if isinstance(srv, dict):
        return srv.get("hostname") or srv.get("site")
    return tk.get("server_address") if isinstance(tk.get("server_address"), str) else None


def _obj(tk: dict[str, Any], key: str) -> dict[str, Any]:
    v = tk.get(key)
    return v if isinstance(v, dict) else {}


def ndt_figures(tk: dict[str, Any]) -> dict[str, Any]:
    """Download/upload in kbit/s, RTTs in ms, from ndt7's ``summary`` or measurement-kit's ``simple``/``advanced``."""
    s, simple, adv = _obj(tk, "summary"), _obj(tk, "simple"), _obj(tk, "advanced")
    fig = {
        "download_kbps": number(s.get("download")) or number(simple.get("download")),
        "upload_kbps": number(s.get("upload")) or number(simple.get("upload")),
        "ping_ms": number(s.get("ping")) or number(simple.get("ping")),
        "min_rtt_ms": number(s.get("min_rtt")) or number(adv.get("min_rtt")),
        "avg_rtt_ms": number(s.get("avg_rtt")) or number(adv.get("avg_rtt")),
        "max_rtt_ms": number(s.get("max_rtt")) or number(adv.get("max_rtt")),
        "mss": number(s.get("mss")) or number(adv.get("mss")),
        "retransmit_rate": number(s.get("retransmit_rate")) if "retransmit_rate" in s else number(
            adv.get("packet_loss")),
    }
    return {k: round(v, 3) for k, v in fig.items() if v is not None}


def classify_ndt(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys
    if not isinstance(tk, dict) or not tk:
        return make_verdict(m, "failure", "ndt.no_data", "The measurement holds no results.", family=NDT)
    failure = F.normalize(tk.get("failure"))
    fig = ndt_figures(tk)
    details: dict[str, Any] = {**fig, "server": _server(tk), "protocol": tk.get("protocol")}
    if failure is not None:
        return make_verdict(m, "failure", "ndt.failed", f"The speed test did not complete ({failure}); a speed "
                            "test says nothing about blocking either way.", details={**details, "failure": failure},
                            family=NDT)
    if not fig:
        return make_verdict(m, "failure", "ndt.no_data", "The speed test recorded no figures.", details=details,
                            family=NDT)
    parts = []
    if "download_kbps" in fig or "upload_kbps" in fig:
        parts.append(f"download {_fmt_kbps(fig.get('download_kbps'))}, upload {_fmt_kbps(fig.get('upload_kbps'))}")
    if "ping_ms" in fig or "min_rtt_ms" in fig:
        parts.append(f"round trip {fig.get('min_rtt_ms', fig.get('ping_ms')):.0f} ms")
    where = f" against {details['server']}" if details["server"] else ""
    return make_verdict(m, "measured", "ndt.measured", f"Speed test{where}: {'; '.join(parts)} (a performance "
                        "figure, not a censorship verdict).", details=details, family=NDT)


def classify_dash(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys
    if not isinstance(tk, dict) or not tk:
        return make_verdict(m, "failure", "dash.no_data", "The measurement holds no results.", family=DASH)
    failure = F.normalize(tk.get("failure"))
    simple = _obj(tk, "simple")
    latency = number(simple.get("connect_latency"))
    raw_fig = {
        "median_bitrate_kbps": number(simple.get("median_bitrate")),
        "min_playout_delay_s": number(simple.get("min_playout_delay")),
        "connect_latency_ms": round(latency * 1000, 1) if latency is not None else None,
    }
    fig = {k: v for k, v in raw_fig.items() if v is not None}
    details: dict[str, Any] = {**fig, "server": _server(tk)}
    if failure is not None:
        return make_verdict(m, "failure", "dash.failed", f"The streaming test did not complete ({failure}); it "
                            "says nothing about blocking either way.", details={**details, "failure": failure},
                            family=DASH)
    if "median_bitrate_kbps" not in fig:
        return make_verdict(m, "failure", "dash.no_data", "The streaming test recorded no bitrate.", details=details,
                            family=DASH)
    delay = fig.get("min_playout_delay_s")
    return make_verdict(m, "measured", "dash.measured", f"Video streaming test: median bitrate "
                        f"{_fmt_kbps(fig['median_bitrate_kbps'])}"
                        + (f", minimum playout delay {delay:.1f} s" if delay is not None else "")
                        + " (a performance figure, not a censorship verdict).", details=details, family=DASH)


NDT = Family(
    name="ndt", tests=("ndt", "ndt7"), version="ndt-1", classify=classify_ndt,
    summary="a speed test against an M-Lab server (performance, not censorship): status measured",
    rules={
        "ndt.no_data": "no results or no figures recorded",
        "ndt.failed": "the speed test did not complete: no figure (never evidence of blocking)",
        "ndt.measured": "download/upload kbit/s and round-trip times measured",
    },
)
DASH = Family(
    name="dash", tests=("dash",), version="dash-1", classify=classify_dash,
    summary="video streaming quality against an M-Lab server (performance, not censorship): status measured",
    rules={
        "dash.no_data": "no results or no bitrate recorded",
        "dash.failed": "the streaming test did not complete: no figure (never evidence of blocking)",
        "dash.measured": "median bitrate and playout delay measured",
    },
)
FAMILIES = [NDT, DASH]
