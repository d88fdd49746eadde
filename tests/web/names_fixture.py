"""A store built by the real pipeline for the names and time-axis tests: one simulated day in Pakistan
(x.com reset on PTCL and on a network only its measurements name, from 06:00 to 18:00), plus a platform
and a VPN measurement written the way the lab's probes write them; ingested and analysed."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from censorwatch.lab.vpn_servers import LAB_ENDPOINTS
from censorwatch.pipeline import run_analysis
from censorwatch.pipeline.ingest import ingest
from censorwatch.pipeline.simulate import generate
from censorwatch.pipeline.simulate.scenario import parse
from censorwatch.probe.circumvention.envelope import envelope
from censorwatch.store.db import Store
from censorwatch.store.reader import read_paths

DAY = datetime(2024, 2, 17, tzinfo=UTC)
SEEN_ASN, SEEN_NAME = "AS64512", "Example Fibre"  # no row in model.networks: the measured name is shown
SCENARIO = {
    "name": "one-day", "start": "2024-02-17T00:00:00Z", "days": 1, "seed": 3, "noise": 0.0, "failure": 0.0,
    "targets": ["x.com", "example.org"],
    "countries": [{"cc": "PK", "networks": [{"asn": "AS17557", "rate": 6},
                                            {"asn": SEEN_ASN, "rate": 6, "name": SEEN_NAME}]}],
    "blocks": [{"cc": "PK", "target": "x.com", "method": "tls.reset", "start": "2024-02-17T06:00:00Z",
                "end": "2024-02-17T18:00:00Z"}],
}


def _lab_shaped() -> list[dict[str, Any]]:
    """A platform measurement (input ``x``) and a WireGuard one (input the endpoint URI), from PTCL."""
    t = DAY + timedelta(hours=12)
    return [
        envelope("platform", "0.1.0", "x", {"platform": "x", "endpoints": [], "parts": {}}, start=t, runtime=1.0,
                 probe_cc="PK", probe_asn="AS17557", annotations={"platform": "x"}),
        envelope("wireguard", "0.1.0", LAB_ENDPOINTS["wireguard"], {"handshake": None}, start=t, runtime=1.0,
                 probe_cc="PK", probe_asn="AS17557"),
    ]


def build(path: Path) -> None:
    sc = parse(SCENARIO, "one-day")
    src = path.with_suffix(".jsonl.gz")
    generate.write(sc, src, path.with_suffix(".truth.json"))
    with gzip.open(src, "ab") as f:
        for m in _lab_shaped():
            f.write(orjson.dumps(m) + b"\n")
    with Store(path) as store:
        stats = ingest(store, read_paths([src]))
        assert stats.bad == 0, stats
        run_analysis(store)
