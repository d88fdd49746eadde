"""Is the probe's DNS answer for the URL's host consistent with the control's? (methodology §4)

Order of the checks (first that applies):
1. the host is an IP literal -> consistent (nothing was resolved);
2. both sides failed -> consistent only when both say NXDOMAIN;
3. the probe failed and the control did not -> inconsistent;
4. a bogon the control did not also get -> inconsistent ("bogon");
5. the control failed (not NXDOMAIN) -> consistent only if validated (below), else inconsistent;
6. a shared non-zero ASN, then a shared IP -> consistent (OONI's checks);
7. an address the probe got was validated by a TLS handshake for this host (by the probe, or by the
   control on the probe's address) -> consistent: CDNs answer differently per region, but a
   certificate for the right name cannot be faked; otherwise inconsistent.
(Validation runs last only because it is the costliest check; the outcome does not depend on it.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from censorwatch.analysis.control import IP_FLAG_VALID_FOR_DOMAIN, Control
from censorwatch.analysis.netaddr import canonical_ip, parse_ip, split_endpoint
from censorwatch.model import failures
from censorwatch.model.addresses import is_bogon
from censorwatch.model.observations import DNSQuery, Observations

Consistency = Literal["consistent", "inconsistent"]
SYSTEM_ENGINES = frozenset({"system", "getaddrinfo", "golang_net_resolver", "android", ""})
NXDOMAIN_LIKE = frozenset({failures.DNS_NXDOMAIN, failures.ANDROID_DNS_CACHE_NO_DATA})


@dataclass(slots=True)
class DNSView:
    consistency: Consistency | None = None
    reason: str = "unknown"
    probe_failure: str | None = None
    probe_addrs: list[str] = field(default_factory=list)
    bogons: list[str] = field(default_factory=list)
    validated: list[str] = field(default_factory=list)
    resolved: bool = False  # the probe's lookup happened (success or failure) and was recorded

    @property
    def probe_nxdomain(self) -> bool:
        return self.probe_failure in NXDOMAIN_LIKE


def _norm_host(h: str | None) -> str:
    return (h or "").strip().lower().rstrip(".")


def idna(host: str) -> str:
    """The ASCII (punycode) spelling of a host name, as resolvers see it."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _select(queries: list[DNSQuery], domain: str) -> list[DNSQuery]:
    """The probe's own lookups of ``domain`` (system resolver first); old records may lack hostnames."""
    names = {domain, idna(domain)}
    mine = [q for q in queries if q.hostname is None or _norm_host(q.hostname) in names]
    system = [q for q in mine if (q.engine or "") in SYSTEM_ENGINES]
    return system or mine


def _probe_lookup(obs: Observations, domain: str, tk: dict[str, Any]) -> tuple[bool, str | None, list[str]]:
    """(resolved?, failure, addresses) of the probe's own lookup of ``domain``."""
    qs = _select(obs.queries, domain)
    addrs: list[str] = []
    seen: set[str] = set()
    for q in qs:
        for a in q.answers:
            ip = a.ipv4 or a.ipv6
            if ip and a.answer_type in (None, "A", "AAAA"):
                c = canonical_ip(ip)
                if c not in seen:
                    seen.add(c)
                    addrs.append(c)
    if addrs:
        return True, None, addrs
    fails = [q.failure for q in qs if q.failure]
    if fails:
        nx = [f for f in fails if f in NXDOMAIN_LIKE]
        return True, (nx[0] if nx else fails[0]), []
    legacy = failures.normalize(tk.get("dns_experiment_failure"))
    if legacy is not None:
        return True, legacy, []
    if qs:  # a lookup with neither answers nor failure: an empty answer
        return True, failures.DNS_NO_ANSWER, []
    return False, None, []


def validated_addresses(obs: Observations, control: Control, domain: str, addrs: list[str]) -> list[str]:
    """Addresses on which a TLS handshake with SNI = ``domain`` verified the certificate."""
    wanted = set(addrs)
    ok: set[str] = set()
    for h in obs.tls_handshakes:
        if h.failure is None and not h.no_tls_verify and h.address and _norm_host(h.server_name) == domain:
            ip = canonical_ip(split_endpoint(h.address)[0])
            if ip in wanted:
                ok.add(ip)
    for t in control.tls.values():
        if t.ok and _norm_host(t.server_name) == domain and t.ip in wanted:
            ok.add(t.ip)
    for ip, flags in control.ip_flags.items():
        if flags & IP_FLAG_VALID_FOR_DOMAIN and ip in wanted:
            ok.add(ip)
    return [a for a in addrs if a in ok]


def _asn_map(obs: Observations, control: Control, addrs: list[str], th: set[str]) -> dict[str, int]:
    """ASNs of the addresses that matter, from the answers' ``asn`` and the control's ``ip_info``."""
    m: dict[str, int] = {}
    for q in obs.queries:
        for a in q.answers:
            ip = a.ipv4 or a.ipv6
            if ip and a.asn:
                m[canonical_ip(ip)] = a.asn
    for ip in (*addrs, *th):
        asn = control.asn_of(ip)
        if asn:
            m[ip] = asn
    return m


def analyse_dns(
    domain: str | None, obs: Observations, control: Control, tk: dict[str, Any], *, lab: bool = False
) -> DNSView:
    host = _norm_host(domain)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host and parse_ip(host) is not None:
        return DNSView("consistent", "ip_literal", resolved=False)
    resolved, pfail, addrs = _probe_lookup(obs, host, tk)
    view = DNSView(reason="unknown", probe_failure=pfail, probe_addrs=addrs, resolved=resolved)
    if not resolved:
        return view
    view.bogons = [a for a in addrs if is_bogon(a, lab=lab)]
    if not control.dns_present:
        # Without the control's answer only the probe's own evidence counts.
        if view.bogons:
            view.consistency, view.reason = "inconsistent", "bogon"
        elif _validate(view, obs, control, host):
            view.consistency, view.reason = "consistent", "tls_validated"
        return view
    th_failed = control.dns_failed
    if pfail is not None:
        if th_failed and view.probe_nxdomain and control.dns_nxdomain:
            view.consistency, view.reason = "consistent", "nxdomain_both"
        elif th_failed:
            view.consistency, view.reason = "inconsistent", "both_failed"
        else:
            view.consistency, view.reason = "inconsistent", "probe_failed"
        return view
    th = set(control.dns_ips)
    if view.bogons and not all(b in th for b in view.bogons):
        view.consistency, view.reason = "inconsistent", "bogon"
        return view
    if th_failed:
        if _validate(view, obs, control, host):
            view.consistency, view.reason = "consistent", "tls_validated"
        else:
            view.consistency, view.reason = "inconsistent", "control_failed"
        return view
    asns = _asn_map(obs, control, addrs, th)
    probe_asns = {asns.get(a, 0) for a in addrs} - {0}
    th_asns = {asns.get(a, 0) for a in th} - {0}
    if probe_asns & th_asns:
        view.consistency, view.reason = "consistent", "asn_overlap"
    elif th.intersection(addrs):
        view.consistency, view.reason = "consistent", "ip_overlap"
    elif _validate(view, obs, control, host):
        view.consistency, view.reason = "consistent", "tls_validated"
    else:
        view.consistency, view.reason = "inconsistent", "no_overlap"
    return view


def _validate(view: DNSView, obs: Observations, control: Control, host: str) -> bool:
    """Fill ``view.validated`` (only computed when the cheaper checks could not decide)."""
    view.validated = validated_addresses(obs, control, host, view.probe_addrs) if view.probe_addrs else []
    return bool(view.validated)
