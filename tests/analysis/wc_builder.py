"""Hand-built web_connectivity measurements for the rule tests (pure logic: no network)."""

from __future__ import annotations

from typing import Any

from censorwatch.model.measurement import Measurement

BODY = "<html><head><title>Example Domain For Tests</title></head><body>" + "x" * 2000 + "</body></html>"
HEADERS = {"Content-Type": "text/html", "X-Site-Id": "abc", "Date": "today"}


def query(host: str, *ips: str, failure: str | None = None, asn: int = 64500) -> dict[str, Any]:
    return {
        "hostname": host, "query_type": "A", "engine": "system", "failure": failure,
        "answers": [{"answer_type": "A", "ipv4": ip, "asn": asn} for ip in ips],
    }


def tcp(ip: str, port: int, failure: str | None = None) -> dict[str, Any]:
    return {"ip": ip, "port": port, "status": {"success": failure is None, "failure": failure}}


def request(url: str, *, failure: str | None = None, code: int = 200, body: str | None = BODY,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    resp = None if failure else {"code": code, "body": body, "headers": headers or HEADERS}
    return {"request": {"url": url, "method": "GET", "headers": {}}, "failure": failure, "response": resp}


def control(*, addrs: list[str] | None = None, dns_failure: str | None = None,
            tcp_ok: dict[str, bool] | None = None, http_failure: str | None = None, code: int = 200,
            body_length: int | None = None, title: str = "Example Domain For Tests",
            headers: dict[str, str] | None = None, ip_info: dict[str, Any] | None = None,
            tls: dict[str, Any] | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {
        "dns": {"addrs": ["93.184.216.34"] if addrs is None else addrs, "failure": dns_failure},
        "tcp_connect": {ep: {"status": ok, "failure": None if ok else "generic_timeout_error"}
                        for ep, ok in (tcp_ok or {"93.184.216.34:80": True}).items()},
        "http_request": {
            "body_length": len(BODY) if body_length is None else body_length, "failure": http_failure,
            "status_code": -1 if http_failure else code, "title": title,
            "headers": {} if http_failure else (headers or HEADERS),
        },
    }
    if ip_info is not None:
        c["ip_info"] = ip_info
    if tls is not None:
        c["tls_handshake"] = tls
    return c


def wc(url: str = "http://example.org/", *, queries: list[Any] | None = None, tcp_connect: list[Any] | None = None,
       tls_handshakes: list[Any] | None = None, requests: list[Any] | None = None,
       ctrl: dict[str, Any] | None = None, control_failure: str | None = None, cc: str = "IT",
       lab: bool = False, **extra: Any) -> Measurement:
    tk: dict[str, Any] = {
        "queries": queries if queries is not None else [query("example.org", "93.184.216.34")],
        "tcp_connect": tcp_connect if tcp_connect is not None else [tcp("93.184.216.34", 80)],
        "tls_handshakes": tls_handshakes or [],
        "requests": requests if requests is not None else [request(url)],
        "control": ctrl if ctrl is not None else control(),
        "control_failure": control_failure,
        **extra,
    }
    raw = {
        "test_name": "web_connectivity", "input": url, "measurement_start_time": "2024-02-17 10:00:00",
        "probe_cc": cc, "probe_asn": "AS12345", "report_id": "r1", "test_keys": tk,
        "annotations": {"censorwatch_lab": True} if lab else {},
    }
    return Measurement.from_raw(raw, source="test.jsonl:1")
