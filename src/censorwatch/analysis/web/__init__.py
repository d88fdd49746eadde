"""Web Connectivity: facts first (``observe.build`` -> ``WebFacts``), then the rule cascade (``cascade``).

Never reads the probe's own ``blocking``/``accessible``/``dns_consistency``/``*_match``/``x_*`` keys.
``judge_test_keys`` judges a bare ``test_keys`` (the platform rules use it for their URL endpoints);
``classify_web_connectivity`` is the family's ``classify``.
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.web import observe
from censorwatch.analysis.web.cascade import Judgement, judge
from censorwatch.analysis.web.facts import WebFacts
from censorwatch.analysis.web.rules import RULES, VERSION
from censorwatch.model.measurement import Measurement, domain_of
from censorwatch.model.observations import Observations
from censorwatch.model.verdict import Verdict


def facts_of(tk: dict[str, Any], url: str, domain: str, *, lab: bool = False,
             obs: Observations | None = None) -> WebFacts:
    """What the measurement shows (no rule applied)."""
    if obs is None:
        obs = Observations.from_test_keys(tk, with_events=False)
    return observe.build(tk, url, domain, obs, lab=lab)


def judge_test_keys(tk: Any, url: str | None, *, cc: str, fps: Fingerprints, lab: bool = False,
                    obs: Observations | None = None, domain: str | None = None) -> Judgement:
    """The Web Connectivity verdict on one ``test_keys`` for ``url`` (whose host is ``domain``, when the
    caller knows it), without a measurement envelope."""
    if not isinstance(tk, dict):
        return Judgement("failure", "wc.no_data", "The measurement holds no test results to judge.")
    domain = domain or domain_of(url)
    if not url or not domain:
        return Judgement("failure", "wc.no_input", "The measurement does not say which website it tested.")
    return judge(facts_of(tk, url, domain, lab=lab, obs=obs), fps, cc)


def classify_web_connectivity(m: Measurement, fps: Fingerprints) -> Verdict:
    tk = m.test_keys
    obs = m.observations(with_events=False) if isinstance(tk, dict) else None
    j = judge_test_keys(tk, m.input, cc=m.probe_cc, fps=fps, lab=m.is_lab, obs=obs, domain=m.domain)
    c = j.comparison
    return make_verdict(
        m, j.status, j.rule, j.explanation, method=j.method,
        fingerprint=j.fingerprint.as_verdict_fingerprint() if j.fingerprint is not None else None,
        blocking=j.blocking, accessible=j.accessible,
        dns_consistency=j.dns_consistency,
        body_length_match=c.body_length_match, body_proportion=c.body_proportion,
        status_code_match=c.status_code_match, headers_match=c.headers_match, title_match=c.title_match,
        details=j.details,
    )


FAMILY = Family(
    name="web_connectivity",
    tests=("web_connectivity",),
    version=VERSION,
    rules=RULES,
    classify=classify_web_connectivity,
    uses_fingerprints=True,
    summary="Is a website reachable from the probe's network, and if not, how is it blocked (DNS, TCP/IP, "
            "TLS, HTTP) or is it down for everyone? Compared against an uncensored control.",
)

__all__ = ["FAMILY", "Judgement", "WebFacts", "classify_web_connectivity", "facts_of", "judge_test_keys"]
