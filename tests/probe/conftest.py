from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from probenet import Net, start_net

from censorwatch.model.addresses import AddressPolicy
from censorwatch.probe import http, tls
from censorwatch.probe.tcp import HostLimiter
from censorwatch.probe.timeouts import Timeouts

FAST = Timeouts(dns=1.0, tcp=2.0, tls=2.0, http_headers=1.5, http_body=3.0, control=10.0)


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[Net]:
    n = await start_net(tmp_path)
    try:
        yield n
    finally:
        await n.close()


@pytest.fixture
def settings(net: Net) -> http.HTTPSettings:
    return http.HTTPSettings(
        timeouts=FAST, policy=AddressPolicy(allow_loopback=True, allow_private=True),
        trust=tls.TrustStore((net.ca_file,), system=False), limiter=HostLimiter(2),
    )
