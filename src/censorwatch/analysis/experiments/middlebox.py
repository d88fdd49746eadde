"""Middlebox tests: http_invalid_request_line, http_header_field_manipulation.

Both talk to an echo helper that returns exactly what it got; anything else came from a box on the
path. Re-derived by comparing what was sent with what came back (``sent``/``received``, the echoed
headers), never from ``tampering``/``tampering_list``.
"""

from __future__ import annotations

import json
from typing import Any

from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import decode_text
from censorwatch.model.verdict import Verdict


def classify_invalid_request_line(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys or {}
    sent, received = tk.get("sent"), tk.get("received")
    if not isinstance(sent, list) or not isinstance(received, list) or not sent:
        return make_verdict(m, "failure", "hirl.no_data", "The measurement does not record what was sent and "
                            "received.")
    pairs = list(zip(sent, received, strict=False))
    altered = [i for i, (s, r) in enumerate(pairs) if decode_text(r) != decode_text(s)]
    answered = [i for i in altered if decode_text(received[i])]
    details: dict[str, Any] = {"requests": len(pairs), "altered": altered}
    if not altered:
        return make_verdict(m, "ok", "hirl.ok", "Every invalid request line came back unchanged: no middlebox "
                            "interfered.", details=details)
    sample = next((decode_text(received[i]) or "" for i in answered), "")
    product = ""
    if sample:
        res = fps.match_response_text(sample)
        if res:
            product = f" (fingerprint {res.id})"
            details["fingerprint"] = res.id
    return make_verdict(m, "anomaly", "hirl.tampering", f"{len(altered)} of {len(pairs)} invalid request lines "
                        f"did not come back unchanged: a middlebox on the path answered or altered them{product}.",
                        method="http.diff", details=details)


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


def classify_header_field_manipulation(m: Measurement, fps: Fingerprints) -> Verdict:
    obs = m.observations(with_events=False)
    usable = [r for r in obs.requests if r.response is not None and r.response.body]
    if not usable:
        why = next((r.failure for r in obs.requests if r.failure), None)
        return make_verdict(m, "failure", "hhfm.no_data", "The echo helper could not be reached"
                            + (f" ({say(why)})" if why else "") + ", so header tampering cannot be judged.")
    r = usable[0]
    echoed = _echoed_headers(r.response.body if r.response else None)
    if echoed is None:
        return make_verdict(m, "anomaly", "hhfm.not_echoed", "The reply to the header test was not the echo "
                            "helper's: a middlebox on the path answered instead.", method="http.diff")
    sent = set(r.headers)
    got = {str(k) for k in echoed}
    changed = sorted(sent ^ got)
    if changed:
        return make_verdict(m, "anomaly", "hhfm.tampering", "Header names were changed on the way to the echo "
                            f"helper ({', '.join(changed[:4])}): a middlebox rewrote the request.", method="http.diff",
                            details={"changed": changed})
    return make_verdict(m, "ok", "hhfm.ok", "The request headers reached the echo helper unchanged.")
