"""What the test helper measures for one request, with the probe's own network steps.

It resolves the URL's host through its configured resolver (DoH by default, or UDP), connects to the
union of the probe's endpoints and its own addresses, handshakes TLS on each for https, and fetches
the URL (redirects followed, every hop checked against the address policy). Outside lab mode it
never connects to a private, loopback, link-local, multicast or reserved address (SSRF): such
endpoints are listed in ``x_refused`` instead of being reached.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from censorwatch.control.asnmap import ASNMap
from censorwatch.control.protocol import THRequest
from censorwatch.model import failures as F
from censorwatch.model.addresses import AddressPolicy, is_bogon
from censorwatch.probe import dns, http, tcp, tls
from censorwatch.probe.timeouts import Timeouts
from censorwatch.probe.trace import Trace

DEFAULT_DOH_URL = "https://1.1.1.1/dns-query"
DNS_CACHE_SIZE = 10_000
DNS_CACHE_SECONDS = 60.0
BODY_CAP = 4 * 1024 * 1024
_TITLE = re.compile(r"<title[^>]*>([^<]{1,128})</title>", re.IGNORECASE)

FLAG_PROBE, FLAG_TH, FLAG_BOGON, FLAG_VALID_TLS = 1, 2, 4, 8


@dataclass
class HelperConfig:
    lab: bool = False
    #: UDP resolver "ip[:port]"; when None the DoH URL is used
    resolver: str | None = None
    doh_url: str | None = DEFAULT_DOH_URL
    ca_files: list[Path] = field(default_factory=list)
    trust_system: bool = True
    timeouts: Timeouts = field(default_factory=lambda: Timeouts(dns=4, tcp=10, tls=10, http_headers=10,
                                                                 http_body=10, control=30))
    body_cap: int = BODY_CAP
    asn_map: ASNMap | None = None


def map_dns_failure(failure: str | None) -> str | None:
    """The helper protocol's DNS spellings: NXDOMAIN is ``dns_name_error``, no answer is success."""
    if failure is None or failure == F.DNS_NO_ANSWER:
        return None
    if failure == F.DNS_NXDOMAIN:
        return "dns_name_error"
    return "dns_server_failure"


class Helper:
    def __init__(self, cfg: HelperConfig) -> None:
        if cfg.resolver is None and cfg.doh_url is None:
            raise ValueError("the control server needs a resolver: --resolver or --doh-url")
        self.cfg = cfg
        trust = tls.TrustStore(tuple(cfg.ca_files), system=cfg.trust_system)
        trust.store()
        # lab mode: the closed lab world (and loopback for tests) may be reached; never link-local etc.
        self.policy = AddressPolicy(lab=cfg.lab, allow_loopback=cfg.lab, allow_private=cfg.lab)
        self.settings = http.HTTPSettings(timeouts=cfg.timeouts, policy=self.policy, trust=trust,
                                          body_cap=cfg.body_cap)
        self.udp = dns.split_hostport(cfg.resolver) if cfg.resolver else None
        self._dns_cache: dict[str, tuple[tuple[str, ...], float]] = {}
        self.doh = None
        if self.udp is None and cfg.doh_url is not None:
            own = http.HTTPSettings(timeouts=cfg.timeouts, trust=trust,
                                    policy=AddressPolicy(lab=cfg.lab, allow_loopback=True, allow_private=True))
            self.doh = dns.DoHClient(cfg.doh_url, own)

    async def resolve(self, trace: Trace, host: str) -> tuple[list[str], str | None]:
        """The helper's view of ``host``; successful answers are cached for their TTL (at most a
        minute), as the caching resolver in front of any real test helper would."""
        if dns._is_ip(host):
            return [host], None
        now = time.monotonic()
        hit = self._dns_cache.get(host)
        if hit is not None and hit[1] > now:
            return list(hit[0]), None
        queries, addrs, failure = await dns.lookup(trace, host, timeout=self.cfg.timeouts.dns,
                                                   server=self.udp, doh=self.doh)
        if failure is None and addrs:
            ttls = [a.get("ttl") or 0 for q in queries for a in q["answers"]]
            ttl = min([t for t in ttls if t > 0] or [0])
            if ttl > 0:
                if len(self._dns_cache) >= DNS_CACHE_SIZE:
                    self._dns_cache.clear()
                self._dns_cache[host] = (tuple(addrs), now + min(ttl, DNS_CACHE_SECONDS))
        return addrs, failure

    async def measure(self, req: THRequest) -> dict[str, Any]:
        trace = Trace(record=False)  # the helper keeps no events: nobody reads them
        addrs, dns_failure = await self.resolve(trace, req.host)
        endpoints: list[tuple[str, int]] = list(dict.fromkeys(
            [*req.endpoints, *((a, req.port) for a in addrs)]))
        tcp_out: dict[str, Any] = {}
        tls_out: dict[str, Any] = {}
        refused: dict[str, str] = {}
        valid_tls: set[str] = set()

        own = {tcp.endpoint(a, req.port) for a in addrs}
        usable: dict[str, tcp.Conn] = {}  # the helper's own endpoints that connected (and validated)
        first_failure: dict[str, str] = {}

        async def one(ip: str, port: int) -> None:
            ep = tcp.endpoint(ip, port)
            why = self.policy.refusal(ip)
            if why is not None:
                refused[ep] = why
                return
            entry, conn = await tcp.connect(trace, ip, port, timeout=self.cfg.timeouts.tcp, policy=self.policy)
            tcp_out[ep] = {"status": conn is not None, "failure": entry["status"]["failure"]}
            if conn is None:
                first_failure.setdefault(ep, entry["status"]["failure"])
                return
            keep = False
            try:
                if req.scheme == "https":
                    hs = await tls.handshake(conn, req.host, timeout=self.cfg.timeouts.tls,
                                             trust=self.settings.trust)
                    tls_out[ep] = {"server_name": req.host, "status": hs["failure"] is None,
                                   "failure": hs["failure"]}
                    if hs["failure"] is None:
                        valid_tls.add(ip)
                    else:
                        first_failure.setdefault(ep, hs["failure"])
                        return
                if ep in own:
                    usable[ep] = conn
                    keep = True
            finally:
                if not keep:
                    await conn.close()

        known = {req.host: (addrs, dns_failure)}

        async def resolve(name: str) -> tuple[list[str], str | None]:
            if name not in known:
                known[name] = await self.resolve(trace, name)
            return known[name]

        headers = tuple(req.headers) if req.headers else self.settings.headers
        settings = http.HTTPSettings(timeouts=self.settings.timeouts, policy=self.policy,
                                     trust=self.settings.trust, body_cap=self.cfg.body_cap, headers=headers)
        try:
            async with asyncio.TaskGroup() as tg:
                for ip, port in endpoints:
                    tg.create_task(one(ip, port))
            # fetch on the first of the helper's own addresses that worked: its view, not the probe's
            first_ep = next((tcp.endpoint(a, req.port) for a in addrs if tcp.endpoint(a, req.port) in usable), None)
            first = usable.pop(first_ep) if first_ep else None
            tried = [tcp.endpoint(a, req.port) for a in addrs if tcp.endpoint(a, req.port) in first_failure]
            if first is None and tried:
                # every address already failed: say how, without trying them all again
                res = http.FetchResult(failure=first_failure[tried[0]])
            else:
                res = await http.get(req.url, trace=trace, resolve=resolve, settings=settings, first_conn=first)
        finally:
            for c in usable.values():
                await c.close()
        return {
            "tcp_connect": tcp_out,
            "tls_handshake": tls_out,
            "quic_handshake": {},
            "http_request": _http_summary(res),
            "http3_request": None,
            "dns": {"addrs": addrs, "failure": map_dns_failure(dns_failure)},
            "ip_info": self._ip_info(req, addrs, valid_tls),
            "x_refused": refused,
        }

    def _ip_info(self, req: THRequest, addrs: list[str], valid_tls: set[str]) -> dict[str, Any]:
        info: dict[str, Any] = {}
        probe_ips = {ip for ip, _ in req.endpoints}
        for ip in dict.fromkeys([*probe_ips, *addrs]):
            flags = (FLAG_PROBE if ip in probe_ips else 0) | (FLAG_TH if ip in addrs else 0)
            if is_bogon(ip, lab=self.cfg.lab):
                flags |= FLAG_BOGON
            if ip in valid_tls:
                flags |= FLAG_VALID_TLS
            asinfo = self.cfg.asn_map.lookup(ip) if self.cfg.asn_map else None
            info[ip] = {"asn": asinfo.asn if asinfo else 0, "flags": flags}
        return info


def _http_summary(res: http.FetchResult) -> dict[str, Any]:
    resp = res.response
    if res.failure is not None or resp is None:
        return {"body_length": -1, "discovered_h3_endpoint": "", "failure": res.failure or F.GENERIC_TIMEOUT,
                "title": "", "headers": {}, "status_code": -1}
    text = resp.body.decode("utf-8", "replace")
    m = _TITLE.search(text)
    headers: dict[str, str] = {}
    for k, v in resp.headers_list:
        headers.setdefault(k, v)
    return {
        "body_length": len(resp.body),
        "discovered_h3_endpoint": "",
        "failure": None,
        "title": html.unescape(m.group(1)).strip() if m else "",
        "headers": headers,
        "status_code": resp.code,
    }
