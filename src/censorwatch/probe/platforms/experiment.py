"""The platform experiment: every endpoint of one platform, with the probe's own steps.

- URL endpoints are measured by ``webconnectivity.measure`` (system DNS, TCP to every address, TLS,
  HTTP with redirects, and the control request): one full web_connectivity ``test_keys`` each.
- TCP endpoints (``host:port``: chat servers, data centres) get a system-DNS lookup (``dns.lookup``)
  and a ``tcp.connect`` to every address, as OONI's whatsapp/telegram tests do.

``test_keys``: ``platform``, ``endpoints`` (one row per endpoint: ``id``, ``part``, ``kind``, ``target``,
``test_keys``), the flat OONI lists (``queries``, ``tcp_connect``, ``tls_handshakes``, ``requests``)
concatenated from every endpoint so OONI tools can read them, the OONI summary keys of the
platform's OONI test (whatsapp, telegram, signal, facebook_messenger) and, filled by
``analysis.platform.classify_platform``, ``parts`` (part -> ``ok`` | ``blocked`` | ``partial`` | ``down``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from censorwatch.analysis.platform import classify_platform, ooni_summary
from censorwatch.model import failures as F
from censorwatch.model.measurement import Measurement
from censorwatch.probe import dns, privacy, tcp, webconnectivity
from censorwatch.probe.circumvention.envelope import envelope
from censorwatch.probe.netpolicy import parse_ip
from censorwatch.probe.platforms import Platform, PlatformEndpoint
from censorwatch.probe.trace import Trace
from censorwatch.probe.webconnectivity import Context

TEST_VERSION = "0.1.0"


async def _tcp_control(ctx: Context, host: str, port: int, endpoints: list[str]) -> tuple[dict[str, Any], str | None]:
    """The control's view of a TCP endpoint: its DNS answer for ``host`` and its connects to ``endpoints``
    (OONI's test-helper protocol; the helper also tries an HTTPS fetch, which is ignored here)."""
    if ctx.control is None:
        return {}, F.unknown("no control server configured")
    control, failure, _raw = await ctx.control.ask(f"https://{host}:{port}/", endpoints)
    if control is None:
        return {}, failure
    return {"dns": control.get("dns"), "tcp_connect": control.get("tcp_connect")}, None


async def _tcp_endpoint(ctx: Context, ep: PlatformEndpoint, address_map: dict[str, str],
                        keys: dict[str, Any]) -> None:
    """Fill ``keys`` (the endpoint's ``test_keys``) step by step, so a deadline keeps what completed."""
    trace = Trace()
    host, port = ep.host, ep.port
    keys.update({"queries": [], "tcp_connect": [], "network_events": trace.network_events,
                 "control": {}, "control_failure": F.GENERIC_TIMEOUT})
    if parse_ip(host) is not None:
        addrs = [host]
    else:
        queries, addrs, failure = await dns.lookup(trace, host, timeout=ctx.settings.timeouts.dns,
                                                   server=ctx.system_resolver)
        keys["queries"] = queries
        keys["dns_failure"] = failure
    keys["x_address_map"] = {a: address_map[a] for a in addrs if a in address_map} or None
    wire = [address_map.get(ip, ip) for ip in addrs]
    async with asyncio.TaskGroup() as tg:
        ctl = tg.create_task(_tcp_control(ctx, host, port, [tcp.endpoint(ip, port) for ip in wire]))
        for ip, dest in zip(addrs, wire, strict=True):
            entry, conn = await tcp.connect(trace, dest, port, timeout=ctx.settings.timeouts.tcp,
                                            policy=ctx.settings.policy)
            entry["ip"] = ip  # recorded as the catalogue's address; the lab mapping is in x_address_map
            keys["tcp_connect"].append(entry)
            if conn is not None:
                await conn.close()
    keys["control"], keys["control_failure"] = ctl.result()


async def measure(
    platform: Platform,
    ctx: Context,
    *,
    concurrency: int = 8,
    endpoint_deadline: float = 60.0,
    address_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Measure every endpoint of ``platform`` (bounded concurrency); the ``test_keys``."""
    amap = address_map or {}
    sem = asyncio.Semaphore(concurrency)
    rows: list[dict[str, Any]] = [{"id": e.id, "part": e.part, "kind": e.kind, "target": e.target,
                                   "key": e.key, "test_keys": None} for e in platform.endpoints]

    async def one(i: int, ep: PlatformEndpoint) -> None:
        async with sem:
            if ep.kind == "url":
                m = await webconnectivity.measure(ep.target, ctx, deadline=endpoint_deadline)
                rows[i]["test_keys"] = m["test_keys"]
            else:
                keys: dict[str, Any] = {}
                rows[i]["test_keys"] = keys
                try:
                    async with asyncio.timeout(endpoint_deadline):
                        await _tcp_endpoint(ctx, ep, amap, keys)
                except TimeoutError:  # as webconnectivity.measure does: keep what completed, say so
                    keys["x_deadline_exceeded"] = True

    async with asyncio.TaskGroup() as tg:
        for i, ep in enumerate(platform.endpoints):
            tg.create_task(one(i, ep))
    flat: dict[str, list[Any]] = {k: [] for k in ("queries", "tcp_connect", "tls_handshakes", "requests")}
    for r in rows:
        for k, acc in flat.items():
            acc.extend((r["test_keys"] or {}).get(k) or [])
    return {"platform": platform.name, "endpoints": rows, **flat}


async def run(
    platform: Platform,
    ctx: Context,
    *,
    concurrency: int = 8,
    endpoint_deadline: float = 60.0,
    address_map: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A full measurement (``test_name`` = the platform's OONI test or ``platform``), scrubbed, with the
    OONI summary keys and the part-by-part result of ``classify_platform``."""
    start = datetime.now(UTC)
    t = time.monotonic()
    keys = await measure(platform, ctx, concurrency=concurrency, endpoint_deadline=endpoint_deadline,
                         address_map=address_map)
    m = envelope(platform.test_name, TEST_VERSION, platform.name, keys, start=start,
                 runtime=time.monotonic() - t, probe_cc=ctx.network.cc, probe_asn=ctx.network.asn,
                 annotations={"censorwatch_lab": True, "platform": platform.name} if ctx.lab
                 else {"platform": platform.name})
    if ctx.network.ip:
        m = privacy.scrub(m, {ctx.network.ip})
    v = classify_platform(Measurement.from_raw(m, "probe"))
    keys = m["test_keys"]
    keys.update(ooni_summary(platform.test_name, keys))
    keys["parts"] = v.details.get("parts")
    return m
