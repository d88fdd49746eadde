"""The Web Connectivity rule cascade over ``WebFacts``: the first rule that applies decides.

The order is OONI's (Web Connectivity 0.5, ``analysisclassic.go``: the deciding step of the user's
own path, then what the control saw at that step; any blocking becomes "dns" when the system
resolver's answer was inconsistent), with censorwatch's deliberate differences slotted in, each
listed with its evidence in docs/classification.md ("Where we differ from OONI on purpose"):
fingerprints confirm; a site the control cannot load either is ``down``; a CDN's bot check is not
censorship; a failure after a TLS handshake the probe itself validated is not blamed on DNS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from censorwatch.analysis.fingerprints import FingerprintRule, Fingerprints
from censorwatch.analysis.netaddr import split_endpoint
from censorwatch.analysis.web import words as W
from censorwatch.analysis.web.addresses import canonical_ip
from censorwatch.analysis.web.cdn import control_was_challenged, is_cdn_challenge
from censorwatch.analysis.web.chain import is_https, only_ipv6_unreachable, url_host
from censorwatch.analysis.web.compare import NOTHING, Comparison, compare
from censorwatch.analysis.web.facts import OK, Consistency, Step, WebFacts
from censorwatch.analysis.web.resolvers import NXDOMAIN_LIKE, is_loopback, resolvers_detail
from censorwatch.analysis.wording import say, scope_words
from censorwatch.model.addresses import is_bogon
from censorwatch.model.observations import HTTPRequest, HTTPResponse
from censorwatch.model.verdict import Blocking, Status


@dataclass(slots=True)
class Judgement:
    """What the cascade decided; ``classify_web_connectivity`` turns it into a ``Verdict``."""

    status: Status
    rule: str
    explanation: str
    method: str | None = None
    blocking: Blocking = None
    accessible: bool | None = None
    fingerprint: FingerprintRule | None = None
    comparison: Comparison = NOTHING
    dns_consistency: Consistency | None = None
    details: dict[str, Any] = field(default_factory=dict)


def same_site(a: str, b: str) -> bool:
    """``www.x.org`` and ``x.org`` (and subdomains of each other) are the same site."""
    a, b = a.removeprefix("www."), b.removeprefix("www.")
    return bool(a) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def _ok(rule: str, text: str) -> Judgement:
    return Judgement("ok", rule, text, blocking=False, accessible=True)


def _down(rule: str, text: str) -> Judgement:
    return Judgement("down", rule, text, blocking=False, accessible=False)


def _unknown(rule: str, text: str) -> Judgement:
    return Judgement("failure", rule, text)


def _blocked(rule: str, text: str, blocking: Blocking, method: str | None,
             fp: FingerprintRule | None = None) -> Judgement:
    return Judgement("anomaly", rule, text, method=method, blocking=blocking, accessible=False, fingerprint=fp)


def _offsite_redirect(f: WebFacts) -> str | None:
    """The Location of a redirect in the user's chain that leaves the site, if any."""
    for req in f.responses:
        resp = req.response
        if resp is not None and resp.code and resp.code // 100 == 3:
            host = url_host(resp.header("location"))
            if host and not same_site(host, f.domain):
                return host
    return None


def _private_redirect(resp: HTTPResponse, lab: bool) -> str | None:
    """The Location of a redirect that points at a non-public IP literal (a local filter's portal)."""
    if not resp.code or resp.code // 100 != 3:
        return None
    loc = resp.header("location") or ""
    host = url_host(loc)
    return loc if host and is_bogon(host, lab=lab) else None


def _best(hits: list[tuple[FingerprintRule, str]], cc: str) -> tuple[FingerprintRule, str] | None:
    if not hits:
        return None
    return sorted(hits, key=lambda h: (not h[0].confirms(cc), -(h[0].confidence or 0)))[0]


def judge(f: WebFacts, fps: Fingerprints, cc: str) -> Judgement:
    """The first rule that applies to ``f`` (module doc), with the facts behind it in ``details``."""
    j = _judge(f, fps, cc)
    j.dns_consistency = f.dns_consistency
    d = j.details
    d["dns"] = f.dns_reason
    if f.bogons:
        d["bogons"] = f.bogons
    if f.others:
        d["resolvers"] = resolvers_detail(f.system, f.others, f.control)
    if j.status != "ok" or f.dns_consistency == "inconsistent":
        if f.validated:
            d["tls_validated"] = f.validated[:4]
        if f.up_elsewhere:
            d["up_elsewhere"] = True
    step = f.step
    if step is not None:
        if step.failure is not None and j.status != "ok":
            d.setdefault("failure", step.failure)
        if step.hop.depth > 0:
            d["depth"] = step.hop.depth
    return j


def _judge(f: WebFacts, fps: Fingerprints, cc: str) -> Judgement:
    dom = f.domain
    step = f.step
    final = step if step is not None and step.stage == "final" else None
    cmp = compare(final.response, f.control) if final is not None else NOTHING

    # 1. the user's chain ended in HTTPS on the site itself: a valid certificate rules out tampering
    if final is not None and final.over_tls and same_site(final.hop.host, dom):
        return _with(_ok("wc.https_ok", f"{dom} loaded over HTTPS with a valid certificate, which rules out "
                         "tampering."), cmp)

    # 2. fingerprints: false positives first, then blockpages (system answers, every response of the chain)
    fp, weak, details = _fingerprints(f, fps, cc, final.request if final is not None else None, cmp)
    if fp is not None:
        fp.details.update(details)
        return _with(fp, cmp)

    # 3. the chain ended in HTTPS on another site (OONI's rule: TLS proves the final page is genuine)
    if final is not None and final.over_tls:
        j = _ok("wc.https_ok", f"{dom} redirected to {final.hop.host}, which loaded over HTTPS with a valid "
                "certificate.")
        j.details.update(details)
        return _with(j, cmp)

    # 4. no control, no comparison
    if not f.control_present:
        j = _unknown("wc.control_failure", f"The control server could not be reached, so the probe's results "
                     f"for {dom} cannot be judged.")
        j.details["control_failure"] = f.control_failure or "missing control"
        return j

    # 5-9. what decided, and what the control saw at the same step
    if step is None:
        j = _nothing(f)
    elif final is not None:
        j = _final(f, final, cmp, weak)
    elif step.stage == "dns":
        j = _dns(f, step)
    elif step.stage == "loopback":
        j = _loopback(f)
    else:
        j = _failed(f, step, weak, details)
    j.details.update(details)
    return _with(j, cmp)


def _with(j: Judgement, cmp: Comparison) -> Judgement:
    j.comparison = cmp
    return j


def _fingerprints(f: WebFacts, fps: Fingerprints, cc: str, final: HTTPRequest | None, cmp: Comparison
                  ) -> tuple[Judgement | None, FingerprintRule | None, dict[str, Any]]:
    details: dict[str, Any] = {}
    dom = f.domain
    theirs = set(f.control.dns_ips)
    dns_hits: list[tuple[FingerprintRule, str]] = []
    if f.system is not None:
        for a in f.system.addrs:
            if a not in theirs:
                dns_hits.extend((r, a) for r in fps.match_dns(a, lab=f.lab))
    http_hits: list[tuple[FingerprintRule, str]] = []
    weak_hits: list[tuple[FingerprintRule, str]] = []  # matches a false positive forbids to confirm
    for req in f.responses:
        resp = req.response
        if resp is None or (req is final and cmp.page_matches):
            continue  # a final page equal to the control's is the site's own
        res = fps.match_response(resp)
        if res.false_positive is not None:
            details.setdefault("false_positive", res.false_positive.id)
            weak_hits.extend((r, req.url or dom) for r in res.suppressed)
        http_hits.extend((r, req.url or dom) for r in res.blockpages)
        private = _private_redirect(resp, f.lab)
        if private:
            details.setdefault("redirect_to_private_address", private)
    best_dns, best_http = _best(dns_hits, cc), _best(http_hits, cc)
    if best_dns is not None and best_dns[0].confirms(cc):
        rule, where = best_dns
        return Judgement("confirmed", "wc.fingerprint.dns", f"The probe's DNS answer for {dom} pointed to a known "
                         f"{scope_words(rule.scope)} blocking address ({where}, fingerprint {rule.id}).",
                         method="dns.blockpage", blocking="dns", accessible=False, fingerprint=rule), None, details
    if best_http is not None and best_http[0].confirms(cc):
        rule, where = best_http
        dns = f.dns_consistency == "inconsistent"
        return Judgement("confirmed", "wc.fingerprint.http", f"The probe was shown a known "
                         f"{scope_words(rule.scope)} blockpage instead of {dom} (fingerprint {rule.id}).",
                         method="dns.blockpage" if dns else "http.blockpage", blocking="dns" if dns else "http-diff",
                         accessible=False, fingerprint=rule), None, details
    weak = best_dns or best_http or _best(weak_hits, cc)  # matches that do not confirm: evidence only
    return None, weak[0] if weak else None, details


def _inconsistent(f: WebFacts) -> bool:
    return f.dns_consistency == "inconsistent"


def _dns_blocked(f: WebFacts, rule: str, text: str, weak: FingerprintRule | None = None) -> Judgement:
    return _blocked(rule, text + W.elsewhere_words(f) + ".", "dns", W.dns_method(f), weak)


def _nothing(f: WebFacts) -> Judgement:
    """No step decided: nothing was fetched (newer probes do not connect to bogons or loopback)."""
    dom = f.domain
    if _inconsistent(f) and not any(h.attempts for h in f.hops):
        return _dns_blocked(f, "wc.dns.inconsistent", f"The probe did not fetch {dom}: {W.dns_words(f)}")
    return _unknown("wc.no_requests", f"The probe made no HTTP request for {dom}, so nothing can be judged.")


def _dns(f: WebFacts, step: Step) -> Judgement:
    dom, fail, theirs = f.domain, step.failure, step.control
    http = f.control.http_outcome()
    if step.hop.host != dom:  # a redirect's next hop: the control has no lookup of it
        target = step.hop.host or step.url
        if http:
            return _down("wc.http.down", f"A redirect of {dom} led to {target}, which did not resolve for the probe "
                         f"({say(fail)}), and the control could not load the page either ({say(http)}), so the site "
                         "is down or broken for everyone, not censored.")
        return _blocked("wc.redirect.dns", f"{dom} redirected to {target}, which the probe's DNS could not resolve "
                        f"({say(fail)}), while the control loaded the page.", "dns",
                        "dns.nxdomain" if fail in NXDOMAIN_LIKE else "dns.failure")
    if theirs is None:
        return _unknown("wc.dns.failure_unknown", f"The probe's DNS lookup of {dom} failed ({say(fail)}) and the "
                        "control has no DNS result to compare with.")
    if theirs:  # the control's lookup failed too
        if _inconsistent(f):
            return _dns_blocked(f, "wc.dns.nxdomain", f"The probe's DNS said {dom} does not exist, while the "
                                f"control's lookup only failed ({say(theirs)})")
        if fail in NXDOMAIN_LIKE and theirs in NXDOMAIN_LIKE:
            return _down("wc.dns.nxdomain_down", f"{dom} does not exist in DNS for the control either, so the site "
                         "is gone, not censored.")
        return _down("wc.dns.failure_down", f"The DNS lookup of {dom} failed for the control too "
                     f"({say(theirs)}), so the site's DNS is broken, not censored.")
    if http and fail not in NXDOMAIN_LIKE:
        # OONI's rule 3 is about NXDOMAIN alone; the control resolved the name but could not load the
        # site either: it is down, not censored
        return _down("wc.http.down", f"The probe's DNS lookup of {dom} failed ({say(fail)}) and the control, which "
                     f"resolved it, could not load it either ({say(http)}), so the site is down or broken for "
                     "everyone, not censored.")
    if fail in NXDOMAIN_LIKE:
        return _dns_blocked(f, "wc.dns.nxdomain", f"The probe's DNS said {dom} does not exist, while the control "
                            "resolved it")
    return _dns_blocked(f, "wc.dns.failure", f"The probe's DNS lookup of {dom} failed ({say(fail)}) while the "
                        "control resolved it")


def _loopback(f: WebFacts) -> Judgement:
    dom = f.domain
    theirs = f.control.dns_ips
    if theirs and all(is_loopback(a) for a in theirs):
        return _down("wc.dns.loopback_down", f"{dom} resolves to a loopback address for the control too: the site "
                     "is misconfigured, not censored.")
    if theirs or _inconsistent(f):
        addr = f.system.addrs[0] if f.system is not None and f.system.addrs else "127.0.0.1"
        return _dns_blocked(f, "wc.dns.loopback", f"The probe's DNS answered {dom} with a loopback address ({addr}) "
                            "while the control got the site's")
    return _unknown("wc.no_requests", f"The probe's DNS answered {dom} with a loopback address and the control "
                    "has no address to compare with, so nothing can be judged.")


def _ghost(f: WebFacts, dom: str) -> Judgement:
    off = _offsite_redirect(f)
    if off is not None:
        return _down("wc.dns.nxdomain_rewrite", f"{dom} does not resolve for the control; the probe's DNS gave an "
                     f"address that redirected to {off}, a resolver's search page for names that do not exist, so "
                     "the site is down, not censored.")
    words = W.dns_words(f)
    return _dns_blocked(f, "wc.dns.ghost", f"{words[:1].upper()}{words[1:]}, and what the probe reached there is "
                        "not the site")


def _in_validated_session(f: WebFacts, step: Step) -> bool:
    """The failed round trip ran inside a TLS session the probe itself validated for the host, on an
    address the system resolver gave: that address is the site's (a censor cannot present a valid
    certificate for it), so the failure is not the DNS answer's doing."""
    if step.stage != "http" or not f.validated:
        return False
    a = step.attempt
    if a is not None:
        return a.tls == OK and a.ip in f.validated
    r = step.request
    if r is not None and r.address:
        return canonical_ip(split_endpoint(r.address)[0]) in f.validated
    return is_https(step.hop.url) and any(x.tls == OK and x.ip in f.validated for x in step.hop.attempts)


def _failed(f: WebFacts, step: Step, weak: FingerprintRule | None, details: dict[str, Any]) -> Judgement:
    """A TCP, TLS or HTTP failure decides (``step.stage``), on the URL itself or after redirects."""
    dom, fail, stage, theirs = f.domain, step.failure, step.stage, step.control
    http = f.control.http_outcome()
    where = W.stage_words(stage)
    redirect = step.hop.depth > 0
    target = step.hop.host or dom
    if stage == "tcp" and only_ipv6_unreachable(step.hop.attempts):
        return _unknown("wc.tcp.no_ipv6", f"The probe's network could not route to {target}'s IPv6 addresses (no "
                        "IPv6 connectivity), so nothing can be said.")
    # the control failed at the same step, or has no record of it and could not load the page at all
    if theirs or (theirs is None and http):
        if f.ghost and not f.validated:
            return _ghost(f, dom)
        if stage == "tcp":  # methodology rule 4 (no connection) comes before rule 5 (the control's fetch)
            if _inconsistent(f):  # the probe was steered to addresses that do not answer
                return _dns_blocked(f, "wc.tcp.dns", f"The probe could not connect to {dom} ({W.plain(fail)}) "
                                    f"and {W.dns_words(f)}")
            return _down("wc.tcp.down", f"Neither the probe nor the control could connect to {target} "
                         f"({W.plain(fail)}), so the site is down, not censored.")
        if http:
            text = (f"The secure (TLS) handshakes with {target} failed for the probe and for the control "
                    f"({say(theirs or http)})" if stage == "tls" and theirs else
                    f"Loading {dom} failed for the probe ({say(fail)}) and for the control ({say(http)})")
            return _down("wc.http.down", f"{text}, so the site is down or broken for everyone, not censored.")
        if _inconsistent(f):  # the control fails only on the probe's addresses: the probe was steered there
            return _dns_blocked(f, "wc.http.dns", f"Loading {dom} failed ({W.plain(fail)}) and {W.dns_words(f)}")
        return _down("wc.tls.down", f"The secure (TLS) handshake with {target} failed for the probe and for the "
                     f"control on the same address ({say(theirs)}), so the site is broken, not censored.")
    # the control succeeded at this step, or has no record of it while it loaded the page
    if _inconsistent(f) and not _in_validated_session(f, step):
        rule = "wc.tcp.dns" if stage == "tcp" else "wc.http.dns"
        return _dns_blocked(f, rule, f"Loading {dom} failed ({W.plain(fail)}) and {W.dns_words(f)}", weak)
    method = W.method_for(stage, fail)
    if stage != "tcp" and fail not in W.EVIDENCE:
        private = details.get("redirect_to_private_address")
        if stage == "http" and (weak is not None or private):
            return _blocked("wc.http.redirect_filter", f"The probe was redirected away from {dom} to a filtering "
                            "page" + (f" ({weak.id})" if weak else " on a private address") + ".", "http-failure",
                            "http.blockpage", weak)
        return _unknown("wc.http.unknown_failure", f"Loading {dom} failed with an error that says nothing about "
                        f"censorship ({say(fail)}).")
    if redirect:
        return _blocked("wc.redirect.failure", f"{dom} redirected to {target}, which failed {where}: "
                        f"{W.plain(fail)}, while the control loaded the page.", "http-failure", method, weak)
    if stage == "tcp":
        if theirs == "":
            return _blocked("wc.tcp.blocked", f"The probe could not connect to {dom} ({W.plain(fail)}) while the "
                            "control could.", "tcp_ip", method)
        return _blocked("wc.tcp.untested", f"The probe could not connect to {dom} ({W.plain(fail)}) on an address "
                        "the control did not test, while the control loaded the page.", "http-failure", method)
    return _blocked("wc.http.failure", f"Loading {dom} failed {where}: {W.plain(fail)}, while the control loaded "
                    "it.", "http-failure", method, weak)


def _final(f: WebFacts, step: Step, cmp: Comparison, weak: FingerprintRule | None) -> Judgement:
    """A cleartext page came back at the end of the user's chain: compare it with the control's."""
    dom = f.domain
    http = f.control.http_outcome()
    ctrl = f.control.http
    if http is None or http:
        if f.ghost and not f.validated:
            return _ghost(f, dom)
        if _inconsistent(f):
            return _dns_blocked(f, "wc.http.diff_dns", f"The probe got a page for {dom} the control could not load "
                                f"({say(http)}), and {W.dns_words(f)}", weak)
        if http is None:
            return _unknown("wc.http.no_control", f"The probe loaded {dom} but the control has no page to compare "
                            "it with.")
        return _unknown("wc.http.control_failed", f"The probe loaded {dom} but the control could not "
                        f"({say(http)}), so the page cannot be compared.")
    if ctrl is None or not ctrl.status_code or ctrl.status_code <= 0:
        return _unknown("wc.http.no_control", f"The probe loaded {dom} but the control has no page to compare "
                        "it with.")
    resp = step.response
    if resp is None or not resp.code:
        return _unknown("wc.http.no_response", f"The probe's fetch of {dom} recorded neither an error nor a "
                        "response, so it cannot be judged.")
    if cmp.page_matches:
        return _ok("wc.http.match", f"The page the probe got for {dom} matches the one the control got.")
    challenge = is_cdn_challenge(resp)
    if challenge and not _inconsistent(f) and weak is None:
        return _ok("wc.http.cdn_challenge", f"{dom}'s CDN showed the probe a bot check (CAPTCHA) that the control "
                   "did not get; that is the site's own protection, not evidence of censorship.")
    if weak is None and not challenge and control_was_challenged(ctrl.status_code, ctrl.header_names, ctrl.title):
        return _unknown("wc.http.control_challenged", f"The control was shown {dom}'s CDN bot check (CAPTCHA) "
                        "instead of the page, so the probe's page cannot be compared with it.")
    if _inconsistent(f):
        j = _dns_blocked(f, "wc.http.diff_dns", f"The page the probe got for {dom} differs from the control's and "
                         f"{W.dns_words(f)}", weak)
        if weak is not None:
            j.method = "dns.blockpage"
        return j
    return _blocked("wc.http.diff", f"The page the probe got for {dom} differs from the one the control got.",
                    "http-diff", "http.blockpage" if weak else "http.diff", weak)

