"""Run Web Connectivity over many URLs: bounded concurrency, per-host limits, deadlines, scrubbing.

``await run(config)`` is the library entry point (the CLI and the lab both use it): it returns the
finished measurements (scrubbed, OONI 0.2.0 dicts) and hands each to ``config.on_measurement`` as
soon as it is done, so an interrupted run (Ctrl-C, whole-run deadline) keeps everything finished.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from censorwatch.model.addresses import AddressPolicy
from censorwatch.model.measurement import normalize_asn, normalize_cc
from censorwatch.probe import control_client, dns, http, privacy, tls, webconnectivity
from censorwatch.probe.config import ProbeConfig
from censorwatch.probe.tcp import HostLimiter


@dataclass
class RunStats:
    total: int = 0
    done: int = 0
    blocked: int = 0
    failed: int = 0  # measurements that could not be produced (deadline, internal error)
    #: (verdict status, blocking) -> measurements, e.g. ("anomaly", "dns"), ("ok", "False")
    by_outcome: dict[tuple[str, str], int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def report_id(cc: str, asn: str) -> str:
    now = datetime.now(UTC)
    rnd = "".join(secrets.choice(string.ascii_letters) for _ in range(50))
    return f"{now:%Y%m%dT%H%M%SZ}_webconnectivity_{cc}_{asn.removeprefix('AS')}_n1_{rnd}"


def build_context(config: ProbeConfig) -> webconnectivity.Context:
    """Validate the configuration (ValueError with the reason) and build the shared context."""
    if config.concurrency < 1 or config.per_host < 1:
        raise ValueError("--concurrency and the per-host limit must be at least 1")
    system = (dns.split_hostport(config.system_resolver) if config.system_resolver
              else dns.system_nameserver(config.resolv_conf))
    for ca in config.ca_files:
        if not ca.is_file():
            raise ValueError(f"--ca-file {ca}: no such file")
    trust = tls.TrustStore(tuple(config.ca_files), system=config.trust_system)
    trust.store()  # load now: bad CA files fail before measuring anything
    policy = AddressPolicy(lab=config.lab, allow_loopback=config.allow_loopback, allow_private=True)
    settings = http.HTTPSettings(timeouts=config.timeouts, policy=policy, trust=trust,
                                 limiter=HostLimiter(config.per_host), body_cap=config.body_cap,
                                 source_address=config.source_address)
    # the control server and the DoH resolver are chosen by the user: any address, no per-host cap
    own = http.HTTPSettings(timeouts=config.timeouts, trust=trust,
                            policy=AddressPolicy(lab=config.lab, allow_loopback=True, allow_private=True),
                            source_address=config.source_address)
    doh = dns.DoHClient(config.doh_url, own, bootstrap=system) if config.doh_url else None
    cc = normalize_cc(config.probe_cc) if config.probe_cc else "ZZ"
    asn = "AS0" if config.no_asn else (normalize_asn(config.probe_asn) if config.probe_asn else "AS0")
    if config.probe_cc and cc == "ZZ" and config.probe_cc.upper() != "ZZ":
        raise ValueError(f"--cc {config.probe_cc!r}: expected a two-letter country code")
    if config.probe_asn and not config.no_asn and asn == "AS0" and config.probe_asn.upper() not in ("AS0", "0"):
        raise ValueError(f"--asn {config.probe_asn!r}: expected AS12345 or 12345")
    if config.control_url and config.control_url.split("://", 1)[0] not in ("http", "https"):
        raise ValueError(f"--control {config.control_url!r}: expected an http(s):// URL")
    return webconnectivity.Context(
        settings=settings,
        system_resolver=system,
        report_id=report_id(cc, asn),
        control_url=config.control_url,
        control=control_client.ControlClient(config.control_url, settings=own, resolver=system,
                                              timeout=config.timeouts.control) if config.control_url else None,
        public_resolver=dns.split_hostport(config.public_resolver) if config.public_resolver else None,
        doh=doh,
        lab=config.lab,
        network=webconnectivity.Network(asn=asn, cc=cc),
        software_name=config.software_name,
        pinned_cc=config.probe_cc is not None,
        pinned_asn=config.probe_asn is not None or config.no_asn,
    )


async def run(config: ProbeConfig, stats: RunStats | None = None) -> list[dict[str, Any]]:
    """Measure every URL of ``config``; return the finished measurements in completion order."""
    for url in config.urls:
        webconnectivity.check_url(url)
    ctx = build_context(config)
    stats = stats if stats is not None else RunStats()
    stats.total = len(config.urls)
    results: list[dict[str, Any]] = []
    sem = asyncio.Semaphore(config.concurrency)
    scrub_ips: set[str] = set()

    async def one(url: str) -> None:
        async with sem:
            try:
                m = await webconnectivity.measure(url, ctx, deadline=config.url_deadline)
            except Exception as exc:  # a bug must not take the run down: counted and reported
                stats.failed += 1
                stats.done += 1
                stats.errors.append(f"{url}: {type(exc).__name__}: {exc}")
                return
        if ctx.network.ip:
            scrub_ips.add(ctx.network.ip)
        m = privacy.scrub(m, scrub_ips)
        if config.no_asn:
            m["probe_asn"], m["probe_network_name"] = "AS0", None
        results.append(m)
        blocking = m["test_keys"].get("blocking")
        stats.done += 1
        if blocking not in (False, None):
            stats.blocked += 1
        key = (str(m["test_keys"].get("x_status")), str(blocking))
        stats.by_outcome[key] = stats.by_outcome.get(key, 0) + 1
        if config.on_measurement is not None:
            config.on_measurement(m)

    try:
        async with asyncio.timeout(config.run_deadline):
            async with asyncio.TaskGroup() as tg:
                for url in config.urls:
                    tg.create_task(one(url))
    except TimeoutError:
        pass  # whole-run deadline: what finished is returned; the rest was cancelled
    finally:
        if ctx.control is not None:
            await ctx.control.close()
    return results
