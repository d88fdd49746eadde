"""http_invalid_request_line, http_header_field_manipulation, http_host(_header): every rule."""

from __future__ import annotations

import json

from msmt_builder import req, run

from censorwatch.analysis.fingerprints import FingerprintRule, Fingerprints


def _hhfm(sent: dict[str, str], response: dict[str, object] | None, failure: str | None = None) -> dict[str, object]:
    return {"requests": [{"request": {"url": "http://h/", "headers": sent}, "failure": failure,
                          "response": response}]}


SENT = {"AcCePt": "text/html", "hOST": "x.com"}


def test_hhfm_echo_and_tampering() -> None:
    echo = json.dumps({"headers_dict": {"AcCePt": ["text/html"], "hOST": ["x.com"], "Connection": ["close"]}})
    ok = run("http_header_field_manipulation", _hhfm(SENT, {"code": 200, "body": echo}))
    assert (ok.status, ok.rule) == ("ok", "hhfm.ok")  # the helper's own Connection: close is not tampering
    changed = json.dumps({"headers_dict": {"Accept": ["text/html"], "Host": ["x.com"]}})
    bad = run("http_header_field_manipulation", _hhfm(SENT, {"code": 200, "body": changed}) | {"tampering": {"total": False}})
    assert (bad.status, bad.rule) == ("anomaly", "hhfm.tampering")
    value = json.dumps({"headers_dict": {"AcCePt": ["*/*"], "hOST": ["x.com"]}})
    assert run("http_header_field_manipulation", _hhfm(SENT, {"code": 200, "body": value})).rule == "hhfm.tampering"


def test_hhfm_empty_200_is_a_middlebox_not_missing_data() -> None:
    v = run("http_header_field_manipulation", _hhfm(SENT, {"code": 200, "body": "", "headers": {"Content-Length": "0"}}))
    assert (v.status, v.rule, v.method) == ("anomaly", "hhfm.not_echoed", "http.diff")
    assert "empty 200" in v.explanation
    html = run("http_header_field_manipulation", _hhfm(SENT, {"code": 403, "body": "<html>denied</html>"}))
    assert html.rule == "hhfm.not_echoed"


def test_hhfm_helper_unreachable() -> None:
    v = run("http_header_field_manipulation", _hhfm(SENT, None, "connection_refused"))
    assert (v.status, v.rule) == ("failure", "hhfm.no_data") and "connection refused" in v.explanation


def test_hirl() -> None:
    lines = ["GET / HTTP/1.1\n\r", "XXX / HTTP/1.1\n\r"]
    assert run("http_invalid_request_line", {"sent": lines, "received": lines, "tampering": True}).rule == "hirl.ok"
    bad = run("http_invalid_request_line", {"sent": lines, "received": [lines[0], "HTTP/1.1 400 Bad\r\n"]})
    assert (bad.status, bad.rule) == ("anomaly", "hirl.tampering") and bad.details["altered"] == [1]
    assert run("http_invalid_request_line", {"sent": []}).rule == "hirl.no_data"


BLOCKPAGE = Fingerprints.from_rules([FingerprintRule(
    id="test.isp_page", scope="isp", location="body", pattern_type="contains", pattern="Forbidden by test ISP")])


def test_http_host_header() -> None:
    tk = {"requests": [req("http://www.example.org", req_headers={"Host": "blocked.example"})], "failure": None}
    assert run("http_host_header", tk, input="blocked.example").rule == "http_host.ok"
    reset = {"requests": [req("http://www.example.org", "connection_reset")], "failure": "connection_reset"}
    v = run("http_host_header", reset, input="blocked.example")
    assert (v.status, v.rule, v.method) == ("anomaly", "http_host.failed", "http.reset")
    page = {"requests": [req("http://www.example.org", body="<p>Forbidden by test ISP</p>")], "failure": None}
    v = run("http_host_header", page, input="blocked.example", fps=BLOCKPAGE)
    assert (v.status, v.rule, v.method) == ("confirmed", "http_host.blockpage", "http.blockpage")
    usage = {"requests": [], "failure": "unknown_failure: unknown targetURL scheme"}
    assert run("http_host_header", usage, input="blocked.example").rule == "http_host.probe_error"
    assert run("http_host_header", {"requests": []}).rule == "http_host.no_data"


def test_legacy_http_host_transparent_proxy() -> None:
    echo = json.dumps({"headers_dict": {"Host": ["blocked.example"]}, "request_line": "GET / HTTP/1.1",
                       "request_headers": [["Host", "blocked.example"]]})
    ok = run("http_host", {"requests": [req("http://1.2.3.4:80", body=echo)]}, input="blocked.example")
    assert (ok.status, ok.rule) == ("ok", "http_host.ok")
    proxy = run("http_host", {"requests": [req("http://1.2.3.4:80", body="<html>proxy</html>")]}, input="blocked.example")
    assert (proxy.status, proxy.rule) == ("anomaly", "http_host.proxy")
