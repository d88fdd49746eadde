"""Web Connectivity, re-derived from the raw observations (methodology §4, rules 1-7 in order).

Never reads the probe's own ``blocking``/``accessible``/``dns_consistency``/``*_match``/``x_*`` keys.
Where OONI is known to be wrong we do better, and say so in the rule ids (docs/classification.md):
a site the control cannot reach either is *down*; a CDN bot check is not censorship on its own;
CDN answers validated by TLS are consistent; fingerprints (all four pattern types) confirm.
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.cdn import control_was_challenged, is_cdn_challenge
from censorwatch.analysis.control import Control
from censorwatch.analysis.dns_consistency import analyse_dns
from censorwatch.analysis.fingerprints import FingerprintRule, Fingerprints
from censorwatch.analysis.netaddr import canonical_ip, parse_ip
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wc_evidence import (
    BLOCKING_HTTP_FAILURES,
    HTTP_METHOD,
    TCP_METHOD,
    TLS_METHOD,
    UNREACHABLE,
    best_match,
    compare,
    connects_for_url,
    dns_method,
    dns_words,
    plain_failure,
    private_redirect,
    same_site,
    tcp_failure,
    tls_failure_for,
    url_host,
)
from censorwatch.analysis.wording import say, scope_words
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict


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

    final_url = (final.url or "") if final is not None else ""
    https_ok = final is not None and final.failure is None and final_url.lower().startswith("https://")
    final_host = url_host(final_url)
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
        private = private_redirect(req, m.is_lab)
        if private:
            details.setdefault("redirect_to_private_address", private)
    best_dns, best_http = best_match(dns_hits, cc), best_match(http_hits, cc)
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
    weak = best_dns or best_http or best_match(weak_hits, cc)  # matches that do not confirm: evidence only

    # Rule 1 (OONI's form): the final HTTPS request (maybe on another site, after redirects) succeeded.
    if https_ok:
        return v("ok", "wc.https_ok", f"{domain} redirected to {final_host}, which loaded over HTTPS with a "
                 "valid certificate.", blocking=False, accessible=True)

    # Rule 2: no control, no comparison.
    if control_failure is not None or not control.present:
        details["control_failure"] = str(control_failure or "missing control")
        return v("failure", "wc.control_failure", f"The control server could not be reached, so the probe's "
                 f"results for {domain} cannot be judged.")

    control_fetch_failure = control.http.failure if control.http is not None else None  # rule 5's test

    # Rule 3: the probe's DNS lookup failed.
    if dns.probe_failure is not None and not dns.probe_addrs:
        if dns.probe_nxdomain:
            if dns.consistency == "consistent":
                return v("down", "wc.dns.nxdomain_down", f"{domain} does not exist in DNS for the control either, "
                         "so the site is gone, not censored.", blocking=False, accessible=False)
            seen = "the control resolved it" if control.dns_ips else "the control's DNS did not say so"
            return v("anomaly", "wc.dns.nxdomain", f"The probe's DNS said {domain} does not exist, while "
                     f"{seen}.", blocking="dns", accessible=False, method="dns.nxdomain",
                     fp=weak[0] if weak else None)
        if control.dns_failed:
            return v("down", "wc.dns.failure_down", f"The DNS lookup of {domain} failed for the control too "
                     f"({say(control.dns_failure or F.DNS_NO_ANSWER)}), so the site's DNS is broken, not censored.",
                     blocking=False, accessible=False)
        if control_fetch_failure is not None:
            # OONI's rule 3 is about NXDOMAIN only; any other DNS failure falls to rule 5: the control
            # resolved the name but could not load the site either, so it is down, not censored.
            return v("down", "wc.http.down", f"The probe's DNS lookup of {domain} failed ({say(dns.probe_failure)}) "
                     f"and the control, which resolved it, could not load it either ({say(control_fetch_failure)}), "
                     "so the site is down or broken for everyone, not censored.", blocking=False, accessible=False)
        if control.dns_present:
            return v("anomaly", "wc.dns.failure", f"The probe's DNS lookup of {domain} failed "
                     f"({say(dns.probe_failure)}) while the control resolved it.", blocking="dns", accessible=False,
                     method="dns.failure")
        return v("failure", "wc.dns.failure_unknown", f"The probe's DNS lookup of {domain} failed "
                 f"({say(dns.probe_failure)}) and the control has no DNS result to compare with.")

    # Rule 4: no TCP connection succeeded.
    attempts = connects_for_url(obs, m.input, dns.probe_addrs)
    if attempts and not any(t.success for t in attempts) and dns.consistency is not None:
        mine = {f"{canonical_ip(t.ip or '')}:{t.port}" for t in attempts}
        theirs = [control.tcp[e] for e in mine if e in control.tcp]
        # Down: the control failed too (OONI's own QA case websiteDownTCPConnect). Only with consistent
        # DNS: with inconsistent DNS the probe was steered to other addresses (a bogon, a dead "ghost"
        # address), which rule 4 calls "dns" before rule 5 looks at the control's fetch.
        if dns.consistency == "consistent" and (
            (theirs and not any(c.ok for c in theirs)) or (not theirs and control_fetch_failure is not None)
        ):
            return v("down", "wc.tcp.down", f"Neither the probe nor the control could connect to {domain}, so "
                     "the site is down, not censored.", blocking=False, accessible=False)
        tfail = tcp_failure(obs)
        details["failure"] = tfail
        if all(t.failure in UNREACHABLE for t in attempts) and all(
            (parse_ip(t.ip or "") or (0, 0))[0] == 6 for t in attempts
        ):
            return v("failure", "wc.tcp.no_ipv6", f"The probe's network could not route to {domain}'s IPv6 "
                     "addresses (no IPv6 connectivity), so nothing can be said.")
        if dns.consistency == "inconsistent":
            return v("anomaly", "wc.tcp.dns", f"The probe could not connect to {domain}: "
                     f"{dns_words(domain, dns)}.", blocking="dns", accessible=False, method=dns_method(dns),
                     fp=weak[0] if weak else None)
        return v("anomaly", "wc.tcp.blocked", f"The probe could not connect to {domain} ({plain_failure(tfail)}) "
                 "while the control could.", blocking="tcp_ip", accessible=False,
                 method=TCP_METHOD.get(tfail or "", "tcp.failure"))

    # The probe's HTTP outcome: the final request, or (newer probes) the TLS failure that stopped it.
    pfail: str | None = final.failure if final is not None else None
    tls_fail, tls_any_ok = tls_failure_for(obs, final_host or domain)
    if final is None and tls_fail is not None and not tls_any_ok:
        pfail = tls_fail
    elif final is None and attempts and not any(t.success for t in attempts):
        pfail = tcp_failure(obs)
    elif final is None and tk.get("http_experiment_failure"):
        pfail = F.normalize(tk.get("http_experiment_failure"))

    # Rule 5: the control's own fetch failed.
    if control_fetch_failure is not None:
        if pfail is not None or final is None:
            ours = f" ({say(pfail)})" if pfail else ""
            text = f"Loading {domain} failed for the probe{ours} and for the control ({say(control_fetch_failure)})"
            tls = list(control.tls.values())
            if tls and not any(t.ok for t in tls):
                text = (f"The secure (TLS) handshakes with {domain} failed for the probe and for the control "
                        f"({say(tls[0].failure)})")
            return v("down", "wc.http.down", f"{text}, so the site is down or broken for everyone, not censored.",
                     blocking=False, accessible=False)
        return v("failure", "wc.http.control_failed", f"The probe loaded {domain} but the control could not "
                 f"({say(control_fetch_failure)}), so the page cannot be compared.")

    if final is None and pfail is None:
        if dns.consistency == "inconsistent":
            return v("anomaly", "wc.dns.inconsistent", f"The probe did not fetch {domain}: "
                     f"{dns_words(domain, dns)}.", blocking="dns", accessible=False, method=dns_method(dns),
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
                return v("anomaly", "wc.http.dns", f"Loading {domain} failed ({plain_failure(pfail)}) and "
                         f"{dns_words(domain, dns)}.", blocking="dns", accessible=False,
                         method=dns_method(dns), fp=weak[0] if weak else None)
            tls_stage = tls_fail is not None and not tls_any_ok
            method = (TLS_METHOD if tls_stage else HTTP_METHOD).get(pfail, "tls.failure" if tls_stage else
                                                                       "http.failure")
            stage = "during the secure (TLS) handshake" if tls_stage else "while fetching the page"
            return v("anomaly", "wc.http.failure", f"Loading {domain} failed {stage}: {plain_failure(pfail)}, while the "
                     "control loaded it.", blocking="http-failure", accessible=False, method=method,
                     fp=weak[0] if weak else None)
        if dns.consistency == "inconsistent":
            return v("anomaly", "wc.http.dns", f"Loading {domain} failed ({say(pfail)}) and "
                     f"{dns_words(domain, dns)}.", blocking="dns", accessible=False, method=dns_method(dns))
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
    resp = final.response if final is not None else None
    if resp is None or not resp.code:
        return v("failure", "wc.http.no_response", f"The probe's fetch of {domain} recorded neither an error nor "
                 "a response, so it cannot be judged.")
    if cmp.page_matches:
        return v("ok", "wc.http.match", f"The page the probe got for {domain} matches the one the control got.",
                 blocking=False, accessible=True)
    if is_cdn_challenge(resp) and dns.consistency != "inconsistent" and weak is None:
        return v("ok", "wc.http.cdn_challenge", f"{domain}'s CDN showed the probe a bot check (CAPTCHA) that "
                 "the control did not get; that is the site's own protection, not evidence of censorship.",
                 blocking=False, accessible=True)
    if weak is None and not is_cdn_challenge(resp) and control_was_challenged(
        control.http.status_code, control.http.header_names, control.http.title
    ):
        return v("failure", "wc.http.control_challenged", f"The control was shown {domain}'s CDN bot check "
                 "(CAPTCHA) instead of the page, so the probe's page cannot be compared with it.")
    if dns.consistency == "inconsistent":
        return v("anomaly", "wc.http.diff_dns", f"The page the probe got for {domain} differs from the "
                 f"control's and {dns_words(domain, dns)}.", blocking="dns", accessible=False,
                 method="dns.blockpage" if weak else dns_method(dns), fp=weak[0] if weak else None)
    return v("anomaly", "wc.http.diff", f"The page the probe got for {domain} differs from the one the control "
             "got.", blocking="http-diff", accessible=False, method="http.blockpage" if weak else "http.diff",
             fp=weak[0] if weak else None)


__all__ = ["classify_web_connectivity", "compare", "same_site"]
