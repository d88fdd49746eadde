"""Everything one probe run needs, as a plain object: built by the CLI, or by the lab in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from censorwatch.probe.dns import RESOLV_CONF
from censorwatch.probe.http import BODY_CAP
from censorwatch.probe.timeouts import Timeouts

#: Real-world comparison resolvers, used only when the CLI runs outside the lab and none is given.
DEFAULT_PUBLIC_RESOLVER = "1.1.1.1:53"
DEFAULT_DOH_URL = "https://1.1.1.1/dns-query"


@dataclass
class ProbeConfig:
    urls: list[str] = field(default_factory=list)
    #: test-helper URL (OONI protocol), e.g. ``https://th.example.org/``; None: no control (nulls)
    control_url: str | None = None
    #: extra trust anchors (PEM) for the measured sites and the control server
    ca_files: list[Path] = field(default_factory=list)
    trust_system: bool = True
    #: lab run: annotations.censorwatch_lab=true, 198.18.0.0/15 counts as public
    lab: bool = False
    #: tests only: let the probe connect to 127.0.0.0/8 targets
    allow_loopback: bool = False
    #: local address every connection is made from (multi-homed hosts; tests); None: kernel's choice
    source_address: str | None = None
    resolv_conf: Path = RESOLV_CONF
    #: ``ip[:port]`` overriding the resolv.conf nameserver
    system_resolver: str | None = None
    #: comparison resolvers (None: not queried)
    public_resolver: str | None = None
    doh_url: str | None = None
    concurrency: int = 16
    per_host: int = 2
    #: seconds for one URL (all steps); whole run (None: unbounded)
    url_deadline: float = 60.0
    run_deadline: float | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    body_cap: int = BODY_CAP
    probe_cc: str | None = None
    probe_asn: str | None = None
    no_asn: bool = False
    software_name: str = "censorwatch"
    #: called with each finished (scrubbed) measurement, in completion order
    on_measurement: Callable[[dict[str, Any]], None] | None = None
