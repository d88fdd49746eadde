"""ndt and dash: figures under status ``measured``; a failed run is ``failure``, never ``anomaly``."""

from __future__ import annotations

from msmt_builder import run


def test_ndt7_figures() -> None:
    tk = {"failure": None, "protocol": 7, "server": {"hostname": "ndt-test.example"},
          "summary": {"download": 48250.5, "upload": 9800.0, "ping": 21.4, "min_rtt": 21.4, "avg_rtt": 30.1,
                      "max_rtt": 70.2, "mss": 1448, "retransmit_rate": 0.01}}
    v = run("ndt", tk)
    assert (v.status, v.rule, v.method) == ("measured", "ndt.measured", None)
    assert v.details["download_kbps"] == 48250.5 and v.details["upload_kbps"] == 9800.0
    assert "48.3 Mbit/s" in v.explanation and "not a censorship verdict" in v.explanation


def test_measurement_kit_ndt_figures() -> None:
    v = run("ndt", {"failure": None, "simple": {"download": 900.0, "upload": 400.0, "ping": 80.0},
                    "advanced": {"avg_rtt": 85.0}, "server_address": "ndt.example"})
    assert (v.status, v.details["download_kbps"], v.details["ping_ms"]) == ("measured", 900.0, 80.0)
    assert "900 kbit/s" in v.explanation


def test_failed_speed_tests_are_failures_not_anomalies() -> None:
    v = run("ndt", {"failure": "compute_advanced_stats_error", "summary_data": {}})
    assert (v.status, v.rule) == ("failure", "ndt.failed")
    d = run("dash", {"failure": "json_parse_error"})
    assert (d.status, d.rule) == ("failure", "dash.failed")
    assert run("ndt", {"failure": None}).rule == "ndt.no_data"
    assert run("dash", {"failure": None, "simple": {}}).rule == "dash.no_data"
    assert run("dash", None).rule == "dash.no_data"


def test_dash_figures() -> None:
    v = run("dash", {"failure": None, "server": {"hostname": "neubot.example"},
                     "simple": {"median_bitrate": 5120, "min_playout_delay": 1.25, "connect_latency": 0.031}})
    assert (v.status, v.rule) == ("measured", "dash.measured")
    assert v.details == {"median_bitrate_kbps": 5120.0, "min_playout_delay_s": 1.25, "connect_latency_ms": 31.0,
                         "server": "neubot.example"}
    assert "5.1 Mbit/s" in v.explanation
