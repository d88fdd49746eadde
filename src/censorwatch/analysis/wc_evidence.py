"""The evidence Web Connectivity's rules look at: page comparisons, failures and where they happened,
the mechanism names, and the words used in explanations."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from censorwatch.analysis import http_compare as hc
from censorwatch.analysis.control import Control
from censorwatch.analysis.dns_consistency import DNSView
from censorwatch.analysis.fingerprints import FingerprintRule
from censorwatch.analysis.netaddr import canonical_ip
from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.addresses import is_bogon
from censorwatch.model.observations import HTTPRequest, Observations, TCPConnect

#: Probe HTTP failures OONI treats as interference (rule 6).
BLOCKING_HTTP_FAILURES = frozenset(
    {F.CONNECTION_REFUSED, F.CONNECTION_RESET, F.EOF_ERROR, F.GENERIC_TIMEOUT}
) | F.TLS_FAILURES
TLS_METHOD = {
    F.CONNECTION_RESET: "tls.reset", F.GENERIC_TIMEOUT: "tls.timeout", F.EOF_ERROR: "tls.eof",
    F.SSL_INVALID_HOSTNAME: "tls.mitm", F.SSL_UNKNOWN_AUTHORITY: "tls.mitm",
    F.SSL_INVALID_CERTIFICATE: "tls.mitm", F.CONNECTION_REFUSED: "tcp.refused",
}
HTTP_METHOD = {
    F.CONNECTION_RESET: "http.reset", F.GENERIC_TIMEOUT: "http.timeout", F.EOF_ERROR: "http.eof",
    F.CONNECTION_REFUSED: "tcp.refused",
}
TCP_METHOD = {F.GENERIC_TIMEOUT: "tcp.timeout", F.CONNECTION_REFUSED: "tcp.refused", F.CONNECTION_RESET: "tcp.reset"}
PLAIN = {
    F.CONNECTION_RESET: "the connection was reset", F.GENERIC_TIMEOUT: "the connection timed out",
    F.EOF_ERROR: "the connection was cut", F.CONNECTION_REFUSED: "the connection was refused",
    F.SSL_INVALID_HOSTNAME: "a certificate for another name was presented",
    F.SSL_UNKNOWN_AUTHORITY: "a certificate from an unknown authority was presented",
    F.SSL_INVALID_CERTIFICATE: "an invalid certificate was presented",
    F.SSL_FAILED_HANDSHAKE: "the secure (TLS) handshake failed",
}
UNREACHABLE = frozenset({F.NETWORK_UNREACHABLE, F.HOST_UNREACHABLE})


def url_host(url: str | None) -> str:
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


def plain_failure(failure: str | None) -> str:
    return PLAIN.get(failure or "", f"it failed ({say(failure)})")


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


def best_match(hits: list[tuple[FingerprintRule, str]], cc: str) -> tuple[FingerprintRule, str] | None:
    if not hits:
        return None
    return sorted(hits, key=lambda h: (not h[0].confirms(cc), -(h[0].confidence or 0)))[0]


def tls_failure_for(obs: Observations, host: str) -> tuple[str | None, bool]:
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


def tcp_failure(obs: Observations) -> str | None:
    fails = [t.failure for t in obs.tcp_connect if t.failure]
    for pref in (F.CONNECTION_RESET, F.CONNECTION_REFUSED, F.GENERIC_TIMEOUT):
        if pref in fails:
            return pref
    return fails[0] if fails else None


def private_redirect(req: HTTPRequest, lab: bool) -> str | None:
    """The Location of a redirect that points at a non-public IP literal (a local filter's portal)."""
    if req.response is None or not req.response.code or req.response.code // 100 != 3:
        return None
    loc = req.response.header("location") or ""
    host = url_host(loc)
    return loc if host and is_bogon(host, lab=lab) else None


def connects_for_url(obs: Observations, url: str | None, addrs: list[str]) -> list[TCPConnect]:
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


def dns_method(dns: DNSView) -> str:
    if dns.bogons:
        return "dns.bogon"
    if dns.probe_nxdomain:
        return "dns.nxdomain"
    if dns.probe_failure:
        return "dns.failure"
    return "dns.injection"


def dns_words(domain: str, dns: DNSView) -> str:
    if dns.bogons:
        return f"the probe's DNS answer for {domain} was a non-public address ({dns.bogons[0]})"
    if dns.probe_failure:
        return f"the probe's DNS lookup of {domain} failed ({say(dns.probe_failure)}) while the control's worked"
    return f"the probe's DNS answer for {domain} shares no address or network with the control's"
