"""Older tests still in the archive: http_requests, dns_consistency, browser_web, dnscheck."""

from __future__ import annotations

from typing import Any

from censorwatch.analysis import http_compare as hc
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model.addresses import is_bogon
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import DNSQuery, HTTPRequest, Observations
from censorwatch.model.verdict import Status, Verdict


def _is_tor(raw: Any) -> bool:
    req = raw.get("request") if isinstance(raw, dict) else None
    tor = req.get("tor") if isinstance(req, dict) else None
    return isinstance(tor, dict) and tor.get("is_tor") is True


def classify_http_requests(m: Measurement, fps: Fingerprints) -> Verdict:
    """http_requests (2012-2016): the same URL fetched directly and over Tor; compared like Web Connectivity."""
    tk = m.test_keys or {}
    raw_list = tk.get("requests")
    raws: list[Any] = raw_list if isinstance(raw_list, list) else []
    direct: HTTPRequest | None = None
    via_tor: HTTPRequest | None = None
    for raw in raws:
        req = HTTPRequest.from_raw(raw)
        if req is None:
            continue
        if _is_tor(raw):
            via_tor = via_tor or req
        else:
            direct = direct or req
    if direct is None:
        return make_verdict(m, "failure", "http_requests.no_data", "The measurement holds no direct request.")
    if via_tor is None or via_tor.failure is not None or via_tor.response is None:
        if direct.failure is None:
            return make_verdict(m, "failure", "http_requests.no_control", "The page loaded directly but the "
                                "comparison fetch over Tor failed or is missing, so nothing can be compared.")
        return make_verdict(m, "down", "http_requests.down", f"The page failed both directly ({say(direct.failure)}) "
                            "and over Tor: the site is down.", blocking=False, accessible=False)
    if direct.failure is not None or direct.response is None:
        return make_verdict(m, "anomaly", "http_requests.failure", f"The page failed directly ({say(direct.failure)}) "
                            "but loaded over Tor.", method="http.failure", blocking="http-failure", accessible=False)
    d, t = direct.response, via_tor.response
    prop = hc.body_proportion(d.body_length, t.body_length, d.body_is_truncated or t.body_is_truncated)
    blm = hc.body_length_match(prop) if prop is not None else (d.body_length == t.body_length if
                                                               d.body_length is not None else None)
    scm = hc.status_code_match(d.code, t.code)
    hm = hc.headers_match(d.headers.keys(), t.headers.keys(), d.code, t.code)
    res = fps.match_response(d)
    ooni: dict[str, Any] = dict(body_proportion=prop, body_length_match=blm, status_code_match=scm,
                                headers_match=hm)
    for rule in res.blockpages:
        status: Status = "confirmed" if rule.confirms(m.probe_cc) else "anomaly"
        return make_verdict(m, status, "http_requests.blockpage", f"The direct fetch returned a known blockpage "
                            f"({rule.id}).", method="http.blockpage", fingerprint=rule.as_verdict_fingerprint(),
                            blocking="http-diff", accessible=False, **ooni)
    if scm and (blm or hm):
        return make_verdict(m, "ok", "http_requests.match", "The page fetched directly matches the one fetched "
                            "over Tor.", blocking=False, accessible=True, **ooni)
    return make_verdict(m, "anomaly", "http_requests.diff", "The page fetched directly differs from the one "
                        "fetched over Tor.", method="http.diff", blocking="http-diff", accessible=False, **ooni)


def classify_dns_consistency(m: Measurement, fps: Fingerprints) -> Verdict:
    """dns_consistency (legacy): each tested resolver's A answers against the control resolver's."""
    tk = m.test_keys or {}
    control = str(tk.get("control_resolver") or "")
    control_host = control.rsplit(":", 1)[0]
    queries = [q for q in Observations.from_test_keys(tk, with_events=False).queries if q.query_type == "A"]
    ctrl = [q for q in queries if (q.resolver_address or "") == control_host]
    tested = [q for q in queries if (q.resolver_address or "") != control_host]
    if not ctrl or not tested or ctrl[0].failure:
        return make_verdict(m, "failure", "dns_consistency.no_data", "The control resolver's answer is "
                            "missing, so the resolvers cannot be compared.")
    want = set(ctrl[0].addresses)
    bad: list[str] = []
    for q in tested:
        got = set(q.addresses)
        if q.failure or not got or any(is_bogon(a) for a in got):
            bad.append(q.resolver_address or "?")
    details = {"control": sorted(want), "tested": {q.resolver_address: q.addresses for q in tested}}
    if bad:
        return make_verdict(m, "anomaly", "dns_consistency.failed", f"The resolver {bad[0]} gave no usable answer "
                            f"for {m.domain}.", method="dns.failure", details=details)
    if all(set(q.addresses) & want for q in tested):
        return make_verdict(m, "ok", "dns_consistency.ok", f"Every resolver gave the same address for {m.domain} "
                            "as the control.", details=details)
    return make_verdict(m, "failure", "dns_consistency.differs", f"A resolver gave {m.domain} other public "
                        "addresses than the control; large sites answer differently by region and this test has "
                        "no further evidence, so no verdict.", details=details)


def classify_browser_web(m: Measurement, fps: Fingerprints) -> Verdict:
    """browser_web: the browser's own load result; an error has no detail and no control."""
    tk = m.test_keys or {}
    result = tk.get("result")
    if result == "ok":
        return make_verdict(m, "ok", "browser_web.ok", f"The browser loaded {m.domain}.", accessible=True)
    if result is None:
        return make_verdict(m, "failure", "browser_web.no_data", "The measurement has no result.")
    return make_verdict(m, "failure", "browser_web.error", f"The browser could not load {m.domain} ({result}), "
                        "but the test records no error detail and no control, so this cannot be told apart "
                        "from an ordinary failure.")


def classify_dnscheck(m: Measurement, fps: Fingerprints) -> Verdict:
    """dnscheck: one resolver (DoT/DoH/UDP) asked for a domain; do its lookups work?"""
    tk = m.test_keys or {}
    lookups = tk.get("lookups")
    queries: list[DNSQuery] = []
    if isinstance(lookups, dict):
        for v in lookups.values():
            queries.extend(Observations.from_test_keys(v, with_events=False).queries)
    boot = tk.get("bootstrap")
    if isinstance(boot, dict):
        queries.extend(Observations.from_test_keys(boot, with_events=False).queries)
    if not queries:
        return make_verdict(m, "failure", "dnscheck.no_data", "The measurement holds no DNS lookup.")
    if any(q.addresses for q in queries):
        return make_verdict(m, "ok", "dnscheck.ok", f"The resolver {m.input} answered.")
    f = next((q.failure for q in queries if q.failure), "no answer")
    return make_verdict(m, "anomaly", "dnscheck.failed", f"Every lookup through the resolver {m.input} failed "
                        f"({say(f)}).", method="dns.failure")
