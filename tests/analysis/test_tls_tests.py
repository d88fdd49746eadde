"""sni_blocking, echcheck, tlstool: every rule."""

from __future__ import annotations

from typing import Any

import pytest
from msmt_builder import run, tls


def _sni(target: str | None, control: str | None = None) -> dict[str, Any]:
    return {"target": {"failure": target, "sni": "blocked.example", "th_address": "helper.example:443"},
            "control": {"failure": control, "sni": "helper.example", "th_address": "helper.example:443"}}


@pytest.mark.parametrize(("target", "control", "rule", "method"), [
    (None, None, "sni_blocking.ok", None),
    ("ssl_invalid_hostname", None, "sni_blocking.ok", None),  # the helper's own certificate: reached
    ("connection_reset", None, "sni_blocking.blocked", "tls.reset"),
    ("eof_error", None, "sni_blocking.blocked", "tls.eof"),
    ("generic_timeout_error", None, "sni_blocking.blocked", "tls.timeout"),
    ("ssl_unknown_authority", None, "sni_blocking.blocked", "tls.mitm"),
    ("generic_timeout_error", "generic_timeout_error", "sni_blocking.helper_unreachable", None),
    ("connection_refused", None, "sni_blocking.helper_unreachable", None),
    ("unknown_failure: x509 odd", None, "sni_blocking.helper_unreachable", None),
])
def test_sni_blocking(target: str | None, control: str | None, rule: str, method: str | None) -> None:
    v = run("sni_blocking", _sni(target, control), input="blocked.example")
    assert (v.rule, v.method) == (rule, method)
    assert v.status == {"ok": "ok", "blocked": "anomaly"}.get(rule.split(".")[1], "failure")


def test_sni_blocking_without_target() -> None:
    assert run("sni_blocking", {"control": {"failure": None}}).rule == "sni_blocking.no_data"


def _ech(plain: str | None, ech: str | None) -> dict[str, Any]:
    return {"tls_handshakes": [tls("ech.example", plain),
                               tls("ech.example", ech, echconfig="GREASE", outer_server_name="public.example")]}


def test_echcheck() -> None:
    assert run("echcheck", _ech(None, None), input="https://ech.example/").rule == "echcheck.ok"
    v = run("echcheck", _ech(None, "connection_reset"), input="https://ech.example/")
    assert (v.status, v.rule, v.method) == ("anomaly", "echcheck.blocked", "tls.reset")
    both = run("echcheck", _ech("generic_timeout_error", "generic_timeout_error"), input="https://ech.example/")
    assert (both.status, both.rule) == ("failure", "echcheck.server_unreachable")
    stack = run("echcheck", _ech(None, "unknown_failure: tls: ech rejected"), input="https://ech.example/")
    assert (stack.status, stack.rule) == ("failure", "echcheck.probe_error")
    assert run("echcheck", {"tls_handshakes": []}).rule == "echcheck.no_data"


def test_echcheck_first_version_control_and_target() -> None:
    tk = {"control": tls("ech.example", None), "target": tls("ech.example", "eof_error")}
    v = run("echcheck", tk, input="https://ech.example/")
    assert (v.rule, v.method) == ("echcheck.blocked", "tls.eof")


def test_tlstool() -> None:
    def tk(**fails: str | None) -> dict[str, Any]:
        return {"experiment": {k: {"failure": f} for k, f in fails.items()}}

    assert run("tlstool", tk(vanilla=None, snisplit=None), input="x.org:443").rule == "tlstool.ok"
    v = run("tlstool", tk(vanilla="connection_reset", snisplit=None, thrice="connection_reset"), input="x.org:443")
    assert (v.status, v.rule, v.method) == ("anomaly", "tlstool.evaded", "tls.reset") and "snisplit" in v.explanation
    assert run("tlstool", tk(vanilla="generic_timeout_error", snisplit="generic_timeout_error")).rule == "tlstool.failed"
    assert run("tlstool", tk(vanilla="unknown_failure: odd")).rule == "tlstool.probe_error"
    assert run("tlstool", {"experiment": {}}).rule == "tlstool.no_data"
