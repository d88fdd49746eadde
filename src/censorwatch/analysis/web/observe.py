"""Build ``WebFacts`` from one measurement's ``test_keys`` (facts first; no rule is applied here)."""

from __future__ import annotations

from typing import Any

from censorwatch.analysis.netaddr import parse_ip
from censorwatch.analysis.web import chain, resolvers
from censorwatch.analysis.web.control import Control
from censorwatch.analysis.web.facts import SYSTEM, Lookup, Step, WebFacts
from censorwatch.model import failures as F
from censorwatch.model.observations import Observations


def _tagged(obs: Observations) -> bool:
    """Web Connectivity 0.5's shape: depth tags, and connections tied to their request (a
    ``fetch_body`` tag, or a request sharing its connect's ``transaction_id``). Depth tags alone (some
    0.4 probes) keep the 0.4 reading, where the request ran on a connection of its own."""
    first = obs.tcp_connect[0] if obs.tcp_connect else (obs.queries[0] if obs.queries else None)
    if first is None or first.depth is None:
        return False  # a probe tags every step or none
    tids: set[int] = set()
    for t in obs.tcp_connect:
        if t.fetch_body is not None:
            return True
        if t.transaction_id is not None:
            tids.add(t.transaction_id)
    return any(r.transaction_id in tids for r in obs.requests if r.transaction_id is not None)


def build(tk: dict[str, Any], url: str, domain: str, obs: Observations, *, lab: bool) -> WebFacts:
    control_failure = tk.get("control_failure")
    control = Control.from_raw(tk.get("control")) if control_failure is None else Control()
    spelled = resolvers.norm_host(domain)
    host = spelled[1:-1] if spelled.startswith("[") and spelled.endswith("]") else spelled
    ip_literal = parse_ip(host) is not None
    host = resolvers.idna(host)
    names = frozenset((host, spelled))
    tagged = _tagged(obs)

    asn: dict[str, int] = {}
    lookups = resolvers.gather(obs.queries, names, host, asn)
    system: Lookup | None = None
    others: dict[str, Lookup] = {}
    system_addrs: set[str] = set()
    elsewhere: set[str] = set(control.dns_ips)
    for lk in lookups:
        if lk.resolver == SYSTEM:
            system_addrs.update(lk.addrs)
            if lk.depth == 0 and lk.host == host:
                system = lk
        else:
            elsewhere.update(lk.addrs)
            if lk.depth == 0 and lk.host == host and lk.resolver not in others:
                others[lk.resolver] = lk
    if system is None and not tagged and others:
        # old probes recorded their one resolver under other engine names: it is the user's
        system = next(iter(others.values()))
        system.resolver = SYSTEM
        system_addrs.update(system.addrs)
        others = {}
    if system is None and not ip_literal:
        legacy = F.normalize(tk.get("dns_experiment_failure"))
        if legacy is not None:
            system = Lookup(SYSTEM, host, 0, failure=legacy)
            lookups.append(system)

    attempts, _ = chain.attempts_of(obs, tagged=tagged, system_addrs=system_addrs, elsewhere=elsewhere)
    if tagged:
        hops = chain.tagged_hops(attempts, lookups, host, url)
    else:
        legacy_http = F.normalize(tk.get("http_experiment_failure")) if not obs.requests else None
        hops = chain.untagged_hops(obs, attempts, lookups, host, url, system, legacy_http)
    step = chain.decide(hops, tagged=tagged)
    if step is not None:
        step.control = _control_at(step, control, host)

    bogons = resolvers.bogons_of(system, control, lab=lab)
    consistency, reason = resolvers.consistency(system, control, asn, bogons, ip_literal=ip_literal)
    ghost = (system is not None and bool(system.addrs) and control.dns_present
             and bool(control.dns_outcome()))
    return WebFacts(
        url=url, domain=host, scheme=(url.split(":", 1)[0].lower() if ":" in url else "http"),
        port=chain.url_port(url), lab=lab, control=control,
        control_failure=None if control_failure is None else str(control_failure), tagged=tagged,
        ip_literal=ip_literal, system=system, others=others, hops=hops, step=step,
        dns_consistency=consistency, dns_reason=reason, bogons=bogons, ghost=ghost, attempts=attempts,
        requests=obs.requests,
    )


def _control_at(step: Step, control: Control, host: str) -> str | None:
    """What the control saw at the deciding step (``None``: it has no record of that step)."""
    if not control.present:
        return None
    if step.stage in ("final", "http"):
        return control.http_outcome()
    if step.stage in ("dns", "loopback"):
        return control.dns_outcome() if step.hop.host == host else None
    a = step.attempt
    if a is None:
        return None
    if step.stage == "tls":
        return control.tls_outcome(a.ip, a.port, a.sni)
    return control.tcp_outcome(a.ip, a.port)
