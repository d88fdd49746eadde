"""Probes in the lab submit to the observatory over the lab network: through the world's collector
host and their ISP's censor; a shutdown keeps their measurements spooled until it lifts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from censorwatch.lab import relay, scenario
from censorwatch.lab.instance import LabInstance
from censorwatch.lab.probing import run_probe
from observatory.helpers import ObservatoryProcess, wait_for

pytestmark = pytest.mark.lab

WORLD = {"name": "submit", "networks": [{"name": "isp", "cc": "PK", "asn": "AS17557"}]}


@pytest.fixture(scope="module")
def observatory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservatoryProcess]:
    d = tmp_path_factory.mktemp("obs")
    obs = ObservatoryProcess(d / "cw.duckdb", "--analyze-every", "5", "--collector-workers", "1").start()
    try:
        yield obs
    finally:
        obs.stop()
        obs.kill()


def _receipts(spool: Path) -> set[str]:
    return {p.stem for p in (spool / "receipts").glob("*.json")}


def _pending(spool: Path) -> int:
    return len([p for p in (spool / "pending").glob("*.json") if not p.name.startswith(".")])


def test_probes_submit_through_the_lab_and_a_shutdown_keeps_them_spooled(
        observatory: ObservatoryProcess, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    sub = {"submit": relay.URL, "spool": str(spool), "submit_wait": 5}
    with LabInstance(scenario.parse(WORLD, "submit")) as lab:
        relay.start(lab, f"127.0.0.1:{observatory.collector_port}")
        (m,) = run_probe(lab, "isp", "web_connectivity", ["https://www.example.com/"], timeout=60,
                         url_deadline=20, submit=sub)
        assert m["probe_cc"] == "PK" and _pending(spool) == 0
        (uid,) = _receipts(spool)
        receipt = json.loads((spool / "receipts" / f"{uid}.json").read_text())
        assert receipt["receipt"]["leaf_index"] == 0
        wait_for(lambda: httpx.get(f"{observatory.url}/api/v1/measurements/{uid}", timeout=5).status_code == 200,
                 30, "the measurement in the store")
        # a shutdown cuts the probe off from the collector: its measurement stays in the spool
        lab.apply("isp", scenario.rules([{"shutdown": True}], "censor"))
        run_probe(lab, "isp", "web_connectivity", ["https://www.example.com/"], timeout=60, url_deadline=5,
                  submit={**sub, "submit_wait": 2})
        assert _pending(spool) == 1 and len(_receipts(spool)) == 1
        # once it lifts, the next run sends the spooled one first, with its own (shutdown-time) timestamp
        lab.apply("isp", ())
        run_probe(lab, "isp", "web_connectivity", ["https://www.example.org/"], timeout=60, url_deadline=20,
                  submit=sub)
        assert _pending(spool) == 0 and len(_receipts(spool)) == 3
    wait_for(lambda: observatory.metrics()["stored_leaves"] == 3, 30, "three measurements stored")
