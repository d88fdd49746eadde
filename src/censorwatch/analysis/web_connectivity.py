"""Web Connectivity, re-derived from the raw observations (methodology §4, rules 1-7 in order).

Never reads the probe's own ``blocking``/``accessible``/``dns_consistency``/``*_match``/``x_*`` keys.
Where OONI is known to be wrong we do better, and say so in the rule ids (docs/classification.md):
a site the control cannot reach either is *down*; a CDN bot check is not censorship on its own;
CDN answers validated by TLS are consistent; fingerprints (all four pattern types) confirm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from censorwatch.analysis import http_compare as hc
from censorwatch.analysis.cdn import is_cdn_challenge
from censorwatch.analysis.control import Control
from censorwatch.analysis.dns_consistency import DNSView, analyse_dns
from censorwatch.analysis.fingerprints import FingerprintRule, Fingerprints
from censorwatch.analysis.netaddr import canonical_ip, is_bogon, parse_ip
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say, scope_words
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import HTTPRequest, Observations, TCPConnect
from censorwatch.model.verdict import Verdict

#: Probe HTTP failures OONI treats as interference (rule 6).
BLOCKING_HTTP_FAILURES = frozenset(
    {F.CONNECTION_REFUSED, F.CONNECTION_RESET, F.EOF_ERROR, F.GENERIC_TIMEOUT}
) | F.TLS_FAILURES
_TLS_METHOD = {
    F.CONNECTION_RESET: "tls.reset", F.GENERIC_TIMEOUT: "tls.timeout", F.EOF_ERROR: "tls.eof",
    F.SSL_INVALID_HOSTNAME: "tls.mitm", F.SSL_UNKNOWN_AUTHORITY: "tls.mitm",
    F.SSL_INVALID_CERTIFICATE: "tls.mitm", F.CONNECTION_REFUSED: "tcp.refused",
}
_HTTP_METHOD = {
    F.CONNECTION_RESET: "http.reset", F.GENERIC_TIMEOUT: "http.timeout", F.EOF_ERROR: "http.eof",
    F.CONNECTION_REFUSED: "tcp.refused",
}
_TCP_METHOD = {F.GENERIC_TIMEOUT: "tcp.timeout", F.CONNECTION_REFUSED: "tcp.refused", F.CONNECTION_RESET: "tcp.reset"}
_PLAIN = {
    F.CONNECTION_RESET: "the connection was reset", F.GENERIC_TIMEOUT: "the connection timed out",
    F.EOF_ERROR: "the connection was cut", F.CONNECTION_REFUSED: "the connection was refused",
    F.SSL_INVALID_HOSTNAME: "a certificate for another name was presented",
    F.SSL_UNKNOWN_AUTHORITY: "a certificate from an unknown authority was presented",
    F.SSL_INVALID_CERTIFICATE: "an invalid certificate was presented",
    F.SSL_FAILED_HANDSHAKE: "the secure (TLS) handshake failed",
}
_UNREACHABLE = frozenset({F.NETWORK_UNREACHABLE, F.HOST_UNREACHABLE})


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def same_site(a: str, b: str) -> bool:
    """``www.x.org`` and ``x.org`` (and subdomains of each other) are the same site."""
    a, b = a.removeprefix("www."), b.removeprefix("www.")
    return bool(a) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def _plain(failure: str | None) -> str:
    return _PLAIN.get(failure or "", f"it failed ({say(failure)})")


@dataclass(slots=True)
class Comparison:
    body_proportion: float | None = None
    body_length_match: bool | None = None
    status_code_match: bool | None = None
    headers_match: bool | None = None
    title_match: bool | None = None

    @property
    def page_matches(self) -> bool:
        return bool(self.status_code_match) and bool(
            self.body_length_match or self.headers_match or self.title_match
        )


def compare(final: HTTPRequest | None, control: Control) -> Comparison:
    c = Comparison()
    if final is None or final.failure is not None or final.response is None or control.http is None:
        return c
    r, t = final.response, control.http
    if t.failure is not None:
        return c
    c.body_proportion = hc.body_proportion(r.body_length, t.body_length, r.body_is_truncated)
    c.body_length_match = hc.body_length_match(c.body_proportion)
    c.status_code_match = hc.status_code_match(r.code, t.status_code)
    c.headers_match = hc.headers_match(r.headers.keys(), t.header_names, r.code, t.status_code)
    c.title_match = hc.title_match(r.body, t.title, r.code, t.status_code, r.body_is_truncated)
    return c


def _pick(hits: list[tuple[FingerprintRule, str]], cc: str) -> tuple[FingerprintRule, str] | None:
    if not hits:
        return None
    return sorted(hits, key=lambda h: (not h[0].confirms(cc), -(h[0].confidence or 0)))[0]


def _tls_failure_for(obs: Observations, host: str) -> tuple[str | None, bool]:
    """(most telling TLS failure for ``host``, whether any handshake for it succeeded)."""
    fails: list[str] = []
    ok = False
    for h in obs.tls_handshakes:
        if host and h.server_name and h.server_name.lower().rstrip(".") != host:
            continue
        if h.failure is None:
            ok = True
        else:
            fails.append(h.failure)
    for pref in (F.CONNECTION_RESET, F.SSL_INVALID_HOSTNAME, F.SSL_UNKNOWN_AUTHORITY, F.SSL_INVALID_CERTIFICATE,
                 F.EOF_ERROR, F.GENERIC_TIMEOUT):
        if pref in fails:
            return pref, ok
    return (fails[0] if fails else None), ok


def _tcp_failure(obs: Observations) -> str | None:
    fails = [t.failure for t in obs.tcp_connect if t.failure]
    for pref in (F.CONNECTION_RESET, F.CONNECTION_REFUSED, F.GENERIC_TIMEOUT):
        if pref in fails:
            return pref
    return fails[0] if fails else None


def _private_redirect(req: HTTPRequest, lab: bool) -> str | None:
    """The Location of a redirect that points at a non-public IP literal (a local filter's portal)."""
    if req.response is None or not req.response.code or req.response.code // 100 != 3:
        return None
    loc = req.response.header("location") or ""
    host = _host(loc)
    return loc if host and is_bogon(host, lab=lab) else None


def _connects_for_url(obs: Observations, url: str | None, addrs: list[str]) -> list[TCPConnect]:
    """The TCP connects to the measured URL: on its port (newer probes also try 443 for an http URL)
    and, when the probe's DNS answer is known, to those addresses (not to a redirect's); else all."""
    port = None
    try:
        parts = urlsplit(url or "")
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        pass
    wanted = set(addrs)
    mine = [t for t in obs.tcp_connect if t.port == port and (not wanted or canonical_ip(t.ip or "") in wanted)]
    return mine or obs.tcp_connect


def _dns_method(dns: DNSView) -> str:
    if dns.bogons:
        return "dns.bogon"
    if dns.probe_nxdomain:
        return "dns.nxdomain"
    if dns.probe_failure:
        return "dns.failure"
    return "dns.injection"


def _dns_words(domain: str, dns: DNSView) -> str:
    if dns.bogons:
        return f"the probe's DNS answer for {domain} was a non-public address ({dns.bogons[0]})"
    if dns.probe_failure:
        return f"the probe's DNS lookup of {domain} failed ({say(dns.probe_failure)}) while the control's worked"
    return f"the probe's DNS answer for {domain} shares no address or network with the control's"


def classify_web_connectivity(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys
    if not isinstance(tk, dict):
        return make_verdict(m, "failure", "wc.no_data", "The measurement holds no test results to judge.")
    domain = m.domain
    if not domain:
        return make_verdict(m, "failure", "wc.no_input", "The measurement does not say which website it tested.")
    obs = m.observations(with_events=False)
    control_failure = tk.get("control_failure")
    control = Control.from_raw(tk.get("control")) if control_failure is None else Control()
    dns = analyse_dns(domain, obs, control, tk, lab=m.is_lab)
    final = obs.requests[0] if obs.requests else None
    cmp = compare(final, control)
    cc = m.probe_cc
    details: dict[str, Any] = {"dns": dns.reason}
    if dns.bogons:
        details["bogons"] = dns.bogons
    if dns.validated:
        details["tls_validated"] = dns.validated[:4]

    def v(status: Any, rule: str, text: str, *, blocking: Any = None, accessible: Any = None,
          method: str | None = None, fp: FingerprintRule | None = None) -> Verdict:
        return make_verdict(
            m, status, rule, text, method=method,
            fingerprint=fp.as_verdict_fingerprint() if fp is not None else None,
            blocking=blocking, accessible=accessible, dns_consistency=dns.consistency,
            body_length_match=cmp.body_length_match, body_proportion=cmp.body_proportion,
            status_code_match=cmp.status_code_match, headers_match=cmp.headers_match,
            title_match=cmp.title_match, details=details,
        )

    final_ok = final is not None and final.failure is None
    https_ok = final_ok and (final.url or "").lower().startswith("https://")  # type: ignore[union-attr]
    final_host = _host(final.url) if final is not None else ""
    # Rule 1 (strong form): HTTPS to the site itself succeeded -> its certificate rules out tampering.
    if https_ok and (not final_host or same_site(final_host, domain)):
        return v("ok", "wc.https_ok", f"{domain} loaded over HTTPS with a valid certificate, which rules out "
                 "tampering.", blocking=False, accessible=True)

    # Fingerprints: false positives first, then blockpages (DNS answers, every response of the chain).
    th_addrs = set(control.dns_ips)
    dns_hits = [(r, a) for a in dns.probe_addrs if a not in th_addrs for r in fps.match_dns(a, lab=m.is_lab)]
    http_hits: list[tuple[FingerprintRule, str]] = []
    weak_hits: list[tuple[FingerprintRule, str]] = []  # matches a false positive forbids to confirm
    for i, req in enumerate(obs.requests):
        if req.response is None or (i == 0 and cmp.page_matches):
            continue  # a final page equal to the control's is the site's own
        res = fps.match_response(req.response)
        if res.false_positive is not None:
            details.setdefault("false_positive", res.false_positive.id)
            weak_hits.extend((r, req.url or domain) for r in res.suppressed)
        http_hits.extend((r, req.url or domain) for r in res.blockpages)
        private = _private_redirect(req, m.is_lab)
        if private:
            details.setdefault("redirect_to_private_address", private)
    best_dns, best_http = _pick(dns_hits, cc), _pick(http_hits, cc)
    for best, kind in ((best_dns, "dns"), (best_http, "http")):
        if best is None or not best[0].confirms(cc):
            continue
        rule, where = best
        if kind == "dns":
            return v("confirmed", "wc.fingerprint.dns", f"The probe's DNS answer for {domain} pointed to a known "
                     f"{scope_words(rule.scope)} blocking address ({where}, fingerprint {rule.id}).", blocking="dns",
                     accessible=False, method="dns.blockpage", fp=rule)
        blocking = "dns" if dns.consistency == "inconsistent" else "http-diff"
        return v("confirmed", "wc.fingerprint.http", f"The probe was shown a known {scope_words(rule.scope)} "
                 f"blockpage instead of {domain} (fingerprint {rule.id}).", blocking=blocking, accessible=False,
                 method="dns.blockpage" if blocking == "dns" else "http.blockpage", fp=rule)
    weak = best_dns or best_http or _pick(weak_hits, cc)  # matches that do not confirm: evidence only

    # Rule 1 (OONI's form): the final HTTPS request (maybe on another site, after redirects) succeeded.
    if https_ok:
        return v("ok", "wc.https_ok", f"{domain} redirected to {final_host}, which loaded over HTTPS with a "
                 "valid certificate.", blocking=False, accessible=True)

    # Rule 2: no control, no comparison.
    if control_failure is not None or not control.present:
        details["control_failure"] = str(control_failure or "missing control")
        return v("failure", "wc.control_failure", f"The control server could not be reached, so the probe's "
                 f"results for {domain} cannot be judged.")

    # Rule 3: the probe's DNS lookup failed.
    if dns.probe_failure is not None and not dns.probe_addrs:
        if dns.probe_nxdomain:
            if dns.consistency == "consistent":
                return v("down", "wc.dns.nxdomain_down", f"{domain} does not exist in DNS for the control either, "
                         "so the site is gone, not censored.", blocking=False, accessible=False)
            return v("anomaly", "wc.dns.nxdomain", f"The probe's DNS said {domain} does not exist, while the "
                     "control resolved it.", blocking="dns", accessible=False, method="dns.nxdomain",
                     fp=weak[0] if weak else None)
        if control.dns_failed:
            return v("down", "wc.dns.failure_down", f"The DNS lookup of {domain} failed for the control too "
                     f"({control.dns_failure or 'no address'}), so the site's DNS is broken, not censored.",
                     blocking=False,
                     accessible=False)
        if control.dns_present:
            return v("anomaly", "wc.dns.failure", f"The probe's DNS lookup of {domain} failed "
                     f"({say(dns.probe_failure)}) while the control resolved it.", blocking="dns", accessible=False,
                     method="dns.failure")
        return v("failure", "wc.dns.failure_unknown", f"The probe's DNS lookup of {domain} failed "
                 f"({say(dns.probe_failure)}) and the control has no DNS result to compare with.")

    # Rule 4: no TCP connection succeeded.
    attempts = _connects_for_url(obs, m.input, dns.probe_addrs)
    if attempts and not any(t.success for t in attempts) and dns.consistency is not None:
        mine = {f"{canonical_ip(t.ip or '')}:{t.port}" for t in attempts}
        theirs = [control.tcp[e] for e in mine if e in control.tcp]
        if (theirs and not any(c.ok for c in theirs)) or (
            not theirs and control.http is not None and control.http.failure is not None
        ):
            return v("down", "wc.tcp.down", f"Neither the probe nor the control could connect to {domain}, so "
                     "the site is down, not censored.", blocking=False, accessible=False)
        tfail = _tcp_failure(obs)
        details["failure"] = tfail
        if all(t.failure in _UNREACHABLE for t in attempts) and all(
            (parse_ip(t.ip or "") or (0, 0))[0] == 6 for t in attempts
        ):
            return v("failure", "wc.tcp.no_ipv6", f"The probe's network could not route to {domain}'s IPv6 "
                     "addresses (no IPv6 connectivity), so nothing can be said.")
        if dns.consistency == "inconsistent":
            return v("anomaly", "wc.tcp.dns", f"The probe could not connect to {domain}: "
                     f"{_dns_words(domain, dns)}.", blocking="dns", accessible=False, method=_dns_method(dns),
                     fp=weak[0] if weak else None)
        return v("anomaly", "wc.tcp.blocked", f"The probe could not connect to {domain} ({_plain(tfail)}) "
                 "while the control could.", blocking="tcp_ip", accessible=False,
                 method=_TCP_METHOD.get(tfail or "", "tcp.failure"))

    # The probe's HTTP outcome: the final request, or (newer probes) the TLS failure that stopped it.
    pfail: str | None = final.failure if final is not None else None
    tls_fail, tls_any_ok = _tls_failure_for(obs, final_host or domain)
    if final is None and tls_fail is not None and not tls_any_ok:
        pfail = tls_fail
    elif final is None and attempts and not any(t.success for t in attempts):
        pfail = _tcp_failure(obs)
    elif final is None and tk.get("http_experiment_failure"):
        pfail = F.normalize(tk.get("http_experiment_failure"))

    # Rule 5: the control's own fetch failed.
    if control.http is not None and control.http.failure is not None:
        if pfail is not None or final is None:
            return v("down", "wc.http.down", f"The control could not load {domain} either "
                     f"({say(control.http.failure)}), so the site is down or broken, not censored.",
                     blocking=False, accessible=False)
        return v("failure", "wc.http.control_failed", f"The probe loaded {domain} but the control could not "
                 f"({say(control.http.failure)}), so the page cannot be compared.")

    if final is None and pfail is None:
        if dns.consistency == "inconsistent":
            return v("anomaly", "wc.dns.inconsistent", f"The probe did not fetch {domain}: "
                     f"{_dns_words(domain, dns)}.", blocking="dns", accessible=False, method=_dns_method(dns),
                     fp=weak[0] if weak else None)
        return v("failure", "wc.no_requests", f"The probe made no HTTP request for {domain}, so nothing can be "
                 "judged.")

    # Rule 6: the probe's fetch failed.
    if pfail is not None:
        details["failure"] = pfail
        if pfail in (F.DNS_NXDOMAIN, F.ANDROID_DNS_CACHE_NO_DATA):
            return v("anomaly", "wc.http.redirect_nxdomain", f"A redirect of {domain} led to a name the "
                     "probe's DNS said does not exist.", blocking="dns", accessible=False, method="dns.nxdomain")
        if pfail in BLOCKING_HTTP_FAILURES:
            if dns.consistency == "inconsistent":
                return v("anomaly", "wc.http.dns", f"Loading {domain} failed ({_plain(pfail)}) and "
                         f"{_dns_words(domain, dns)}.", blocking="dns", accessible=False,
                         method=_dns_method(dns), fp=weak[0] if weak else None)
            tls_stage = tls_fail is not None and not tls_any_ok
            method = (_TLS_METHOD if tls_stage else _HTTP_METHOD).get(pfail, "tls.failure" if tls_stage else
                                                                       "http.failure")
            stage = "during the secure (TLS) handshake" if tls_stage else "while fetching the page"
            return v("anomaly", "wc.http.failure", f"Loading {domain} failed {stage}: {_plain(pfail)}, while the "
                     "control loaded it.", blocking="http-failure", accessible=False, method=method,
                     fp=weak[0] if weak else None)
        if dns.consistency == "inconsistent":
            return v("anomaly", "wc.http.dns", f"Loading {domain} failed ({say(pfail)}) and "
                     f"{_dns_words(domain, dns)}.", blocking="dns", accessible=False, method=_dns_method(dns))
        if weak is not None or "redirect_to_private_address" in details:
            return v("anomaly", "wc.http.redirect_filter", f"The probe was redirected away from {domain} to "
                     "a filtering page" + (f" ({weak[0].id})" if weak else " on a private address") + ".",
                     blocking="http-failure", accessible=False, method="http.blockpage",
                     fp=weak[0] if weak else None)
        return v("failure", "wc.http.unknown_failure", f"Loading {domain} failed with an error that says "
                 f"nothing about censorship ({say(pfail)}).")

    # Rule 7: a cleartext page was fetched; compare it with the control's.
    if control.http is None or not control.http.status_code or control.http.status_code <= 0:
        return v("failure", "wc.http.no_control", f"The probe loaded {domain} but the control has no page to "
                 "compare it with.")
    if cmp.page_matches:
        return v("ok", "wc.http.match", f"The page the probe got for {domain} matches the one the control got.",
                 blocking=False, accessible=True)
    resp = final.response if final is not None else None
    if is_cdn_challenge(resp) and dns.consistency != "inconsistent" and weak is None:
        return v("ok", "wc.http.cdn_challenge", f"{domain}'s CDN showed the probe a bot check (CAPTCHA) that "
                 "the control did not get; that is the site's own protection, not evidence of censorship.",
                 blocking=False, accessible=True)
    if dns.consistency == "inconsistent":
        return v("anomaly", "wc.http.diff_dns", f"The page the probe got for {domain} differs from the "
                 f"control's and {_dns_words(domain, dns)}.", blocking="dns", accessible=False,
                 method="dns.blockpage" if weak else _dns_method(dns), fp=weak[0] if weak else None)
    return v("anomaly", "wc.http.diff", f"The page the probe got for {domain} differs from the one the control "
             "got.", blocking="http-diff", accessible=False, method="http.blockpage" if weak else "http.diff",
             fp=weak[0] if weak else None)


__all__ = ["classify_web_connectivity", "compare", "same_site"]
