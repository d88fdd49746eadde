"""Hand-built measurements of the non-web tests, in our own words (pure logic: no network)."""

from __future__ import annotations

from typing import Any

from censorwatch.analysis import classify
from censorwatch.analysis.fingerprints import Fingerprints, builtin_fingerprints
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict


def measurement(test: str, tk: Any, **env: Any) -> Measurement:
    raw = {"test_name": test, "measurement_start_time": env.pop("start", "2024-02-17 10:00:00"), "probe_cc": "PK",
           "probe_asn": "AS17557", "input": env.pop("input", None), "test_keys": tk, **env}
    return Measurement.from_raw(raw, source="t.jsonl:1")


def run(test: str, tk: Any, *, fps: Fingerprints | None = None, **env: Any) -> Verdict:
    return classify(measurement(test, tk, **env), fps or builtin_fingerprints())


def q(host: str, *ips: str, failure: str | None = None, asn: int | None = None, qt: str = "A") -> dict[str, Any]:
    return {"hostname": host, "query_type": qt, "failure": failure,
            "answers": [{"answer_type": qt, "ipv4" if qt == "A" else "ipv6": ip, "asn": asn} for ip in ips]}


def tcp(ip: str, port: int, failure: str | None = None, t0: float | None = None,
        t: float | None = None) -> dict[str, Any]:
    return {"ip": ip, "port": port, "status": {"success": failure is None, "failure": failure}, "t0": t0, "t": t}


def req(url: str, failure: str | None = None, code: int = 200, body: str = "",
        headers: Any = None, req_headers: Any = None) -> dict[str, Any]:
    return {"request": {"url": url, "headers": req_headers or {}}, "failure": failure,
            "response": None if failure else {"code": code, "body": body, "headers": headers or {}}}


def tls(server_name: str, failure: str | None = None, address: str = "", **extra: Any) -> dict[str, Any]:
    return {"server_name": server_name, "address": address, "failure": failure, **extra}
