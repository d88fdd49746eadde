"""Middlebox families: http_invalid_request_line, http_header_field_manipulation, http_host.

The first two talk to an echo helper that returns exactly what it got; anything else came from a box
on the path. Re-derived by comparing what was sent with what came back (``sent``/``received``, the
echoed headers), never from ``tampering``/``tampering_list``. ``http_host`` (and today's
``http_host_header``) sends a test helper a request whose ``Host`` header names a possibly blocked
site: a reset, a timeout or a blockpage in answer is filtering keyed on the Host header.
"""

from __future__ import annotations

import json
from typing import Any

from censorwatch.analysis.experiments.common import is_network_failure, method_for
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import HTTPRequest, decode_text
from censorwatch.model.verdict import Status, Verdict

#: headers the echo helper or the probe's HTTP stack add or drop on their own (OONI ignores them too)
_IGNORED_HEADERS = frozenset({"connection"})


def classify_invalid_request_line(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys or {}
    sent, received = tk.get("sent"), tk.get("received")
    if not isinstance(sent, list) or not isinstance(received, list) or not sent:
        return make_verdict(m, "failure", "hirl.no_data", "The measurement does not record what was sent and "
                            "received.", family=HIRL)
    pairs = list(zip(sent, received, strict=False))
    altered = [i for i, (s, r) in enumerate(pairs) if decode_text(r) != decode_text(s)]
    answered = [i for i in altered if decode_text(received[i])]
    details: dict[str, Any] = {"requests": len(pairs), "altered": altered}
    if not altered:
        return make_verdict(m, "ok", "hirl.ok", "Every invalid request line came back unchanged: no middlebox "
                            "interfered.", details=details, family=HIRL)
    sample = next((decode_text(received[i]) or "" for i in answered), "")
    product = ""
    if sample:
        res = fps.match_response_text(sample)
        if res:
            product = f" (fingerprint {res.id})"
            details["fingerprint"] = res.id
    return make_verdict(m, "anomaly", "hirl.tampering", f"{len(altered)} of {len(pairs)} invalid request lines "
                        f"did not come back unchanged: a middlebox on the path answered or altered them{product}.",
                        method="http.diff", details=details, family=HIRL)


def _echoed_headers(body: str | None) -> dict[str, Any] | None:
    if not body:
        return None
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if isinstance(obj, dict):
        h = obj.get("headers_dict") or obj.get("request_headers")
        if isinstance(h, dict):
            return h
        if isinstance(h, list):  # [[name, value], ...]
            return {str(p[0]): p[1] for p in h if isinstance(p, list | tuple) and len(p) == 2}
    return None


def _first(v: Any) -> str:
    if isinstance(v, list):
        return str(v[0]) if v else ""
    return "" if v is None else str(v)


def classify_header_field_manipulation(m: Measurement, fps: Fingerprints) -> Verdict:
    obs = m.observations(with_events=False)
    answered = [r for r in obs.requests if r.response is not None]
    if not answered:
        why = next((r.failure for r in obs.requests if r.failure), None)
        return make_verdict(m, "failure", "hhfm.no_data", "The echo helper could not be reached"
                            + (f" ({say(why)})" if why else "") + ", so header tampering cannot be judged.",
                            family=HHFM)
    r = answered[0]
    resp = r.response
    assert resp is not None
    echoed = _echoed_headers(resp.body)
    if echoed is None:
        what = ("an empty" if not resp.body else "a") + (f" {resp.code}" if resp.code else "")
        return make_verdict(m, "anomaly", "hhfm.not_echoed", f"The reply to the header test was {what} response "
                            "that is not the echo helper's: a middlebox on the path answered instead.",
                            method="http.diff",
                            details={"code": resp.code, "body_length": resp.body_length}, family=HHFM)
    sent = {(k, _first(v)) for k, v in r.headers.items() if k.lower() not in _IGNORED_HEADERS}
    got = {(str(k), _first(v)) for k, v in echoed.items() if str(k).lower() not in _IGNORED_HEADERS}
    changed = sorted({k for k, _ in sent ^ got})
    if changed:
        return make_verdict(m, "anomaly", "hhfm.tampering", "Headers were changed on the way to the echo "
                            f"helper ({', '.join(changed[:4])}): a middlebox rewrote the request.", method="http.diff",
                            details={"changed": changed}, family=HHFM)
    return make_verdict(m, "ok", "hhfm.ok", "The request headers reached the echo helper unchanged.", family=HHFM)


def _is_echo(r: HTTPRequest) -> bool:
    body = r.response.body if r.response else None
    if not body:
        return False
    try:
        obj = json.loads(body)
    except ValueError:
        return False
    return isinstance(obj, dict) and "headers_dict" in obj


def classify_http_host(m: Measurement, fps: Fingerprints) -> Verdict:
    """http_host (2015-2017, an echo helper) and http_host_header (a request to a test helper with the
    Host header naming the input): blocked when the request with that Host value failed or drew a
    blockpage; a transparent proxy is visible when the legacy echo helper's answer did not come back."""
    tk = m.test_keys or {}
    obs = m.observations(with_events=False)
    sent_host = next((v for r in obs.requests for k, v in r.headers.items() if k.lower() == "host" and v), None)
    host = (m.input or sent_host or "the site").strip()
    if not obs.requests:
        failure = tk.get("failure")
        if isinstance(failure, str) and failure and not is_network_failure(failure):
            return make_verdict(m, "failure", "http_host.probe_error", f"The probe could not run the test "
                                f"({failure}).", family=HTTP_HOST)
        return make_verdict(m, "failure", "http_host.no_data", "The measurement holds no request.", family=HTTP_HOST)
    for r in obs.requests:
        if r.response is None:
            continue
        res = fps.match_response(r.response)
        for rule in res.blockpages:
            status: Status = "confirmed" if rule.confirms(m.probe_cc) else "anomaly"
            return make_verdict(m, status, "http_host.blockpage", f"A request naming {host} in its Host header "
                                f"was answered with a known blockpage ({rule.id}).", method="http.blockpage",
                                fingerprint=rule.as_verdict_fingerprint(), family=HTTP_HOST)
    failed = [r for r in obs.requests if r.failure]
    net = [r for r in failed if is_network_failure(r.failure)]
    if net and len(failed) == len(obs.requests):
        f = net[0].failure
        return make_verdict(m, "anomaly", "http_host.failed", f"A request naming {host} in its Host header failed "
                            f"({say(f)}) while going to a test helper that hosts nothing of it: filtering on the "
                            "Host header.", method=method_for("http", f), family=HTTP_HOST)
    if failed and len(failed) == len(obs.requests):
        return make_verdict(m, "failure", "http_host.probe_error", f"The request failed with an error of the probe "
                            f"itself ({failed[0].failure}).", family=HTTP_HOST)
    legacy = m.test_name == "http_host"
    if legacy and not any(_is_echo(r) for r in obs.requests if r.failure is None):
        return make_verdict(m, "anomaly", "http_host.proxy", "The echo helper's answer did not come back: a "
                            f"transparent HTTP proxy answered the request naming {host}.", method="http.diff",
                            family=HTTP_HOST)
    return make_verdict(m, "ok", "http_host.ok", f"A request naming {host} in its Host header went through "
                        "unfiltered.", family=HTTP_HOST)


HIRL = Family(
    name="hirl", tests=("http_invalid_request_line",), version="hirl-2", classify=classify_invalid_request_line,
    uses_fingerprints=True, summary="invalid HTTP request lines sent to an echo helper",
    rules={
        "hirl.no_data": "sent/received missing",
        "hirl.tampering": "a request line did not come back unchanged",
        "hirl.ok": "every request line came back unchanged",
    },
)
HHFM = Family(
    name="hhfm", tests=("http_header_field_manipulation",), version="hhfm-2",
    classify=classify_header_field_manipulation, summary="oddly capitalised HTTP headers sent to an echo helper",
    rules={
        "hhfm.no_data": "the echo helper could not be reached (no response at all)",
        "hhfm.not_echoed": "a response came back that is not the echo helper's (an empty 200 included)",
        "hhfm.tampering": "header names or values were changed on the way (Connection ignored)",
        "hhfm.ok": "headers arrived unchanged",
    },
)
HTTP_HOST = Family(
    name="http_host", tests=("http_host", "http_host_header"), version="http_host-1", classify=classify_http_host,
    uses_fingerprints=True, summary="a request to a test helper whose Host header names a possibly blocked site",
    rules={
        "http_host.no_data": "no request recorded",
        "http_host.probe_error": "the probe's own error (bad input, local failure): no verdict",
        "http_host.blockpage": "the answer matched a blockpage fingerprint",
        "http_host.failed": "every request failed with a network failure (reset, timeout, EOF)",
        "http_host.proxy": "legacy http_host: the echo helper's answer did not come back (transparent proxy)",
        "http_host.ok": "the request went through",
    },
)
FAMILIES = [HIRL, HHFM, HTTP_HOST]
