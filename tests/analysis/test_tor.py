"""tor and the bootstrap tests (vanilla_tor, torsf, psiphon, bridge_reachability): every rule."""

from __future__ import annotations

from typing import Any

import pytest
from msmt_builder import run, tcp


def _targets(spec: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """{kind: (reached, failed)} -> tor test keys' ``targets``."""
    out: dict[str, Any] = {}
    for kind, (good, bad) in spec.items():
        for i in range(good + bad):
            fail = None if i < good else "generic_timeout_error"
            out[f"{kind}-{i}"] = {"target_protocol": kind, "failure": fail,
                                  "tcp_connect": [tcp(f"10.9.{len(out)}.1", 443, fail)]}
    return {"targets": out}


def test_every_target_reached() -> None:
    v = run("tor", _targets({"or_port_dirauth": (10, 0), "obfs4": (3, 0)}))
    assert (v.status, v.rule) == ("ok", "tor.ok") and v.details["reached"] == {"or_port_dirauth": "10/10", "obfs4": "3/3"}


def test_a_kind_fully_blocked() -> None:
    targets = {
        "a": {"target_protocol": "or_port", "failure": "connection_reset", "tcp_connect": []},
        "b": {"target_protocol": "or_port", "failure": None, "tcp_connect": [tcp("1.1.1.1", 9001, "generic_timeout_error")]},
        "c": {"target_protocol": "obfs4", "failure": None, "tcp_connect": [tcp("2.2.2.2", 80)]},
    }
    v = run("tor", {"targets": targets})
    assert (v.status, v.rule) == ("anomaly", "tor.blocked")
    assert v.details["reached"] == {"or_port": "0/2", "obfs4": "1/1"} and v.details["failed"] == 2


def test_most_targets_failing_is_partial_blocking_not_ok() -> None:
    """31 of 35 targets failing with a few of each kind still answering: OONI's fastpath flags it (more
    than half failed); so do we, saying plainly that some answered."""
    v = run("tor", _targets({"or_port_dirauth": (1, 9), "dir_port": (2, 8), "obfs4": (1, 14)}))
    assert (v.status, v.rule, v.method) == ("anomaly", "tor.mostly_blocked", "unreachable")
    assert v.explanation.startswith("31 of 35") and "a few still answered" in v.explanation


def test_a_minority_failing_is_reachable_and_says_so() -> None:
    v = run("tor", _targets({"or_port_dirauth": (10, 0), "dir_port": (10, 0), "obfs4": (2, 13)}))
    assert (v.status, v.rule) == ("ok", "tor.partial") and "13 failed" in v.explanation


def test_early_list_of_targets_is_read_like_todays_object() -> None:
    listed = [{"target_address": "1.2.3.4:443", "target_protocol": "or_port", "failure": "connection_reset"},
              {"target_address": "5.6.7.8:80", "target_protocol": "obfs4", "failure": None}]
    v = run("tor", {"targets": listed})
    assert (v.status, v.rule) == ("anomaly", "tor.blocked") and v.details["reached"] == {"or_port": "0/1", "obfs4": "1/1"}
    assert run("tor", {"targets": []}).rule == "tor.no_data"


@pytest.mark.parametrize("test", ["torsf", "vanilla_tor", "psiphon"])
def test_bootstrap(test: str) -> None:
    ok = run(test, {"failure": None, "bootstrap_time": 12.0, "success": False})
    assert (ok.status, ok.rule) == ("ok", "bootstrap.ok") and "12 s" in ok.explanation
    bad = run(test, {"failure": "generic_timeout_error", "bootstrap_time": 0, "success": True, "tor_progress": 45})
    assert (bad.status, bad.rule) == ("anomaly", "bootstrap.failed")
    assert run(test, {}).rule == "bootstrap.no_data"


def test_stuck_connecting_to_a_relay_is_a_tcp_timeout() -> None:
    v = run("vanilla_tor", {"failure": "generic_timeout_error", "tor_progress": 5, "tor_progress_tag": "conn",
                            "tor_progress_summary": "Connecting to a relay"})
    assert (v.status, v.method) == ("anomaly", "tcp.timeout") and "stuck at 5%" in v.explanation


def test_never_started_is_no_verdict() -> None:
    v = run("torsf", {"failure": "generic_timeout_error", "tor_progress": 0, "tor_progress_tag": "starting"})
    assert (v.status, v.rule) == ("failure", "bootstrap.not_started")


def test_legacy_vanilla_tor_keys() -> None:
    """ooniprobe-legacy wrote success/error/tor_progress and no failure."""
    ok = run("vanilla_tor", {"success": True, "error": None, "tor_progress": 100, "timeout": 300})
    assert (ok.status, ok.rule) == ("ok", "bootstrap.ok")
    late = run("vanilla_tor", {"success": False, "error": "timeout-reached", "tor_progress": 40, "timeout": 300})
    assert (late.status, late.rule) == ("anomaly", "bootstrap.failed") and "timed out" in late.explanation
    quiet = run("vanilla_tor", {"success": False, "error": None, "tor_progress": 10, "tor_progress_tag": "conn_done"})
    assert (quiet.status, quiet.method) == ("anomaly", "tcp.timeout")


def test_bridge_reachability_and_its_probe_errors() -> None:
    line = "obfs4 1.2.3.4:443 ABCDEF cert=x iat-mode=0"
    ok = run("bridge_reachability", {"success": True, "error": None, "bridge_address": line,
                                     "transport_name": "obfs4", "tor_progress": 100}, input=line)
    assert (ok.status, ok.rule) == ("ok", "bootstrap.ok") and ok.details["bridge"] == line
    dead = run("bridge_reachability", {"success": False, "error": "timeout-reached", "tor_progress": 10}, input=line)
    assert (dead.status, dead.rule) == ("anomaly", "bootstrap.failed")
    old = run("bridge_reachability", {"success": False, "error": "unsupported-tor-version"}, input=line)
    assert (old.status, old.rule) == ("failure", "bootstrap.probe_error")
    missing = run("bridge_reachability", {"success": None, "error": "missing-fteproxy"}, input=line)
    assert (missing.status, missing.rule) == ("failure", "bootstrap.probe_error")
