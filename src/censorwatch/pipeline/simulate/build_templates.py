"""Write the simulator's hand-made template measurements (``templates/*.json``).

Each template is one OONI web_connectivity 0.2.0 measurement (probe-cli 0.4 shapes: ``queries``,
``tcp_connect``, ``tls_handshakes``, ``requests``, ``network_events``, the test helper's ``control``
and OONI's own summary keys) of ``example.org`` resolving to 93.184.215.14, for one outcome. The
simulator substitutes the domain, times and network. These are written by hand after OONI's
published shapes, not recorded: ``python -m censorwatch.pipeline.simulate.build_templates`` rewrites
them; ``python -m censorwatch.pipeline.simulate.from_lab`` replaces them with measurements the
lab's censor produced (``censorwatch lab run`` output).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

DOMAIN = "example.org"
IP = "93.184.215.14"
ASN = 15133
BOGON = "10.10.34.34"
OUT = Path(__file__).parent / "templates"
PAGE = (
    "<!doctype html><html><head><title>Example Domain</title><meta charset=\"utf-8\"><meta name=\"viewport\" "
    "content=\"width=device-width, initial-scale=1\"><style type=\"text/css\">body { background-color: #f0f0f2; "
    "margin: 0; padding: 0; font-family: -apple-system, system-ui, BlinkMacSystemFont, \"Segoe UI\", "
    "\"Open Sans\", \"Helvetica Neue\", Helvetica, Arial, sans-serif; } div { width: 600px; margin: 5em auto; "
    "padding: 2em; background-color: #fdfdff; border-radius: 0.5em; box-shadow: 2px 3px 7px 2px "
    "rgba(0,0,0,0.02); } a:link, a:visited { color: #38488f; text-decoration: none; } @media (max-width: 700px) "
    "{ div { margin: 0 auto; width: auto; } }</style></head><body>"
    "<div><h1>Example Domain</h1><p>This domain is for use in illustrative examples in documents. You may "
    "use this domain in literature without prior coordination or asking for permission.</p></div>"
    "</body></html>"
)
BLOCKPAGE = (
    "<html><head><meta name=\"censorwatch-blockpage\" content=\"lab\"><title>Blocked by the lab censor"
    "</title></head><body><h1>This site is blocked</h1><p>Access to this website has been restricted "
    "by order of the authority.</p></body></html>"
)
HDRS = [["Content-Type", "text/html; charset=UTF-8"], ["Server", "ECAcc (nyd/D13E)"],
        ["Etag", "\"3147526947\""], ["X-Cache", "HIT"], ["Content-Length", str(len(PAGE))]]


def _answers(ip: str) -> list[dict[str, Any]]:
    asn, org = (ASN, "Edgecast Inc.") if ip == IP else (0, "")
    return [{"asn": asn, "as_org_name": org, "answer_type": "A", "ipv4": ip, "ttl": None}]


def _query(failure: str | None = None, ip: str = IP) -> dict[str, Any]:
    return {"answers": None if failure else _answers(ip), "engine": "getaddrinfo", "failure": failure,
            "hostname": DOMAIN, "query_type": "ANY", "resolver_hostname": None, "resolver_port": None,
            "resolver_address": "", "t0": 0.0011, "t": 0.0193, "tags": ["depth=0"], "transaction_id": 1}


def _tcp(ip: str, port: int, failure: str | None = None) -> dict[str, Any]:
    return {"ip": ip, "port": port, "status": {"failure": failure, "success": failure is None},
            "t0": 0.0201, "t": 10.021 if failure == "generic_timeout_error" else 0.1104,
            "tags": ["depth=0"], "transaction_id": 3}


def _tls(ip: str, failure: str | None = None) -> dict[str, Any]:
    return {"network": "tcp", "address": f"{ip}:443", "cipher_suite": "" if failure else "TLS_AES_128_GCM_SHA256",
            "failure": failure, "negotiated_protocol": "" if failure else "h2", "no_tls_verify": False,
            "peer_certificates": [], "server_name": DOMAIN, "t0": 0.1106,
            "t": 0.1902 if failure else 0.3011, "tags": ["depth=0"],
            "tls_version": "" if failure else "TLSv1.3", "transaction_id": 3}


def _request(url: str, ip: str, *, failure: str | None = None, code: int = 200, body: str = PAGE,
             headers: list[list[str]] | None = None) -> dict[str, Any]:
    hl = headers if headers is not None else HDRS
    host = DOMAIN
    req_h = [["Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
             ["Accept-Language", "en-US,en;q=0.9"], ["Host", host],
             ["User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Chrome/[scrubbed] Safari/537.3"]]
    port = 443 if url.startswith("https") else 80
    return {
        "network": "tcp", "address": f"{ip}:{port}", "alpn": "h2" if port == 443 else "", "failure": failure,
        "request": {"body": "", "body_is_truncated": False, "headers_list": req_h, "headers": dict(req_h),
                    "method": "GET", "tor": {"exit_ip": None, "exit_name": None, "is_tor": False},
                    "x_transport": "tcp", "url": url},
        "response": {"body": "", "body_is_truncated": False, "code": 0, "headers_list": [], "headers": {}}
        if failure else {"body": body, "body_is_truncated": False, "code": code, "headers_list": hl,
                         "headers": dict(hl)},
        "t0": 0.3013, "t": 0.5120, "tags": ["depth=0"], "transaction_id": 4,
    }


def _control(*, site_down: bool = False) -> dict[str, Any]:
    fail = "generic_timeout_error" if site_down else None
    return {
        "tcp_connect": {f"{IP}:443": {"status": not site_down, "failure": fail},
                        f"{IP}:80": {"status": not site_down, "failure": fail}},
        "tls_handshake": {} if site_down else {f"{IP}:443": {"server_name": DOMAIN, "status": True,
                                                             "failure": None}},
        "quic_handshake": {},
        "http_request": {"body_length": -1 if site_down else len(PAGE), "discovered_h3_endpoint": "",
                         "failure": fail, "title": "" if site_down else "Example Domain",
                         "headers": {} if site_down else dict(HDRS), "status_code": -1 if site_down else 200},
        "http3_request": None,
        "dns": {"failure": None, "addrs": [IP]},
        "ip_info": {IP: {"asn": ASN, "flags": 11}},
    }


def _events(n_bytes: int, failure: str | None = None) -> list[dict[str, Any]]:
    ev = [{"address": f"{IP}:443", "failure": None, "operation": "connect", "proto": "tcp", "t0": 0.0201,
           "t": 0.1104, "tags": ["depth=0"], "transaction_id": 3},
          {"failure": None, "operation": "tls_handshake_start", "t0": 0.1106, "t": 0.1106,
           "tags": ["depth=0"], "transaction_id": 3},
          {"address": f"{IP}:443", "failure": failure, "num_bytes": n_bytes, "operation": "read",
           "proto": "tcp", "t0": 0.1501, "t": 0.1901, "tags": ["depth=0"], "transaction_id": 3}]
    return ev


def _base(url: str) -> dict[str, Any]:
    return {
        "annotations": {"architecture": "arm64", "engine_name": "ooniprobe-engine", "engine_version": "3.21.0",
                        "network_type": "mobile", "platform": "android"},
        "data_format_version": "0.2.0", "extensions": {"dnst": 0, "httpt": 0, "netevents": 0, "tcpconnect": 0,
                                                       "tlshandshake": 0, "tunnel": 0},
        "input": url, "measurement_start_time": "2024-02-17 10:00:00", "options": [],
        "probe_asn": "AS17557", "probe_cc": "PK", "probe_ip": "127.0.0.1",
        "probe_network_name": "Pakistan Telecommunication Company Limited",
        "report_id": "20240217T100000Z_webconnectivity_PK_17557_n1_simulated0000000",
        "resolver_asn": "AS17557", "resolver_ip": "202.125.148.1",
        "resolver_network_name": "Pakistan Telecommunication Company Limited",
        "software_name": "ooniprobe-android", "software_version": "3.8.5",
        "test_helpers": {"backend": {"address": "https://0.th.ooni.org", "type": "https"}},
        "test_keys": {}, "test_name": "web_connectivity", "test_runtime": 0.52,
        "test_start_time": "2024-02-17 09:59:58", "test_version": "0.4.3",
    }


def _tk(**kw: Any) -> dict[str, Any]:
    tk: dict[str, Any] = {
        "agent": "redirect", "client_resolver": "202.125.148.1", "retries": None, "socksproxy": None,
        "network_events": [], "queries": [_query()], "requests": [], "tcp_connect": [], "tls_handshakes": [],
        "x_control_request": {"http_request": f"https://{DOMAIN}/", "tcp_connect": [f"{IP}:443"]},
        "control": _control(), "control_failure": None, "x_dns_flags": 0, "dns_experiment_failure": None,
        "dns_consistency": "consistent", "http_experiment_failure": None, "x_blocking_flags": 0,
        "x_null_null_flags": 0, "body_proportion": 0, "body_length_match": None, "headers_match": None,
        "status_code_match": None, "title_match": None, "blocking": False, "accessible": True,
    }
    tk.update(kw)
    return tk


def templates() -> dict[str, dict[str, Any]]:
    https, http = f"https://{DOMAIN}/", f"http://{DOMAIN}/"
    out: dict[str, dict[str, Any]] = {}
    out["ok"] = _tk(tcp_connect=[_tcp(IP, 443)], tls_handshakes=[_tls(IP)],
                    requests=[_request(https, IP)], network_events=_events(4096), body_proportion=1,
                    body_length_match=True, headers_match=True, status_code_match=True, title_match=True)
    out["tls_reset"] = _tk(tcp_connect=[_tcp(IP, 443)], tls_handshakes=[_tls(IP, "connection_reset")],
                           requests=[_request(https, IP, failure="connection_reset")],
                           network_events=_events(0, "connection_reset"),
                           http_experiment_failure="connection_reset", x_blocking_flags=8,
                           blocking="http-failure", accessible=False)
    out["dns_nxdomain"] = _tk(queries=[_query("dns_nxdomain_error")], dns_experiment_failure="dns_nxdomain_error",
                              dns_consistency="inconsistent", x_dns_flags=2, x_blocking_flags=1,
                              blocking="dns", accessible=False)
    out["dns_bogon"] = _tk(queries=[_query(None, BOGON)], tcp_connect=[_tcp(BOGON, 443, "generic_timeout_error")],
                           dns_consistency="inconsistent", x_dns_flags=1, x_blocking_flags=1,
                           http_experiment_failure="generic_timeout_error", blocking="dns", accessible=False)
    out["tcp_timeout"] = _tk(tcp_connect=[_tcp(IP, 443, "generic_timeout_error")],
                             http_experiment_failure="generic_timeout_error", x_blocking_flags=2,
                             blocking="tcp_ip", accessible=False)
    out["blockpage"] = _tk(tcp_connect=[_tcp(IP, 80)],
                           requests=[_request(http, IP, code=200, body=BLOCKPAGE,
                                              headers=[["Content-Type", "text/html"], ["Connection", "close"]])],
                           x_control_request={"http_request": http, "tcp_connect": [f"{IP}:80"]},
                           body_proportion=len(BLOCKPAGE) / len(PAGE), body_length_match=False,
                           headers_match=False, status_code_match=True, title_match=False,
                           x_blocking_flags=16, blocking="http-diff", accessible=False)
    out["site_down"] = _tk(tcp_connect=[_tcp(IP, 443, "generic_timeout_error")], control=_control(site_down=True),
                           http_experiment_failure="generic_timeout_error", blocking=False, accessible=False)
    out["control_failure"] = _tk(tcp_connect=[_tcp(IP, 443, "generic_timeout_error")], control={},
                                 control_failure="generic_timeout_error",
                                 http_experiment_failure="generic_timeout_error", blocking=None,
                                 accessible=None)
    result: dict[str, dict[str, Any]] = {}
    for name, tk in out.items():
        m = _base(http if name == "blockpage" else https)
        m["test_keys"] = copy.deepcopy(tk)
        result[name] = m
    return result


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, m in templates().items():
        (OUT / f"{name}.json").write_bytes(orjson.dumps(m, option=orjson.OPT_INDENT_2) + b"\n")


if __name__ == "__main__":
    main()
