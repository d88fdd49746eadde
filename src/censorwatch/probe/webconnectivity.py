"""The Web Connectivity experiment (OONI semantics, Web Connectivity 0.5's shape) for one URL.

Steps: DNS through the system resolver and, in parallel, the comparison resolvers (UDP and DoH), all
in ``queries`` under their engine names (``system``, ``udp``, ``doh``); the control request (in
parallel with the rest) with every address any resolver gave; TCP connect to every address the system
resolver gave, TLS with SNI on each for https, then GET with redirects and a cookie jar, reusing the
first working connection for the first request; meanwhile a connectivity check (TCP, and TLS for
https) of the addresses only the comparison resolvers gave. Every step is tagged as OONI's probe tags
it: ``depth=N`` along the redirect chain, ``classic`` for the user's own path (the system resolver's
addresses), ``tcptls_experiment`` for the depth-0 checks, ``fetch_body=true|false``. Addresses the
probe may not connect to (loopback, link-local: ``AddressPolicy``) are not tried; they are listed in
``x_not_connected``. The summary keys (``blocking``, ``accessible``, ``*_match`` ...) are computed by
``censorwatch.analysis.classify`` on the finished measurement: one implementation of the rules for
the probe and the analyser.
"""

from __future__ import annotations

import asyncio
import ipaddress
import platform
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from censorwatch import __version__
from censorwatch.analysis import classify
from censorwatch.model import failures as F
from censorwatch.model.measurement import DATA_FORMAT_VERSION, Measurement, ooni_time
from censorwatch.probe import control_client, dns, http, tcp, tls
from censorwatch.probe.tcp import Conn
from censorwatch.probe.trace import Trace

TEST_NAME = "web_connectivity"
TEST_VERSION = "0.5.0"
#: the most addresses only a comparison resolver gave that are checked (a CDN can answer dozens)
MAX_OTHER_ADDRESSES = 4
SUMMARY_KEYS = (
    "dns_consistency", "body_length_match", "body_proportion", "status_code_match", "headers_match",
    "title_match", "accessible", "blocking",
)


@dataclass
class Network:
    """What the probe knows about its own network (from the control server or the command line)."""

    ip: str | None = None
    asn: str = "AS0"
    cc: str = "ZZ"
    network_name: str | None = None


@dataclass
class Context:
    """Shared by every URL of a run."""

    settings: http.HTTPSettings
    system_resolver: tuple[str, int]
    report_id: str
    control_url: str | None = None
    control: control_client.ControlClient | None = None
    public_resolver: tuple[str, int] | None = None
    doh: dns.DoHClient | None = None
    lab: bool = False
    network: Network = field(default_factory=Network)
    software_name: str = "censorwatch"
    #: fixed by --cc/--asn/--no-asn: the control's answer does not override these
    pinned_cc: bool = False
    pinned_asn: bool = False


def check_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a measurable URL; ValueError with the reason otherwise."""
    try:
        u = urlsplit(url.strip())
        port = u.port
    except ValueError as exc:
        raise ValueError(f"{url!r}: {exc}") from None
    if u.scheme not in ("http", "https"):
        raise ValueError(f"{url!r}: scheme must be http or https")
    if not u.hostname:
        raise ValueError(f"{url!r}: no host")
    return u.scheme, u.hostname.lower(), port or (443 if u.scheme == "https" else 80)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def measure(url: str, ctx: Context, deadline: float | None = None) -> dict[str, Any]:
    """Measure one URL; return a complete OONI 0.2.0 ``web_connectivity`` measurement (not scrubbed).

    With a ``deadline`` (seconds) the steps still running when it passes are cancelled and the
    measurement is finished with what completed (``x_deadline_exceeded: true``).
    """
    scheme, host, port = check_url(url)
    started = datetime.now(UTC)
    t_start = time.monotonic()
    trace = Trace()
    tk: dict[str, Any] = {
        "agent": "redirect", "client_resolver": ctx.system_resolver[0], "retries": None,
        "socksproxy": None, "queries": [], "tcp_connect": [],
        "tls_handshakes": [], "requests": [], "network_events": trace.network_events,
        "dns_experiment_failure": None, "http_experiment_failure": None,
        "control_failure": None, "control": {},
    }
    state: dict[str, Any] = {}
    try:
        async with asyncio.timeout(deadline):
            await _steps(ctx, trace, url, scheme, host, port, tk, state)
    except TimeoutError:
        tk["x_deadline_exceeded"] = True
        if not tk["requests"]:
            t = trace.now()
            tk["requests"] = [http.request_entry(url, None, list(ctx.settings.headers), None,
                                                 F.GENERIC_TIMEOUT, "per-URL deadline passed", t, t, None)]
            tk["http_experiment_failure"] = F.GENERIC_TIMEOUT
        if "control" not in state:
            state["control"] = (None, F.GENERIC_TIMEOUT, "per-URL deadline passed")
    control, control_failure, _raw = state["control"]
    tk["control"] = control if control is not None else {}
    tk["control_failure"] = control_failure
    tk["x_control_t0"], tk["x_control_t"] = state.get("control_t", (None, None))
    if control is not None:
        _learn_network(ctx, control)
    m = _envelope(ctx, url, started, time.monotonic() - t_start, tk)
    summarize(m)
    return m


def _tagged(entries: list[dict[str, Any]], *tags: str) -> list[dict[str, Any]]:
    for e in entries:
        e["tags"] = list(tags)
    return entries


async def _steps(
    ctx: Context, trace: Trace, url: str, scheme: str, host: str, port: int, tk: dict[str, Any],
    state: dict[str, Any],
) -> None:
    # 1. DNS: the system resolver (what the user gets) and the comparison resolvers, in parallel
    others: list[str] = []
    if _is_ip(host):
        addrs, dns_failure = [host], None
    else:
        async with asyncio.TaskGroup() as tg:
            sys_task = tg.create_task(dns.lookup(trace, host, timeout=ctx.settings.timeouts.dns,
                                                 server=ctx.system_resolver))
            cmp_tasks = []
            if ctx.public_resolver is not None:
                cmp_tasks.append(tg.create_task(dns.lookup(
                    trace, host, timeout=ctx.settings.timeouts.dns, server=ctx.public_resolver, engine="udp")))
            if ctx.doh is not None:
                cmp_tasks.append(tg.create_task(dns.lookup(trace, host, timeout=ctx.settings.timeouts.dns,
                                                           doh=ctx.doh)))
        queries, addrs, dns_failure = sys_task.result()
        tk["queries"] = _tagged(queries, "classic", "depth=0")
        for t in cmp_tasks:
            qs, found, _ = t.result()
            tk["queries"].extend(_tagged(qs, "depth=0"))
            others.extend(a for a in found if a not in addrs and a not in others)
        tk["dns_experiment_failure"] = dns_failure
    policy = ctx.settings.policy
    refused = {ip: why for ip in (*addrs, *others) if (why := policy.refusal(ip)) is not None}
    if refused:
        tk["x_not_connected"] = refused
    mine = [ip for ip in addrs if ip not in refused]
    theirs = [ip for ip in others if ip not in refused][:MAX_OTHER_ADDRESSES]
    endpoints = [tcp.endpoint(ip, port) for ip in (*mine, *theirs)]
    async with asyncio.TaskGroup() as tg:
        # 2. the control request, in parallel with our own steps
        tg.create_task(_control(ctx, trace, url, endpoints, state))
        # 3-5. TCP to every address, TLS on each, then HTTP
        tg.create_task(_connect_and_fetch(ctx, trace, url, scheme, host, port, mine, dns_failure, tk))
        # the addresses only the comparison resolvers gave: is the site up there?
        for ip in theirs:
            tg.create_task(_check(ctx, trace, scheme, host, port, ip, tk))
    tk["tcp_connect"].sort(key=lambda e: e["transaction_id"])
    tk["tls_handshakes"].sort(key=lambda e: e["transaction_id"])


async def _check(ctx: Context, trace: Trace, scheme: str, host: str, port: int, ip: str,
                 tk: dict[str, Any]) -> None:
    """A connectivity check (no fetch) of an address the user's resolver did not give."""
    tags = ("tcptls_experiment", "depth=0", "fetch_body=false")
    entry, conn = await tcp.connect(trace, ip, port, timeout=ctx.settings.timeouts.tcp,
                                    policy=ctx.settings.policy, limiter=ctx.settings.limiter,
                                    source=ctx.settings.source_address)
    tk["tcp_connect"].extend(_tagged([entry], *tags))
    if conn is None:
        return
    try:
        if scheme == "https":
            hs = await tls.handshake(conn, host, timeout=ctx.settings.timeouts.tls, trust=ctx.settings.trust)
            tk["tls_handshakes"].extend(_tagged([hs], *tags))
    finally:
        await conn.close()


async def _control(ctx: Context, trace: Trace, url: str, endpoints: list[str], state: dict[str, Any]) -> None:
    if ctx.control is None:
        state["control"] = (None, F.unknown("no control server configured"), None)
        return
    t0 = trace.now()
    state["control"] = await ctx.control.ask(url, endpoints)
    state["control_t"] = (t0, trace.now())


async def _connect_and_fetch(
    ctx: Context, trace: Trace, url: str, scheme: str, host: str, port: int, addrs: list[str],
    dns_failure: str | None, tk: dict[str, Any],
) -> None:
    conns: list[Conn | None] = []
    first_tags = ("classic", "tcptls_experiment", "depth=0", "fetch_body=true")

    async def one(ip: str) -> Conn | None:
        entry, conn = await tcp.connect(trace, ip, port, timeout=ctx.settings.timeouts.tcp,
                                        policy=ctx.settings.policy, limiter=ctx.settings.limiter,
                                        source=ctx.settings.source_address)
        tk["tcp_connect"].extend(_tagged([entry], *first_tags))
        if conn is None or scheme != "https":
            return conn
        hs = await tls.handshake(conn, host, timeout=ctx.settings.timeouts.tls, trust=ctx.settings.trust)
        tk["tls_handshakes"].extend(_tagged([hs], *first_tags))
        if hs["failure"] is not None:
            await conn.close()
            return None
        return conn

    try:
        if addrs:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(one(ip)) for ip in addrs]
            conns = [t.result() for t in tasks]
        first = next((c for c in conns if c is not None), None)
        for c in conns:
            if c is not None and c is not first:
                await c.close()
        if first is None:
            # nothing to send the request on: it failed with the first step that failed (a request on no
            # connection: no transaction_id ties it to a connect)
            failure = dns_failure or _first_failure(tk) or F.unknown("no address to connect to")
            t = trace.now()
            tk["requests"] = _tagged([http.request_entry(url, None, list(ctx.settings.headers), None, failure,
                                                         None, t, t, None)], *first_tags)
            tk["http_experiment_failure"] = failure
            return
        known = {host: addrs}
        lookups: list[dict[str, Any]] = []

        async def resolve(name: str) -> tuple[list[str], str | None]:
            if name in known:
                return known[name], None
            if _is_ip(name):
                return [name], None
            qs, found, failure = await dns.lookup(trace, name, timeout=ctx.settings.timeouts.dns,
                                                  server=ctx.system_resolver)
            lookups.extend(qs)
            known[name] = found
            return found, failure

        def tags_for(depth: int) -> list[str]:
            return [*first_tags] if depth == 0 else ["classic", f"depth={depth}", "fetch_body=true"]

        res = await http.get(url, trace=trace, resolve=resolve, settings=ctx.settings, first_conn=first,
                             tags_for=tags_for)
        conns = []
        tk["requests"] = res.requests
        tk["tcp_connect"].extend(res.tcp_connect)
        tk["tls_handshakes"].extend(res.tls_handshakes)
        tk["queries"].extend(_lookup_tags(lookups, res.requests))
        tk["http_experiment_failure"] = res.failure
    finally:
        for c in conns:
            if c is not None:
                await c.close()


def _lookup_tags(lookups: list[dict[str, Any]], requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tag the lookups of redirect targets with the depth of the first request for their host."""
    depth_of: dict[str, int] = {}
    for depth, r in enumerate(reversed(requests)):
        name = (urlsplit(r["request"]["url"]).hostname or "").lower()
        depth_of.setdefault(name, depth)
        depth_of.setdefault(name.encode("idna").decode("ascii") if not name.isascii() else name, depth)
    for q in lookups:
        q["tags"] = ["classic", f"depth={depth_of.get(q['hostname'], len(requests))}"]
    return lookups


def _first_failure(tk: dict[str, Any]) -> str | None:
    """The first failure on the user's own path (the checks of other resolvers' addresses aside)."""
    for h in tk["tls_handshakes"]:
        if h["failure"] and "classic" in h.get("tags", ()):
            return str(h["failure"])
    for c in tk["tcp_connect"]:
        if c["status"]["failure"] and "classic" in c.get("tags", ()):
            return str(c["status"]["failure"])
    return None


def _learn_network(ctx: Context, control: dict[str, Any]) -> None:
    client = control.get("client")
    if not isinstance(client, dict):
        return
    if isinstance(client.get("ip"), str):
        ctx.network.ip = client["ip"]
    if not ctx.pinned_asn and isinstance(client.get("asn"), int) and client["asn"] > 0:
        ctx.network.asn = f"AS{client['asn']}"
        if isinstance(client.get("as_name"), str):
            ctx.network.network_name = client["as_name"]
    if not ctx.pinned_cc and isinstance(client.get("cc"), str) and len(client["cc"]) == 2:
        ctx.network.cc = client["cc"].upper()


def _envelope(ctx: Context, url: str, started: datetime, runtime: float, tk: dict[str, Any]) -> dict[str, Any]:
    annotations: dict[str, Any] = {
        "engine_name": ctx.software_name, "engine_version": __version__,
        "platform": platform.system().lower() or "unknown", "architecture": platform.machine(),
    }
    if ctx.lab:
        annotations["censorwatch_lab"] = True
    return {
        "annotations": annotations,
        "data_format_version": DATA_FORMAT_VERSION,
        "extensions": {"dnst": 0, "httpt": 0, "netevents": 0, "tcpconnect": 0, "tlshandshake": 0},
        "input": url,
        "measurement_start_time": ooni_time(started),
        "options": [],
        "probe_asn": ctx.network.asn,
        "probe_cc": ctx.network.cc,
        "probe_ip": "127.0.0.1",
        "probe_network_name": ctx.network.network_name,
        "report_id": ctx.report_id,
        "resolver_asn": "AS0",
        "resolver_ip": ctx.system_resolver[0],
        "resolver_network_name": None,
        "software_name": ctx.software_name,
        "software_version": __version__,
        "test_helpers": {"backend": {"address": ctx.control_url, "type": "https"}} if ctx.control_url else {},
        "test_keys": tk,
        "test_name": TEST_NAME,
        "test_runtime": round(runtime, 6),
        "test_start_time": ooni_time(started),
        "test_version": TEST_VERSION,
    }


def summarize(m: dict[str, Any]) -> None:
    """Fill the OONI summary keys with the analyser's own ``classify`` (one implementation)."""
    verdict = classify(Measurement.from_raw(m, source="probe"))
    tk = m["test_keys"]
    for key in SUMMARY_KEYS:
        tk[key] = getattr(verdict, key)
    tk["x_status"] = verdict.status
    tk["x_method"] = verdict.method
    tk["x_rule"] = verdict.rule
    tk["x_rules_version"] = verdict.rules_version
