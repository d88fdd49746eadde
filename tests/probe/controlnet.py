"""Run the control server in-process on loopback with a certificate from the test CA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from probenet import PROBE_SRC, Net

from censorwatch.control import serve
from censorwatch.control.asnmap import ASNMap
from censorwatch.control.helper import HelperConfig
from censorwatch.probe.config import ProbeConfig
from censorwatch.probe.timeouts import Timeouts

TH_TIMEOUTS = Timeouts(dns=1.0, tcp=2.0, tls=2.0, http_headers=1.5, http_body=3.0, control=10.0)


@dataclass
class Control:
    url: str
    ca_file: Path
    cfg: HelperConfig


@asynccontextmanager
async def running_control(net: Net, *, lab: bool, host: str = "127.0.0.1", asn_map: ASNMap | None = None,
                          max_concurrency: int = 32, queue_wait: float = 5.0,
                          doh_url: str | None = None, timeouts: Timeouts = TH_TIMEOUTS) -> AsyncIterator[Control]:
    cert = net.tmp / f"control-{host}.crt"
    key = net.tmp / f"control-{host}.key"
    c, k = net.ca.issue(["control.test"], ips=[host])
    cert.write_bytes(c)
    key.write_bytes(k)
    cfg = HelperConfig(lab=lab, resolver=None if doh_url else net.th_dns_addr, doh_url=doh_url, ca_files=[net.ca_file],
                       trust_system=False, timeouts=timeouts, asn_map=asn_map)
    srv = serve.server(cfg, tls_cert=cert, tls_key=key, max_concurrency=max_concurrency, queue_wait=queue_wait)
    sock = serve.bind(host, 0)
    port = sock.getsockname()[1]
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    for _ in range(200):
        if srv.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield Control(f"https://{host}:{port}/", net.ca_file, cfg)
    finally:
        srv.should_exit = True
        await asyncio.wait_for(task, 5)
        sock.close()


PROBE_TIMEOUTS = Timeouts(dns=1.0, tcp=2.0, tls=2.0, http_headers=1.5, http_body=3.0, control=10.0)


def probe_config(net: Net, control_url: str | None, urls: list[str], **kw: object) -> ProbeConfig:
    """A probe that resolves with the censoring resolver and connects from PROBE_SRC."""
    base: dict[str, object] = dict(
        urls=urls, control_url=control_url, ca_files=[net.ca_file], trust_system=False, allow_loopback=True,
        system_resolver=net.probe_dns_addr, source_address=PROBE_SRC, timeouts=PROBE_TIMEOUTS,
    )
    base.update(kw)
    return ProbeConfig(**base)  # type: ignore[arg-type]
