"""The user's connections, grouped along the redirect chain, and the step that decides.

Two shapes of data reach here:

- *tagged* (Web Connectivity 0.5, censorwatch's probe): every step carries ``depth=N`` and a
  ``transaction_id`` that ties a TCP connect to its TLS handshake and HTTP round trip; connections
  tagged ``fetch_body=false`` only checked connectivity;
- *untagged* (Web Connectivity 0.4 and older): ``tcp_connect``/``tls_handshakes`` are connectivity
  checks of the URL's addresses and ``requests`` is the redirect chain, newest first, with no link to
  a connection. The chain's hops are its requests; a request whose connection never came up (no TCP
  connect, or no TLS handshake for an https URL, worked) is not a round trip: the connects decide.

``decide`` walks the hops from the deepest and, within a hop, takes the first of: a final response
(2xx/4xx/5xx; for untagged data the last response of the chain), an HTTP failure, a TLS failure, a
TCP failure, a DNS failure, a DNS answer of loopback addresses only. Among several failures of one
kind the alphabetically first wins (OONI's order, so both analyses name the same failure).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from censorwatch.analysis.netaddr import parse_ip, split_endpoint
from censorwatch.analysis.web.addresses import canonical_ip
from censorwatch.analysis.web.facts import OK, Attempt, Hop, Lookup, Step
from censorwatch.analysis.web.resolvers import NXDOMAIN_LIKE, idna, is_loopback, norm_host
from censorwatch.model import failures as F
from censorwatch.model.observations import HTTPRequest, Observations

_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
UNKNOWN_FAILURE = F.unknown("no failure recorded")


@lru_cache(maxsize=4096)
def url_host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return idna(norm_host(urlsplit(url).hostname))
    except ValueError:
        return ""


@lru_cache(maxsize=4096)
def url_port(url: str | None) -> int | None:
    try:
        u = urlsplit(url or "")
        return u.port or {"http": 80, "https": 443}.get(u.scheme.lower())
    except ValueError:
        return None


def is_https(url: str | None) -> bool:
    return bool(url) and url[:6].lower() == "https:"  # type: ignore[index]


def attempts_of(obs: Observations, *, tagged: bool, system_addrs: set[str],
                elsewhere: set[str]) -> tuple[list[Attempt], dict[int, Attempt]]:
    """One ``Attempt`` per TCP connect, with the TLS handshake (and for tagged data the HTTP round
    trip) of the same connection attached. Untagged data has no other origin for an address than the
    system resolver: every attempt is the user's."""
    out: list[Attempt] = []
    by_tid: dict[int, Attempt] = {}
    for t in obs.tcp_connect:
        ip = canonical_ip(t.ip or "")
        a = Attempt(ip, t.port, t.depth, t.transaction_id,
                    classic=not tagged or ip in system_addrs or ip not in elsewhere,
                    fetch=t.fetch_body,
                    tcp=OK if t.success else (t.failure or UNKNOWN_FAILURE))
        out.append(a)
        if a.tid is not None and a.tid not in by_tid:
            by_tid[a.tid] = a
    for h in obs.tls_handshakes:
        owner = by_tid.get(h.transaction_id) if h.transaction_id is not None else None
        if owner is None or owner.tls is not None:
            ip, port = split_endpoint(h.address or "")
            ip = canonical_ip(ip)
            owner = None
            for x in out:
                if x.tls is None and x.ip == ip and x.port == port:
                    owner = x
                    break
            if owner is None:
                owner = Attempt(ip, port, h.depth, h.transaction_id,
                                classic=not tagged or ip in system_addrs or ip not in elsewhere)
                out.append(owner)
        sni = h.server_name
        owner.tls = OK if h.failure is None else h.failure
        owner.sni = sni.lower().rstrip(".") if sni else None
        owner.verified = not h.no_tls_verify
    if tagged:
        for r in obs.requests:
            fetcher = by_tid.get(r.transaction_id) if r.transaction_id is not None else None
            if fetcher is not None and fetcher.http is None:
                fetcher.http = r
    return out, by_tid


def tagged_hops(attempts: list[Attempt], lookups: list[Lookup], domain: str, url: str) -> list[Hop]:
    """Hops by ``depth`` tag: the user's fetching connections and the system resolver's lookups."""
    hops: dict[int, Hop] = {}

    def hop(depth: int | None, host: str) -> Hop:
        d = -1 if depth is None else depth  # an untagged step of tagged data is judged last, as OONI does
        h = hops.get(d)
        if h is None:
            h = hops[d] = Hop(d, host)
        return h

    for lk in lookups:
        if lk.resolver == "system":
            h = hop(lk.depth, lk.host)
            if h.lookup is None or (h.lookup.failure is None and lk.failure is not None):
                h.lookup = lk
    for a in attempts:
        if a.classic and a.fetch is not False:
            h = hop(a.depth, a.sni or "")
            h.attempts.append(a)
            if a.http is not None and a.http.url:
                h.url = a.http.url
    for h in hops.values():
        if not h.url and h.depth == 0:
            h.url = url
        if h.url:
            h.host = url_host(h.url) or h.host
        elif h.lookup is not None:
            h.host = h.lookup.host
        if not h.host and h.depth == 0:
            h.host = domain
    return [hops[d] for d in sorted(hops)]


def untagged_hops(obs: Observations, attempts: list[Attempt], lookups: list[Lookup], domain: str,
                  url: str, system: Lookup | None, legacy_http_failure: str | None) -> list[Hop]:
    """Hops from the request chain (oldest first); hop 0 owns the connectivity checks of the URL."""
    chain = list(reversed(obs.requests))
    if not chain and legacy_http_failure is not None:
        chain = [HTTPRequest(url=url, failure=legacy_http_failure)]
    port0 = url_port(url)
    wanted = set(system.addrs) if system is not None else set()
    first = [a for a in attempts if a.port == port0 and (not wanted or a.ip in wanted)] or list(attempts)
    taken = {id(a) for a in first}
    by_host: dict[str, Lookup] = {}
    for lk in lookups:
        if lk.resolver == "system" and lk.host not in by_host:
            by_host[lk.host] = lk
    if chain and url_host(chain[0].url) not in ("", domain):
        # the chain starts at a redirect target (old probes kept only the failing request): the URL
        # itself is hop 0, with its connectivity checks and no request
        hops = [Hop(0, domain, url, system, first, None)]
        rest = chain
    else:
        hops = [Hop(0, domain, url, system, first, chain[0] if chain else None)]
        rest = chain[1:]
    for r in rest:
        host = url_host(r.url)
        hop_lookup = by_host.get(host)
        port = url_port(r.url)
        addrs = set(hop_lookup.addrs) if hop_lookup is not None else set()
        mine = [a for a in attempts if id(a) not in taken and (
            (r.transaction_id is not None and a.tid == r.transaction_id) or (a.port == port and a.ip in addrs))]
        taken.update(id(a) for a in mine)
        hops.append(Hop(len(hops), host, r.url, hop_lookup, mine, r))
    return hops


def _final(code: int | None) -> bool:
    return bool(code) and code not in _REDIRECT_CODES  # type: ignore[operator]


def _first(cands: list[tuple[str, int, Attempt | None, HTTPRequest | None]]) -> tuple[str, Attempt | None,
                                                                                     HTTPRequest | None]:
    cands.sort(key=lambda c: (c[0], -c[1]))
    f, _, a, r = cands[0]
    return f, a, r


def _hop_step(hop: Hop, *, last: bool, tagged: bool) -> Step | None:
    # 1. a final response
    for a in hop.attempts:
        r = a.http
        if r is not None and r.failure is None and r.response is not None and _final(r.response.code):
            return Step("final", hop, attempt=a, request=r, over_tls=a.tls == OK and a.verified)
    r = hop.request
    secure = is_https(hop.url)
    if r is not None and r.failure is None and r.response is not None and (last or _final(r.response.code)):
        return Step("final", hop, request=r, over_tls=secure)
    tcp_seen = [a.tcp for a in hop.attempts if a.tcp is not None]
    tls_seen = [a.tls for a in hop.attempts if a.tls is not None]
    connected = not tcp_seen or OK in tcp_seen
    secured = not secure or not tls_seen or OK in tls_seen
    # 2. HTTP failures
    cands: list[tuple[str, int, Attempt | None, HTTPRequest | None]] = []
    for a in hop.attempts:
        if a.http is not None and a.http.failure is not None:
            cands.append((a.http.failure, a.tid or 0, a, a.http))
    dns_failure: str | None = None
    if r is not None and r.failure is not None:
        if r.failure in F.DNS_FAILURES:
            dns_failure = r.failure
        elif connected and secured:
            cands.append((r.failure, 0, None, r))
    if cands:
        f, which, req = _first(cands)
        return Step("http", hop, failure=f, attempt=which, request=req)
    # 3. TLS failures, 4. TCP failures
    for stage in ("tls", "tcp"):
        for a in hop.attempts:
            got = a.tls if stage == "tls" else a.tcp
            if got and (stage == "tcp" or a.http is None):
                cands.append((got, a.tid or 0, a, None))
        if cands:
            f, which, _ = _first(cands)
            return Step(stage, hop, failure=f, attempt=which, request=r)  # type: ignore[arg-type]
    # 5. DNS
    found = hop.lookup
    if found is not None and found.failure is not None:
        return Step("dns", hop, failure=found.failure)
    if dns_failure is not None:
        return Step("dns", hop, failure=dns_failure, request=r)
    # 6. loopback answers (probes do not connect to them)
    if found is not None and found.addrs and all(is_loopback(x) for x in found.addrs):
        return Step("loopback", hop)
    return None


def decide(hops: list[Hop], *, tagged: bool) -> Step | None:
    last = len(hops) - 1
    for i in range(last, -1, -1):
        step = _hop_step(hops[i], last=i == last, tagged=tagged)
        if step is not None:
            return step
    return None


def nxdomain_like(failure: str | None) -> bool:
    return failure in NXDOMAIN_LIKE


def only_ipv6_unreachable(attempts: list[Attempt]) -> bool:
    """Every connect failed as unreachable, all to IPv6 addresses: a network without IPv6 routing."""
    tried = [a for a in attempts if a.tcp is not None]
    return bool(tried) and all(
        a.tcp in (F.NETWORK_UNREACHABLE, F.HOST_UNREACHABLE) and (parse_ip(a.ip) or (0, 0))[0] == 6 for a in tried)
