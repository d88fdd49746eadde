"""portfiltering, tlsmiddlebox, traceroute, ddr, captive_portal/example: ``measured``, never ``anomaly``."""

from __future__ import annotations

from msmt_builder import q, run, tcp


def test_portfiltering() -> None:
    tk = {"tcp_connect": [tcp("10.0.0.9", 80), tcp("10.0.0.9", 139, "connection_refused"),
                          tcp("10.0.0.9", 445, "generic_timeout_error")]}
    v = run("portfiltering", tk)
    assert (v.status, v.rule) == ("measured", "diagnostics.portfiltering")
    assert v.details["open"] == [80] and v.details["timed_out"] == [445] and v.details["ports"] == 3
    assert run("portfiltering", {"tcp_connect": []}).rule == "diagnostics.no_data"


def _trace(server: str, outcomes: list[str | None]) -> dict[str, object]:
    return {"server_name": server, "iterations": [{"ttl": i + 1, "handshake": {"failure": f}}
                                                  for i, f in enumerate(outcomes)]}


def test_tlsmiddlebox_locates_the_hop() -> None:
    t = "generic_timeout_error"
    tk = {"iterative_trace": [{"address": "93.184.216.34:443", "control_trace": _trace("example.com", [t, t, t, None]),
                               "target_trace": _trace("blocked.example", [t, "connection_reset"])}]}
    v = run("tlsmiddlebox", tk, input="tlstrace://blocked.example")
    assert (v.status, v.rule) == ("measured", "diagnostics.tlsmiddlebox")
    assert v.details["traces"][0] == {"address": "93.184.216.34:443", "control_ttl": 4, "control": "ok",
                                      "target_ttl": 2, "target": "connection_reset"}
    assert "at hop 2" in v.explanation
    assert run("tlsmiddlebox", {"iterative_trace": []}).rule == "diagnostics.no_data"


def test_traceroute_hops() -> None:
    tk = {"test_icmp_traceroute": {"hops": [{"address": "10.1.1.1", "ttl": 1}, {"address": "10.1.1.2", "ttl": 2}]},
          "test_tcp_traceroute": {"hops_80": [{"address": "10.1.1.1", "ttl": 1}], "hops_443": []}}
    v = run("multi_protocol_traceroute", tk)
    assert (v.status, v.rule) == ("measured", "diagnostics.traceroute")
    assert v.details["hops"] == {"icmp": 2, "tcp:80": 1, "tcp:443": 0}
    assert run("multi_protocol_traceroute", {"x": 1}).rule == "diagnostics.no_data"


def test_ddr() -> None:
    yes = run("ddr", {"queries": [q("_dns.resolver.arpa", qt="SVCB")], "supports_ddr": True, "failure": None})
    assert (yes.status, yes.rule, yes.details["supports_ddr"]) == ("measured", "diagnostics.ddr", True)
    no = run("ddr", {"queries": [], "supports_ddr": False, "failure": None, "resolver": "192.168.1.1"})
    assert (no.status, no.details["supports_ddr"]) == ("measured", False) and "does not advertise" in no.explanation
    bad = run("ddr", {"supports_ddr": False, "failure": "generic_timeout_error"})
    assert (bad.status, bad.rule) == ("failure", "diagnostics.failed")


def test_other_diagnostics() -> None:
    v = run("example", {"failure": None, "success": True})
    assert (v.status, v.rule, v.details) == ("measured", "diagnostics.ran", {"failure": None, "success": True})
    assert run("captive_portal", {"failure": "eof_error"}).rule == "diagnostics.failed"
    assert run("captive_portal", None).rule == "diagnostics.no_data"
