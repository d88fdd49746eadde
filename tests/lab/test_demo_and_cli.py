"""The demo's world and timeline, and what the CLI says without root or with bad input."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from censorwatch.lab.demo import URLS, X_NAMES, Truth, check, demo_scenario, missing
from censorwatch.model import networks

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def test_demo_world_and_timeline() -> None:
    sc = demo_scenario(180)
    assert [(n.name, n.cc, n.asn) for n in sc.networks] == [
        ("ptcl", "PK", "AS17557"), ("nayatel", "PK", "AS23674"), ("jazz", "PK", "AS45669")]
    by_net: dict[str, list] = {}
    for e in sc.timeline:
        by_net.setdefault(e.network or "*", []).append(e)
    for net in ("ptcl", "jazz"):
        first = by_net[net][0]
        assert first.at == 36.0 and first.censor is not None
        assert {r.target for r in first.censor if r.action == "reset"} == set(X_NAMES)
    nay = by_net["nayatel"][0]
    assert nay.resolver is not None and set(nay.resolver.add) == set(X_NAMES)
    dark = [e for e in by_net["jazz"] if e.censor and e.censor[0].matcher == "shutdown"]
    assert len(dark) == 1 and dark[0].at == 90.0
    assert any("example" in u for u in URLS) and any("x.com" in u for u in URLS)
    # each network's number is the real operator's, the one the table of known networks names
    assert {n.asn: networks.network_name(n.asn) for n in sc.networks} == {
        "AS17557": "PTCL", "AS23674": "Nayatel", "AS45669": "Jazz"}


T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def _at(s: float) -> str:
    return (T0 + dt.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _f(kind: str, target: str | None, asns: list[str], start: float, end: float | None = None) -> dict[str, object]:
    return {"kind": kind, "target": target, "asns": asns, "start": _at(start), "end": None if end is None else _at(end)}


def test_the_findings_are_held_against_the_timeline() -> None:
    truth = Truth.of(T0, 180)  # block at 36 s, jazz dark 90-144 s, end 180 s
    true = [
        _f("blocking", "x.com", ["AS17557", "AS45669", "AS23674"], 37),
        _f("blocking", "x", ["AS23674"], 45),
        _f("blocking", "198.18.5.1", ["AS17557"], 50),  # the WireGuard server, throttled
        _f("blocking", "openvpn://198.18.5.2:1194?transport=udp", ["AS45669"], 50),
        _f("outage", None, ["AS45669"], 91, 146),
    ]
    assert check(true, truth) == [] and missing(true, truth) == []
    false = [
        _f("blocking", "www.example.com", ["AS23674"], 40),  # never blocked
        _f("blocking", "x.com", ["AS17557"], 10),  # before the block
        _f("blocking", "x.com", ["AS17557"], 40, 60),  # the block never ended
        _f("outage", None, ["AS17557"], 91, 146),  # ptcl never went dark
        _f("outage", None, ["AS45669"], 20, 40),  # jazz was not dark then
        _f("outage", None, ["AS45669"], 91),  # jazz came back
    ]
    got = check(false, truth)
    assert len(got) == len(false), got
    assert "nothing blocked www.example.com" in got[0] and "only jazz went dark" in got[3]
    assert missing(false[:1], truth) == ["the block of X", "the shutdown of jazz", "the throttled VPNs"]


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
