"""Zones of the lab's resolvers and the answers they give (pure; dnspython wire format)."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from censorwatch.lab import addresses as A
from censorwatch.lab.scenario import ZoneChanges
from censorwatch.lab.world import World, lookup

TTL = 60
Zone = dict[str, list[str]]


def resolve_alias(value: str, aliases: dict[str, str], network: int | None) -> str:
    if value == "@isp_proxy":
        if network is None:
            raise ValueError("@isp_proxy has no address outside an ISP network")
        return A.isp_proxy(network)
    return aliases.get(value, value)


def apply(zone: Zone, changes: ZoneChanges, aliases: dict[str, str], network: int | None) -> Zone:
    out = dict(zone)
    for name in changes.remove:
        out.pop(name, None)
        if not name.startswith("*."):
            out[name] = ["!nx"]  # shadow a wildcard too
    for name, answers in changes.add.items():
        out[name] = [resolve_alias(a, aliases, network) for a in answers]
    return out


def effective_zone(world: World, everywhere: ZoneChanges, own: ZoneChanges | None, network: int | None) -> Zone:
    aliases = world.aliases()
    zone = apply(world.base_zone(), everywhere, aliases, None)
    if own is not None:
        zone = apply(zone, own, aliases, network)
    return zone


def _is_addr(s: str) -> bool:
    parts = s.split(".")
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def answer(zone: Zone, query: dns.message.Message) -> dns.message.Message:
    """Answer ``query`` from ``zone``: A records, CNAME chains, NODATA for other types, else NXDOMAIN."""
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.RA
    if not query.question:
        resp.set_rcode(dns.rcode.FORMERR)
        return resp
    q = query.question[0]
    name = q.name
    for _ in range(8):
        found = lookup(zone, name.to_text(omit_final_dot=True))
        if found is None or found == ["!nx"]:
            if not resp.answer:
                resp.set_rcode(dns.rcode.NXDOMAIN)
            return resp
        if found and not _is_addr(found[0]):  # CNAME
            target = dns.name.from_text(found[0])
            resp.answer.append(dns.rrset.from_text(name, TTL, "IN", "CNAME", target.to_text()))
            if q.rdtype == dns.rdatatype.CNAME:
                return resp
            name = target
            continue
        if q.rdtype == dns.rdatatype.A and found:
            resp.answer.append(dns.rrset.from_text_list(name, TTL, "IN", "A", found))
        return resp
    resp.set_rcode(dns.rcode.SERVFAIL)
    return resp


def spoof(query: dns.message.Message, addresses: list[str]) -> dns.message.Message:
    """An on-path censor's forged answer: the given A records, or NXDOMAIN for an empty list."""
    resp = dns.message.make_response(query)
    resp.flags |= dns.flags.RA
    if not query.question:
        return resp
    q = query.question[0]
    if not addresses:
        resp.set_rcode(dns.rcode.NXDOMAIN)
    elif q.rdtype == dns.rdatatype.A:
        resp.answer.append(dns.rrset.from_text_list(q.name, TTL, "IN", "A", addresses))
    return resp
