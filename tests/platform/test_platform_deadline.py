"""A platform test from a dark network (a shutdown) still yields a measurement within its deadline.

Every step then waits for its own timeout (the control's is 30 s), so without a per-endpoint
deadline the X platform test took ~35 s and the demo's 30 s budget dropped the round as an error:
the shutdown left no evidence. Real namespaces, the lab's censor, the real probe process."""

from __future__ import annotations

import time

import pytest

from censorwatch.analysis import classify
from censorwatch.lab import scenario
from censorwatch.lab.instance import LabInstance
from censorwatch.lab.probing import run_probe
from censorwatch.model.measurement import Measurement

pytestmark = pytest.mark.lab

DOC = {"name": "dark", "networks": [{"name": "mobile", "cc": "PK", "asn": "AS24499"}],
       "timeline": [{"at": 0, "network": "mobile", "censor": [{"shutdown": True}]}]}


def test_platform_test_in_a_shutdown_ends_at_its_deadline() -> None:
    sc = scenario.parse(DOC, "test")
    with LabInstance(sc) as lab:
        lab.apply("mobile", sc.timeline[0].censor, None)
        t0 = time.monotonic()
        ms = run_probe(lab, "mobile", "platform", ["x"], timeout=60, url_deadline=8)
        took = time.monotonic() - t0
    assert took < 25, f"took {took:.1f}s with an 8 s per-endpoint deadline"
    assert len(ms) == 1
    rows = ms[0]["test_keys"]["endpoints"]
    assert rows and all(isinstance(r["test_keys"], dict) for r in rows)
    assert any(r["test_keys"].get("x_deadline_exceeded") for r in rows), "the deadline never hit: not dark?"
    v = classify(Measurement.from_raw(ms[0], "test"))
    assert v.status != "ok", v.explanation  # a dark network is never "reachable"
