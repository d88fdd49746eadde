"""DNS families: dns_consistency (legacy), dnscheck, doh, dnsping, dns_injection.

Every verdict comes from the recorded answers and failures of each lookup, never from the probe's
``inconsistent``/``failed``/``injected`` summaries.
"""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.experiments.common import is_network_failure, median_ms, method_for
from censorwatch.analysis.fingerprints import Fingerprints
from censorwatch.analysis.registry import Family
from censorwatch.analysis.verdicts import make_verdict
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.addresses import is_bogon
from censorwatch.model.measurement import Measurement
from censorwatch.model.observations import DNSQuery, Observations
from censorwatch.model.verdict import Verdict


def classify_dns_consistency(m: Measurement, fps: Fingerprints) -> Verdict:
    """dns_consistency (2012-2018): each tested resolver's A answers against the control resolver's."""
    tk = m.test_keys or {}
    control = str(tk.get("control_resolver") or "")
    control_host = control.rsplit(":", 1)[0]
    queries = [q for q in Observations.from_test_keys(tk, with_events=False).queries if q.query_type == "A"]
    ctrl = [q for q in queries if (q.resolver_address or "") == control_host]
    tested = [q for q in queries if (q.resolver_address or "") != control_host]
    if not ctrl or not tested or ctrl[0].failure:
        return make_verdict(m, "failure", "dns_consistency.no_data", "The control resolver's answer is "
                            "missing, so the resolvers cannot be compared.", family=DNS_CONSISTENCY)
    want = set(ctrl[0].addresses)
    bad: list[str] = []
    for q in tested:
        got = set(q.addresses)
        if q.failure or not got or any(is_bogon(a) for a in got):
            bad.append(q.resolver_address or "?")
    details = {"control": sorted(want), "tested": {q.resolver_address: q.addresses for q in tested}}
    if bad:
        return make_verdict(m, "anomaly", "dns_consistency.failed", f"The resolver {bad[0]} gave no usable answer "
                            f"for {m.domain}.", method="dns.failure", details=details, family=DNS_CONSISTENCY)
    if all(set(q.addresses) & want for q in tested):
        return make_verdict(m, "ok", "dns_consistency.ok", f"Every resolver gave the same address for {m.domain} "
                            "as the control.", details=details, family=DNS_CONSISTENCY)
    return make_verdict(m, "failure", "dns_consistency.differs", f"A resolver gave {m.domain} other public "
                        "addresses than the control; large sites answer differently by region and this test has "
                        "no further evidence, so no verdict.", details=details, family=DNS_CONSISTENCY)


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
    boot_failure = F.normalize(tk.get("bootstrap_failure"))
    if not queries:
        if boot_failure is not None and not is_network_failure(boot_failure):
            return make_verdict(m, "failure", "dnscheck.probe_error", f"The probe could not use the resolver "
                                f"{m.input} ({boot_failure}): a problem of the test's input, not the network.",
                                family=DNSCHECK)
        return make_verdict(m, "failure", "dnscheck.no_data", "The measurement holds no DNS lookup.", family=DNSCHECK)
    if any(q.addresses for q in queries):
        return make_verdict(m, "ok", "dnscheck.ok", f"The resolver {m.input} answered.", family=DNSCHECK)
    f = next((q.failure for q in queries if q.failure), None)
    return make_verdict(m, "anomaly", "dnscheck.failed", f"Every lookup through the resolver {m.input} failed "
                        f"({say(f) if f else 'no answer'}).", method="dns.failure", family=DNSCHECK)


def classify_doh(m: Measurement, fps: Fingerprints) -> Verdict:
    """doh (2019 research test): one DNS-over-HTTPS resolution of the input."""
    tk = m.test_keys or {}
    failure = F.normalize(tk.get("failure"))
    addrs = tk.get("x-addresses") or tk.get("addresses")
    queries = m.observations(with_events=False).queries
    resolved = (isinstance(addrs, list) and bool(addrs)) or any(q.addresses for q in queries)
    server = tk.get("url") or "the DoH server"
    if failure is None and resolved:
        return make_verdict(m, "ok", "doh.ok", f"{m.input} resolved over DNS-over-HTTPS via {server}.", family=DOH)
    if failure is None:
        return make_verdict(m, "failure", "doh.no_data", "The resolution recorded neither addresses nor a failure.",
                            family=DOH)
    if not is_network_failure(failure):
        return make_verdict(m, "failure", "doh.probe_error", f"The DoH resolution stopped on an error that says "
                            f"nothing about the network ({failure}).", family=DOH)
    return make_verdict(m, "anomaly", "doh.failed", f"Resolving {m.input} through {server} failed ({say(failure)}); "
                        "without a control this may also be the server's own outage.",
                        method=method_for("dns" if failure in F.DNS_FAILURES else "tls", failure), family=DOH)


def classify_dnsping(m: Measurement, fps: Fingerprints) -> Verdict:
    """dnsping: repeated queries to one resolver; a second, late answer to a query is an injector racing
    the real resolver."""
    tk = m.test_keys or {}
    pings = [p for p in tk.get("pings") or [] if isinstance(p, dict)]
    queries: list[DNSQuery] = []
    delayed = 0
    for p in pings:
        q = DNSQuery.from_raw(p.get("query"))
        if q is not None:
            queries.append(q)
        late = p.get("delayed_response")
        delayed += len(late) if isinstance(late, list) else 0
    if not queries:
        return make_verdict(m, "failure", "dnsping.no_data", "No DNS ping was recorded.", family=DNSPING)
    ok = [q for q in queries if q.failure is None]
    rtts = [q.t - q.t0 for q in ok if q.t is not None and q.t0 is not None]
    details: dict[str, Any] = {"pings": len(queries), "answered": len(ok), "delayed_responses": delayed,
                               "median_rtt_ms": median_ms(rtts)}
    resolver = m.input or "the resolver"
    if delayed:
        return make_verdict(m, "anomaly", "dnsping.injection", f"{delayed} queries to {resolver} drew a second, "
                            "late answer: something on the path answers before (or besides) the resolver.",
                            method="dns.injection", details=details, family=DNSPING)
    if not ok:
        f = queries[0].failure
        return make_verdict(m, "anomaly", "dnsping.failed", f"None of the {len(queries)} queries to {resolver} "
                            f"was answered ({say(f)}).", method="dns.failure", details=details, family=DNSPING)
    rtt = f", median {details['median_rtt_ms']} ms" if details["median_rtt_ms"] is not None else ""
    return make_verdict(m, "ok", "dnsping.ok", f"{resolver} answered {len(ok)} of {len(queries)} queries{rtt}.",
                        details=details, family=DNSPING)


def classify_dns_injection(m: Measurement, fps: Fingerprints) -> Verdict:
    """dns_injection (2014-2016): queries sent to an address that runs no DNS server; any answer was
    injected on the way."""
    queries = m.observations(with_events=False).queries
    if not queries:
        return make_verdict(m, "failure", "dns_injection.no_data", "No query was recorded.", family=DNS_INJECTION)
    answered = [q for q in queries if q.answers]
    if answered:
        addrs = sorted({a for q in answered for a in q.addresses})
        return make_verdict(m, "anomaly", "dns_injection.injected", f"A query for {m.domain} sent to an address "
                            f"that runs no DNS server was answered ({', '.join(addrs[:3]) or 'records'}): the answer "
                            "was injected on the way.", method="dns.injection", details={"answers": addrs},
                            family=DNS_INJECTION)
    return make_verdict(m, "ok", "dns_injection.ok", f"No answer came back for {m.domain} from an address that "
                        "runs no DNS server: nothing injected.", family=DNS_INJECTION)


DNS_CONSISTENCY = Family(
    name="dns_consistency", tests=("dns_consistency", "dnstamper"), version="dns_consistency-2",
    classify=classify_dns_consistency, summary="each resolver's answers against a control resolver's (2012-2018)",
    rules={
        "dns_consistency.no_data": "the control resolver's answer is missing",
        "dns_consistency.failed": "a tested resolver failed or answered a bogon",
        "dns_consistency.ok": "every tested resolver shares an address with the control",
        "dns_consistency.differs": "other public addresses than the control's: no verdict",
    },
)
DNSCHECK = Family(
    name="dnscheck", tests=("dnscheck",), version="dnscheck-2", classify=classify_dnscheck,
    summary="lookups through one resolver (DoT, DoH, UDP)",
    rules={
        "dnscheck.no_data": "no lookup recorded",
        "dnscheck.probe_error": "the resolver URL could not be used (the test's input): no verdict",
        "dnscheck.failed": "every lookup through the resolver failed",
        "dnscheck.ok": "the resolver answered",
    },
)
DOH = Family(
    name="doh", tests=("doh",), version="doh-1", classify=classify_doh,
    summary="one DNS-over-HTTPS resolution (2019 research test)",
    rules={
        "doh.no_data": "neither addresses nor a failure",
        "doh.probe_error": "a failure that is not the network's: no verdict",
        "doh.failed": "the DoH resolution failed on the network (no control: anomaly)",
        "doh.ok": "the name resolved over DoH",
    },
)
DNSPING = Family(
    name="dnsping", tests=("dnsping",), version="dnsping-1", classify=classify_dnsping,
    summary="repeated queries to one resolver, watching for late second answers",
    rules={
        "dnsping.no_data": "no ping recorded",
        "dnsping.injection": "a query drew a second, late answer (an injector racing the resolver)",
        "dnsping.failed": "no query was answered",
        "dnsping.ok": "the resolver answered, one answer per query",
    },
)
DNS_INJECTION = Family(
    name="dns_injection", tests=("dns_injection",), version="dns_injection-1", classify=classify_dns_injection,
    summary="queries to an address that runs no DNS server (2014-2016)",
    rules={
        "dns_injection.no_data": "no query recorded",
        "dns_injection.injected": "an answer came back from an address that runs no DNS server",
        "dns_injection.ok": "no answer came back",
    },
)
FAMILIES = [DNS_CONSISTENCY, DNSCHECK, DOH, DNSPING, DNS_INJECTION]
