"""The demo's world and timeline, and what the CLI says without root or with bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from censorwatch.lab.demo import URLS, X_NAMES, demo_scenario, summarize

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def test_demo_world_and_timeline() -> None:
    sc = demo_scenario(180)
    assert [(n.name, n.cc, n.asn) for n in sc.networks] == [
        ("ptcl", "PK", "AS17557"), ("nayatel", "PK", "AS23674"), ("jazz", "PK", "AS24499")]
    by_net: dict[str, list] = {}
    for e in sc.timeline:
        by_net.setdefault(e.network or "*", []).append(e)
    for net in ("ptcl", "jazz"):
        first = by_net[net][0]
        assert first.at == 45.0 and first.censor is not None
        assert {r.target for r in first.censor if r.action == "reset"} == set(X_NAMES)
    nay = by_net["nayatel"][0]
    assert nay.resolver is not None and set(nay.resolver.add) == set(X_NAMES)
    dark = [e for e in by_net["jazz"] if e.censor and e.censor[0].matcher == "shutdown"]
    assert len(dark) == 1 and dark[0].at == 99.0
    assert any("example" in u for u in URLS) and any("x.com" in u for u in URLS)


def test_summarize_marks_rounds() -> None:
    rows = [{"round": i, "network": "ptcl", "domain": "x.com", "blocking": b, "method": m}
            for i, (b, m) in enumerate([(False, None), ("http-failure", "tls.reset"), (None, None)])]
    assert summarize(rows) == [("ptcl", "x.com", ".X?", "tls.reset")]


def _as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run a command without root"
    return subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-m", "censorwatch", *args],
                          capture_output=True, text=True, timeout=60, env={**ENV, "HOME": "/tmp"})


@pytest.mark.parametrize("args", [("demo",), ("lab", "clean"), ("lab", "run", "tests/scenarios/site-x.yaml")])
def test_without_root_it_says_what_it_needs(args: tuple[str, ...]) -> None:
    r = _as_nobody(*[str(REPO / a) if a.endswith(".yaml") else a for a in args])
    assert r.returncode == 2, r.stderr
    assert "needs root" in r.stderr and "network namespaces" in r.stderr


def test_bad_scenario_is_reported_with_its_key(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: bad\ncensor:\n  - {sni: x.com, action: explode}\n")
    r = subprocess.run([sys.executable, "-m", "censorwatch", "lab", "run", str(p)], capture_output=True,
                       text=True, timeout=60, env=ENV)
    assert r.returncode == 2
    assert "censor[0].action" in r.stderr and "unknown action 'explode'" in r.stderr
    assert "Traceback" not in r.stderr


def test_findings_sentences() -> None:
    import datetime as dt

    from censorwatch.lab.demo import findings

    rows = [{"round": i, "network": "ptcl", "domain": d, "blocking": b, "method": m}
            for i in range(3) for d, b, m in [("x.com", "http-failure" if i else False, "tls.reset" if i else None),
                                              ("www.example.com", False, None)]]
    rows += [{"round": i, "network": "jazz", "domain": "x.com", "blocking": None, "method": None} for i in (1, 2)]
    start = dt.datetime(2024, 2, 17, 0, 0)
    got = findings(rows, start)
    assert got[0] == "jazz: nothing blocked"
    assert got[1] == "jazz: dark (no measurement reached anything) in rounds at 01:00, 02:00"
    assert got[2] == "ptcl: x.com blocked from 01:00 (simulated) by tls.reset; reachable: www.example.com"


@pytest.mark.lab
def test_demo_interrupted_tears_down(tmp_path: Path) -> None:
    import re
    import signal
    import time

    from censorwatch.lab import netns

    p = subprocess.Popen([sys.executable, "-m", "censorwatch", "demo", "--minutes", "1", "--rounds", "4",
                          "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert p.stderr is not None
    run_id = None
    deadline = time.monotonic() + 90
    try:
        while run_id is None and time.monotonic() < deadline:
            line = p.stderr.readline()
            if not line:
                break
            m = re.search(r"demo world ([0-9a-f]{5}) up", line)
            run_id = m.group(1) if m else None
        assert run_id, "the demo world did not come up"
        assert any(n.startswith(f"cw{run_id}-") for n in netns.list_netns())
        time.sleep(1)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130
    assert "the world was torn down" in err
    assert not [n for n in netns.list_netns() if n.startswith(f"cw{run_id}-")]
