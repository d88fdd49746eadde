"""Helpers shared by the non-web tests: per-host failures read from the raw observations."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from censorwatch.analysis.wording import say
from censorwatch.model import failures as F
from censorwatch.model.addresses import is_bogon
from censorwatch.model.observations import Observations

#: Mechanism names for a failure at each step.
_STEP_METHOD = {
    ("tcp", F.GENERIC_TIMEOUT): "tcp.timeout", ("tcp", F.CONNECTION_REFUSED): "tcp.refused",
    ("tcp", F.CONNECTION_RESET): "tcp.reset",
    ("tls", F.CONNECTION_RESET): "tls.reset", ("tls", F.GENERIC_TIMEOUT): "tls.timeout", ("tls", F.EOF_ERROR): "tls.eof",
    ("tls", F.SSL_INVALID_HOSTNAME): "tls.mitm", ("tls", F.SSL_UNKNOWN_AUTHORITY): "tls.mitm",
    ("tls", F.SSL_INVALID_CERTIFICATE): "tls.mitm",
    ("http", F.CONNECTION_RESET): "http.reset", ("http", F.GENERIC_TIMEOUT): "http.timeout",
    ("http", F.EOF_ERROR): "http.eof",
}


def method_for(step: str, failure: str | None) -> str:
    if step == "dns":
        return "dns.nxdomain" if failure in (F.DNS_NXDOMAIN, F.ANDROID_DNS_CACHE_NO_DATA) else (
            "dns.bogon" if failure == "bogon" else "dns.failure")
    return _STEP_METHOD.get((step, failure or ""), f"{step}.failure")


def host_of(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""


@dataclass(slots=True)
class Problem:
    step: str  # dns | tcp | tls | http
    target: str
    failure: str

    @property
    def method(self) -> str:
        return method_for(self.step, self.failure)

    def words(self) -> str:
        return f"{self.step.upper()} to {self.target} failed ({say(self.failure)})"


@dataclass(slots=True)
class Outcomes:
    problems: list[Problem] = field(default_factory=list)
    ok_steps: int = 0

    def first(self) -> Problem | None:
        """The earliest step that failed (DNS before TCP before TLS before HTTP)."""
        order = {"dns": 0, "tcp": 1, "tls": 2, "http": 3}
        return min(self.problems, key=lambda p: order[p.step]) if self.problems else None


def scan(obs: Observations, *, expected_bogons: frozenset[str] = frozenset(),
         ignore_hosts: frozenset[str] = frozenset(), lab: bool = False) -> Outcomes:
    """Every failed step, with the host/endpoint it concerned. AAAA "no answer" is not a failure."""
    out = Outcomes()
    for q in obs.queries:
        host = (q.hostname or "").lower()
        if host in ignore_hosts:
            continue
        if q.failure and not (q.query_type == "AAAA" and q.failure == F.DNS_NO_ANSWER):
            out.problems.append(Problem("dns", host, q.failure))
            continue
        bogons = [a for a in q.addresses if is_bogon(a, lab=lab)]
        if bogons and host not in expected_bogons:
            out.problems.append(Problem("dns", host, "bogon"))
        elif q.answers:
            out.ok_steps += 1
    for t in obs.tcp_connect:
        if t.failure:
            out.problems.append(Problem("tcp", t.endpoint, t.failure))
        else:
            out.ok_steps += 1
    for h in obs.tls_handshakes:
        if (h.server_name or "").lower() in ignore_hosts:
            continue
        if h.failure:
            out.problems.append(Problem("tls", h.server_name or h.address or "?", h.failure))
        else:
            out.ok_steps += 1
    seen_tls = {(p.target) for p in out.problems if p.step == "tls"}
    for r in obs.requests:
        host = host_of(r.url)
        if host in ignore_hosts:
            continue
        if r.failure:
            if host in seen_tls or r.failure in F.DNS_FAILURES:
                continue  # already counted at the step that failed
            out.problems.append(Problem("http", r.url or host or "?", r.failure))
        else:
            out.ok_steps += 1
    return out
