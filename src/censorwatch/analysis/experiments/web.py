"""Web families other than Web Connectivity: http_requests (2012-2016), dns_n_http (2015) and
browser_web (2023-).

http_requests fetches a URL directly and over Tor; dns_n_http resolves and fetches it with no control;
browser_web is a browser's own load of the page. Fingerprints confirm blockpages in all but the last.
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis import http_compare as hc
from censorwatch.analysis.experiments.common import bogon_hosts, is_network_failure, method_for
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import HTTPRequest
from censorwatch.model.verdict import Status, Verdict


def _is_tor(raw: Any) -> bool:
    req = raw.get("request") if isinstance(raw, dict) else None
    tor = req.get("tor") if isinstance(req, dict) else None
    return isinstance(tor, dict) and tor.get("is_tor") is True


def classify_http_requests(m: Measurement, fps: Fingerprints) -> Verdict:
    """The same URL fetched directly and over Tor; compared like Web Connectivity."""
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
        return make_verdict(m, "failure", "http_requests.no_data", "The measurement holds no direct request.",
                            family=HTTP_REQUESTS)
    if direct.response is not None:
        for rule in fps.match_response(direct.response).blockpages:
            status: Status = "confirmed" if rule.confirms(m.probe_cc) else "anomaly"
            return make_verdict(m, status, "http_requests.blockpage", f"The direct fetch returned a known "
                                f"blockpage ({rule.id}).", method="http.blockpage",
                                fingerprint=rule.as_verdict_fingerprint(), blocking="http-diff", accessible=False,
                                family=HTTP_REQUESTS)
    if via_tor is None or via_tor.failure is not None or via_tor.response is None:
        if direct.failure is None:
            return make_verdict(m, "failure", "http_requests.no_control", "The page loaded directly but the "
                                "comparison fetch over Tor failed or is missing, so nothing can be compared.",
                                family=HTTP_REQUESTS)
        return make_verdict(m, "down", "http_requests.down", f"The page failed both directly ({say(direct.failure)}) "
                            "and over Tor: the site is down.", blocking=False, accessible=False, family=HTTP_REQUESTS)
    if direct.failure is not None or direct.response is None:
        return make_verdict(m, "anomaly", "http_requests.failure", f"The page failed directly ({say(direct.failure)}) "
                            "but loaded over Tor.", method="http.failure", blocking="http-failure", accessible=False,
                            family=HTTP_REQUESTS)
    d, t = direct.response, via_tor.response
    prop = hc.body_proportion(d.body_length, t.body_length, d.body_is_truncated or t.body_is_truncated)
    blm = hc.body_length_match(prop) if prop is not None else (d.body_length == t.body_length if
                                                               d.body_length is not None else None)
    scm = hc.status_code_match(d.code, t.code)
    hm = hc.headers_match(d.headers.keys(), t.headers.keys(), d.code, t.code)
    ooni: dict[str, Any] = dict(body_proportion=prop, body_length_match=blm, status_code_match=scm,
                                headers_match=hm)
    if scm and (blm or hm):
        return make_verdict(m, "ok", "http_requests.match", "The page fetched directly matches the one fetched "
                            "over Tor.", blocking=False, accessible=True, family=HTTP_REQUESTS, **ooni)
    return make_verdict(m, "anomaly", "http_requests.diff", "The page fetched directly differs from the one "
                        "fetched over Tor.", method="http.diff", blocking="http-diff", accessible=False,
                        family=HTTP_REQUESTS, **ooni)


def classify_dns_n_http(m: Measurement, fps: Fingerprints) -> Verdict:
    """dns_n_http (2015): resolve the URL's host, then fetch it; no control."""
    obs = m.observations(with_events=False)
    if not obs.queries and not obs.requests:
        return make_verdict(m, "failure", "dns_n_http.no_data", "The measurement holds no lookup or fetch.",
                            family=DNS_N_HTTP)
    for q in obs.queries:
        for a in q.addresses:
            for rule in fps.match_dns(a, lab=m.is_lab):
                status: Status = "confirmed" if rule.confirms(m.probe_cc) else "anomaly"
                return make_verdict(m, status, "dns_n_http.blockpage", f"The DNS answer {a} for {m.domain} is a "
                                    f"known blocking address ({rule.id}).", method="dns.blockpage",
                                    fingerprint=rule.as_verdict_fingerprint(), family=DNS_N_HTTP)
    for r in obs.requests:
        if r.response is None:
            continue
        for rule in fps.match_response(r.response).blockpages:
            status = "confirmed" if rule.confirms(m.probe_cc) else "anomaly"
            return make_verdict(m, status, "dns_n_http.blockpage", f"The fetch of {m.domain} returned a known "
                                f"blockpage ({rule.id}).", method="http.blockpage",
                                fingerprint=rule.as_verdict_fingerprint(), family=DNS_N_HTTP)
    bogus = bogon_hosts(obs, lab=m.is_lab)
    dns_failed = [q for q in obs.queries if q.failure and q.query_type in (None, "A")]
    if bogus or (dns_failed and not any(q.addresses for q in obs.queries)):
        f = "bogon" if bogus else dns_failed[0].failure
        return make_verdict(m, "anomaly", "dns_n_http.dns", f"{m.domain} did not resolve to a public address "
                            f"({say(f)}); this test has no control.", method=method_for("dns", f), family=DNS_N_HTTP)
    ok = [r for r in obs.requests if r.failure is None and r.response is not None]
    if ok:
        code = ok[0].response.code if ok[0].response else None
        return make_verdict(m, "ok", "dns_n_http.ok", f"{m.domain} resolved and its page loaded"
                            + (f" (HTTP {code})." if code else "."), family=DNS_N_HTTP)
    failed = [r for r in obs.requests if r.failure]
    if failed and is_network_failure(failed[0].failure):
        f = failed[0].failure
        return make_verdict(m, "anomaly", "dns_n_http.http", f"Fetching {m.domain} failed ({say(f)}); this test has "
                            "no control, so it may also be the site's own outage.", method=method_for("http", f),
                            family=DNS_N_HTTP)
    return make_verdict(m, "failure", "dns_n_http.no_data", "No fetch completed and no failure explains why.",
                        family=DNS_N_HTTP)


def classify_browser_web(m: Measurement, fps: Fingerprints) -> Verdict:
    """browser_web: the browser's own load result; an error has no detail and no control."""
    tk = m.test_keys or {}
    result = tk.get("result")
    details = {"browser": tk.get("browser_name"), "load_time_ms": tk.get("load_time_ms")}
    if result == "ok":
        return make_verdict(m, "ok", "browser_web.ok", f"The browser loaded {m.domain}.", accessible=True,
                            details=details, family=BROWSER_WEB)
    if result is None:
        return make_verdict(m, "failure", "browser_web.no_data", "The measurement has no result.", family=BROWSER_WEB)
    return make_verdict(m, "failure", "browser_web.error", f"The browser could not load {m.domain} ({result}), "
                        "but the test records no error detail and no control, so this cannot be told apart "
                        "from an ordinary failure.", details=details, family=BROWSER_WEB)


HTTP_REQUESTS = Family(
    name="http_requests", tests=("http_requests", "http_requests_test", "tor_http_requests_test"),
    version="http_requests-2", classify=classify_http_requests, uses_fingerprints=True,
    summary="a page fetched directly and over Tor, compared (2012-2016)",
    rules={
        "http_requests.no_data": "no direct request",
        "http_requests.blockpage": "the direct fetch matched a blockpage fingerprint",
        "http_requests.no_control": "direct fetch worked, the Tor fetch failed: no comparison",
        "http_requests.down": "both the direct and the Tor fetch failed",
        "http_requests.failure": "the direct fetch failed, the Tor fetch worked",
        "http_requests.match": "direct and Tor pages match",
        "http_requests.diff": "direct and Tor pages differ",
    },
)
DNS_N_HTTP = Family(
    name="dns_n_http", tests=("dns_n_http",), version="dns_n_http-1", classify=classify_dns_n_http,
    uses_fingerprints=True, summary="a URL resolved and fetched, no control (2015)",
    rules={
        "dns_n_http.no_data": "no lookup or fetch, or nothing completed and nothing explains why",
        "dns_n_http.blockpage": "a DNS answer or the page matched a blocking fingerprint",
        "dns_n_http.dns": "the name resolved to no public address (failure or bogon)",
        "dns_n_http.http": "the fetch failed on the network (no control: anomaly)",
        "dns_n_http.ok": "the name resolved and the page loaded",
    },
)
BROWSER_WEB = Family(
    name="browser_web", tests=("browser_web",), version="browser_web-2", classify=classify_browser_web,
    summary="a browser's own load of a page (OONI Probe web)",
    rules={
        "browser_web.no_data": "no result",
        "browser_web.error": "the browser reported an error (no detail, no control): no verdict",
        "browser_web.ok": "the browser loaded the page",
    },
)
FAMILIES = [HTTP_REQUESTS, DNS_N_HTTP, BROWSER_WEB]
