"""Throttling on loopback: a user-space paced HTTPS server, the real throughput probe, the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from platform_certs import make_ca_and_server

from censorwatch.analysis import throttle
from censorwatch.lab.pacing import PacedServer
from censorwatch.probe import ProbeConfig, build_context, throughput


async def _run(tmp_path: Path, target_kbps: float, reference_kbps: float) -> dict[str, Any]:
    ca, sctx = make_ca_and_server(tmp_path)
    t_srv, r_srv = PacedServer(link_kbps=target_kbps, ssl_context=sctx), PacedServer(link_kbps=reference_kbps, ssl_context=sctx)
    _, tp = await t_srv.start("127.0.0.1", 0)
    _, rp = await r_srv.start("127.0.0.1", 0)
    ctx = build_context(ProbeConfig(allow_loopback=True, system_resolver="127.0.0.1:9", ca_files=[ca],
                                    trust_system=False))
    try:
        m = await throughput.run(ctx, f"https://127.0.0.1:{tp}/big", f"https://127.0.0.1:{rp}/big",
                                 samples=2, duration=1.5)
    finally:
        await t_srv.aclose()
        await r_srv.aclose()
    return m


async def test_a_150kbps_cap_is_throttle_with_the_rate_within_20_percent(tmp_path: Path) -> None:
    m = await _run(tmp_path, 150, 3000)
    tk = m["test_keys"]
    assert tk["throttling"] is True
    assert abs(tk["rate_kbps"] - 150) / 150 < 0.2, tk["rate_kbps"]
    assert tk["ratio"] > 10
    reads = [e for e in tk["network_events"] if e["operation"] == "read" and e.get("num_bytes")]
    assert len(reads) > 20  # the rate comes from byte-level events
    assert all(s["tls_handshake_time"] is not None and s["ttfb"] is not None for s in tk["samples"])


async def test_a_slow_but_fair_network_is_not_throttling(tmp_path: Path) -> None:
    m = await _run(tmp_path, 300, 300)
    tk = m["test_keys"]
    assert tk["throttling"] is False
    assert abs(tk["rate_kbps"] - 300) / 300 < 0.2
    assert 0.7 < tk["ratio"] < 1.4


async def test_unreachable_target_is_not_a_rate(tmp_path: Path) -> None:
    ca, sctx = make_ca_and_server(tmp_path)
    r_srv = PacedServer(link_kbps=1000, ssl_context=sctx)
    _, rp = await r_srv.start("127.0.0.1", 0)
    ctx = build_context(ProbeConfig(allow_loopback=True, system_resolver="127.0.0.1:9", ca_files=[ca],
                                    trust_system=False))
    try:
        m = await throughput.run(ctx, "https://127.0.0.1:1/x", f"https://127.0.0.1:{rp}/", samples=2, duration=0.5)
    finally:
        await r_srv.aclose()
    assert m["test_keys"]["throttling"] is False
    from censorwatch.model.measurement import Measurement

    v = throttle.classify_throughput(Measurement.from_raw(m, "t"))
    assert (v.status, v.rule) == ("anomaly", "throttle.target_failed")
    assert "connection_refused" in v.explanation


def test_ks_and_area_on_known_samples() -> None:
    same = [float(x) for x in range(100)]
    d, p = throttle.ks_2samp(same, same)
    assert d == 0 and p == 1.0
    d, p = throttle.ks_2samp([float(x) for x in range(50)], [float(x) + 100 for x in range(50)])
    assert d == 1.0 and p < 1e-10
    assert throttle.cdf_area([1.0] * 10, [1.0] * 10) == 0
    assert throttle.cdf_area([10.0] * 10, [100.0] * 10) == pytest.approx(0.9)


def test_steady_rate_skips_the_initial_burst() -> None:
    # 16 KB at once, then 1875 B every 100 ms (150 kbps) for 3 s
    reads = [(0.0, 16384)] + [(0.1 * i, 1875) for i in range(1, 31)]
    rate, windows = throttle.transfer_rates(reads)
    assert rate == pytest.approx(150, rel=0.05)
    assert len(windows) == throttle.WINDOWS - 1


async def test_a_target_slow_from_the_control_too_is_not_throttled_here(tmp_path: Path) -> None:
    # the target server itself is slow (150 kbps) for everyone: the control's ratio cancels the probe's
    control = await _run(tmp_path, 150, 3000)
    assert control["test_keys"]["throttling"] is True  # alone, it looks like throttling
    ca, sctx = make_ca_and_server(tmp_path)
    t_srv, r_srv = PacedServer(link_kbps=150, ssl_context=sctx), PacedServer(link_kbps=3000, ssl_context=sctx)
    _, tp = await t_srv.start("127.0.0.1", 0)
    _, rp = await r_srv.start("127.0.0.1", 0)
    ctx = build_context(ProbeConfig(allow_loopback=True, system_resolver="127.0.0.1:9", ca_files=[ca],
                                    trust_system=False))
    try:
        m = await throughput.run(ctx, f"https://127.0.0.1:{tp}/big", f"https://127.0.0.1:{rp}/big", samples=2,
                                 duration=1.5, control=throughput.control_keys(control))
    finally:
        await t_srv.aclose()
        await r_srv.aclose()
    from censorwatch.model.measurement import Measurement

    v = throttle.classify_throughput(Measurement.from_raw(m, "t"))
    assert (v.status, v.rule) == ("ok", "throttle.none"), v.explanation
    assert v.details["ratio"] > 10 and v.details["control_ratio"] > 10 and v.details["adjusted_ratio"] < 1.5
