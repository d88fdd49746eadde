"""Each resolver's answer, and whether the system resolver's agrees with the control's.

``dns_consistency`` keeps OONI's meaning (Web Connectivity 0.5, the "classic" view: the system
resolver's lookup of the URL's host against the control's), first that applies:

1. the host is an IP literal: consistent (nothing was resolved);
2. no system lookup, no control, or no control DNS: unknown (None);
3. the probe failed: consistent when the control failed too (both NXDOMAIN; or any failure where the
   probe's is not NXDOMAIN: a name the probe says does not exist while the control got some other
   error is inconsistent), or when the probe got an empty answer and the control no address;
   else inconsistent;
4. the probe got addresses and the control none (a "ghost": the resolver invented an answer for a
   name the control cannot resolve): inconsistent;
5. a bogon the control did not also get: inconsistent;
6. a shared address, then a shared non-zero ASN (from the answers and the control's ``ip_info``):
   consistent; else inconsistent.

A TLS handshake that validated a certificate for the host on an address does not change this key
(OONI's newer per-resolver analysis uses it; its verdict, like ours, does not): the cascade uses the
probe's own validated handshakes for one thing only, see ``wc.http.failure`` in docs/classification.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from censorwatch.analysis.web.addresses import canonical_ip
from censorwatch.analysis.web.control import Control
from censorwatch.analysis.web.facts import SYSTEM, Consistency, Lookup
from censorwatch.model import failures as F
from censorwatch.model.addresses import is_bogon
from censorwatch.model.observations import DNSQuery

#: Engine names of the resolver the user's applications use (``""``: old records name none).
SYSTEM_ENGINES = frozenset({"system", "getaddrinfo", "golang_net_resolver", "android", ""})
NXDOMAIN_LIKE = frozenset({F.DNS_NXDOMAIN, F.ANDROID_DNS_CACHE_NO_DATA})
_ADDRESS_TYPES = (None, "A", "AAAA")


def norm_host(h: str | None) -> str:
    return (h or "").strip().lower().rstrip(".")


def idna(host: str) -> str:
    """The ASCII (punycode) spelling of a host name, as resolvers see it."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def resolver_of(engine: str | None) -> str:
    e = (engine or "").lower()
    return SYSTEM if e in SYSTEM_ENGINES else e


def gather(queries: Iterable[DNSQuery], names: frozenset[str], domain: str,
           asn: dict[str, int]) -> list[Lookup]:
    """One ``Lookup`` per (resolver, host, depth), its queries merged; fills ``asn`` from the answers.

    A query without a hostname (old records) is a lookup of the URL's host. An AAAA "no answer" is
    no failure (most hosts have no IPv6 address). Untagged lookups of the URL's host are depth 0.
    """
    found: dict[tuple[str, str, int | None], tuple[Lookup, list[str]]] = {}
    for q in queries:
        host = q.hostname
        if host:
            host = host.lower().rstrip(".")
            if host in names:
                host = domain
        else:
            host = domain
        depth = q.depth
        if depth is None and host == domain:
            depth = 0
        engine = q.engine
        key = (SYSTEM if not engine or engine in SYSTEM_ENGINES else resolver_of(engine), host, depth)
        entry = found.get(key)
        if entry is None:
            entry = found[key] = (Lookup(key[0], host, depth), [])
        lookup, fails = entry
        addrs = lookup.addrs
        got = False
        for a in q.answers:
            ip = a.ipv4 or a.ipv6
            if ip and a.answer_type in _ADDRESS_TYPES:
                ip = canonical_ip(ip)
                got = True
                if ip not in addrs:
                    addrs.append(ip)
                if a.asn:
                    asn[ip] = a.asn
        if q.failure is not None:
            if not (q.query_type == "AAAA" and q.failure == F.DNS_NO_ANSWER):
                fails.append(q.failure)
        elif not got and q.query_type != "AAAA":
            fails.append(F.DNS_NO_ANSWER)  # an answer with no address (a CNAME alone) is no answer
    out: list[Lookup] = []
    for lookup, fails in found.values():
        if not lookup.addrs:
            nx = [f for f in fails if f in NXDOMAIN_LIKE]
            lookup.failure = nx[0] if nx else (fails[0] if fails else F.DNS_NO_ANSWER)
        out.append(lookup)
    return out


def consistency(system: Lookup | None, control: Control, asn: dict[str, int], bogons: list[str],
                *, ip_literal: bool) -> tuple[Consistency | None, str]:
    """``(dns_consistency, reason)`` (module doc)."""
    if ip_literal:
        return "consistent", "ip_literal"
    if system is None:
        return None, "not_resolved"
    if not control.dns_present:
        return None, "no_control_dns"
    theirs = control.dns_outcome()
    if system.failure is not None:
        if theirs:  # the control failed too
            if system.failure in NXDOMAIN_LIKE and theirs not in NXDOMAIN_LIKE:
                return "inconsistent", "nxdomain_probe_only"
            return "consistent", "both_failed"
        if system.failure == F.DNS_NO_ANSWER and not control.dns_ips:
            return "consistent", "both_empty"
        return "inconsistent", "probe_failed"
    th = control.dns_ips
    if theirs or not th:
        return "inconsistent", "control_no_address"
    if bogons:
        return "inconsistent", "bogon"
    theirs_set = set(th)
    if any(a in theirs_set for a in system.addrs):
        return "consistent", "ip_overlap"
    mine_asns = {asn.get(a) or control.asn_of(a) for a in system.addrs} - {0}
    if mine_asns:
        for a in th:
            n = asn.get(a) or control.asn_of(a)
            if n and n in mine_asns:
                return "consistent", "asn_overlap"
    return "inconsistent", "no_overlap"


def bogons_of(system: Lookup | None, control: Control, *, lab: bool) -> list[str]:
    """The system resolver's non-public answers that the control did not also get."""
    if system is None or not system.addrs:
        return []
    theirs = control.dns_ips
    return [a for a in system.addrs if is_bogon(a, lab=lab) and a not in theirs]


def is_loopback(addr: str) -> bool:
    return addr.startswith("127.") or addr == "::1" or addr.startswith("::ffff:127.")


def resolvers_detail(system: Lookup | None, others: dict[str, Lookup], control: Control) -> dict[str, Any]:
    """What each resolver said about the URL's host, for ``details.resolvers``."""
    out: dict[str, Any] = {}
    for name, lk in ((SYSTEM, system), *others.items()):
        if lk is not None:
            out[name] = lk.addrs[:4] if lk.addrs else lk.failure
    theirs = control.dns_outcome()
    if theirs is not None:
        out["control"] = theirs or control.dns_ips[:4]
    return out
