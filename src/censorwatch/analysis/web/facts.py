"""What one Web Connectivity measurement shows, before any rule judges it.

``WebFacts`` is built once per measurement from the raw observations (``build`` in
``analysis/web/observe.py``) and read by the rule cascade (``analysis/web/cascade.py``). It separates
what the *user's own path* saw from what only proves something about the site:

- per resolver, what each lookup of the URL's host returned (``system``: the resolver the user's
  applications use, OONI's ``getaddrinfo``; ``udp``/``doh``: comparison resolvers; the control's own
  lookup is in ``control``). Only the system resolver's answer is what the user gets;
- every connection attempt (TCP, then TLS, then HTTP on the same connection), marked ``classic`` when
  its address came from the system resolver (or from no resolver at all: an IP-literal URL) and
  grouped into ``hops`` along the redirect chain (``depth`` 0 is the URL itself). A connect or TLS
  handshake that worked on an address only another resolver or the control returned proves the site
  is up (``up_elsewhere``), not that the user can reach it;
- ``step``: the observation that decides, found as OONI's analysis finds it (the deepest hop first;
  within a hop a final response, then HTTP, TLS, TCP and DNS failures), with what the control saw at
  the same step.

Step outcomes use one convention throughout: ``None`` not recorded, ``""`` (``OK``) it worked, any
other string the canonical failure. Everything here is plain strings, ints and lists: cheap to build
and to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from censorwatch.analysis.web.control import Control
from censorwatch.model.observations import HTTPRequest, HTTPResponse

OK: Final = ""
SYSTEM: Final = "system"

Stage = Literal["final", "http", "tls", "tcp", "dns", "loopback"]
Consistency = Literal["consistent", "inconsistent"]


@dataclass(slots=True)
class Lookup:
    """One resolver's answer for one host at one depth (its A/AAAA/ANY queries merged)."""

    resolver: str
    host: str
    depth: int | None
    addrs: list[str] = field(default_factory=list)
    #: ``None`` when addresses came back; else the failure (``dns_no_answer`` for an empty answer)
    failure: str | None = None


class Attempt:
    """One connection: TCP, then TLS (https), then an HTTP round trip on it.

    A plain class (one is made per recorded connect): the steps not reached keep the class defaults.
    """

    #: the TLS handshake's outcome, its server name, and whether the probe verified the certificate
    tls: str | None = None
    sni: str | None = None
    verified: bool = True
    #: the HTTP round trip on this connection (tagged data ties a request to its connect)
    http: HTTPRequest | None = None

    def __init__(self, ip: str, port: int | None, depth: int | None, tid: int | None, *, classic: bool = True,
                 fetch: bool | None = None, tcp: str | None = None) -> None:
        self.ip = ip
        self.port = port
        self.depth = depth
        self.tid = tid
        #: on the user's own path: the address came from the system resolver or from no resolver
        self.classic = classic
        #: meant to fetch the page (OONI's ``fetch_body`` tag); False for a connectivity check
        self.fetch = fetch
        self.tcp = tcp


@dataclass(slots=True)
class Hop:
    """One URL of the redirect chain: its system lookup and the user's connections for it."""

    depth: int
    host: str
    url: str | None = None
    lookup: Lookup | None = None
    attempts: list[Attempt] = field(default_factory=list)
    #: the fetch of this URL, for probes that do not tie a request to its connection (no tags)
    request: HTTPRequest | None = None


@dataclass(slots=True)
class Step:
    """The observation that decides, and what the control saw at the same step."""

    stage: Stage
    hop: Hop
    failure: str | None = None
    attempt: Attempt | None = None
    request: HTTPRequest | None = None
    #: the final response came over a TLS session that validated the certificate
    over_tls: bool = False
    #: the control at this step: ``None`` no record, ``""`` it worked, else its failure
    control: str | None = None

    @property
    def response(self) -> HTTPResponse | None:
        return self.request.response if self.request is not None else None

    @property
    def url(self) -> str:
        if self.request is not None and self.request.url:
            return self.request.url
        return self.hop.url or self.hop.host


@dataclass(slots=True)
class WebFacts:
    url: str
    domain: str
    scheme: str
    port: int | None
    lab: bool
    control: Control
    #: the reason the control could not be asked (``test_keys.control_failure``), else None
    control_failure: str | None
    #: the steps carry OONI's ``depth=N`` tags (Web Connectivity 0.5 and censorwatch's probe)
    tagged: bool
    #: the URL's host is an IP address: nothing was resolved
    ip_literal: bool
    #: the system resolver's answer for the URL's host (depth 0); None when no lookup was recorded
    system: Lookup | None
    #: the comparison resolvers' answers for the URL's host (depth 0), by resolver name
    others: dict[str, Lookup]
    hops: list[Hop]
    step: Step | None
    dns_consistency: Consistency | None
    #: which check decided ``dns_consistency`` (``ip_overlap``, ``asn_overlap``, ``bogon``, ...)
    dns_reason: str
    #: system-resolver addresses that are not public (and the control did not get)
    bogons: list[str]
    #: the control resolved no address for the host while the system resolver invented some
    ghost: bool
    #: every connection the probe made, the user's and the checks of other resolvers' addresses
    attempts: list[Attempt]
    #: the recorded requests (newest first), for data whose requests are not tied to a connection
    requests: list[HTTPRequest]
    _validated: list[str] | None = None
    _responses: list[HTTPRequest] | None = None

    @property
    def validated(self) -> list[str]:
        """System-resolver addresses on which the probe's own verified TLS handshake for the host worked."""
        if self._validated is None:
            wanted = self.system.addrs if self.system is not None else ()
            host = self.domain
            self._validated = out = []
            for a in self.attempts:
                if a.tls == OK and a.verified and a.sni == host and a.ip in wanted and a.ip not in out:
                    out.append(a.ip)
        return self._validated

    @property
    def up_elsewhere(self) -> bool:
        """A connection to an address only another resolver or the control gave worked (TLS or HTTP)."""
        return any(not a.classic and (a.tls == OK or (a.http is not None and a.http.failure is None))
                   for a in self.attempts)

    @property
    def responses(self) -> list[HTTPRequest]:
        """Every response of the user's redirect chain, newest first."""
        if self._responses is None:
            if self.tagged:
                self._responses = [a.http for h in reversed(self.hops) for a in h.attempts
                                   if a.http is not None and a.http.response is not None]
            else:
                self._responses = [r for r in self.requests if r.response is not None]
        return self._responses

    @property
    def control_present(self) -> bool:
        return self.control_failure is None and self.control.present

    @property
    def final_host(self) -> str:
        return self.step.hop.host if self.step is not None else ""
