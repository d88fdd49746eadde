"""No namespaces, processes, files or rules are left after any run: normal, failed, interrupted (SIGINT,
SIGTERM) and killed (SIGKILL, then ``lab clean``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from censorwatch.lab import netns, scenario
from censorwatch.lab.errors import ScenarioError
from censorwatch.lab.instance import LabInstance
from censorwatch.lab.topology import STATE_ROOT

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}
SCENARIO = """
name: cleanup
probe: {test: web_connectivity, input: "https://www.example.com/"}
networks:
  - {name: one, censor: [{sni: www.example.com, action: reset}, {host: x.com, action: blockpage}]}
  - {name: two}
"""


_PIDS: dict[str, set[int]] = {}


def _alive(pid: int) -> bool:
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def traces(run_id: str) -> list[str]:
    """Everything of run ``run_id`` that still exists: namespaces, files, and every process ever seen
    inside its namespaces (remembered across calls, so a process that outlives them is caught)."""
    names = [n for n in netns.list_netns() if n.startswith(f"cw{run_id}-")]
    seen = _PIDS.setdefault(run_id, set())
    for n in names:
        seen.update(netns.netns_pids(n))
    left = [f"netns {n}" for n in names]
    left += [f"process {pid}" for pid in sorted(seen) if _alive(pid)]
    if netns.ETC_NETNS.is_dir():
        left += [f"/etc/netns/{p.name}" for p in netns.ETC_NETNS.iterdir() if p.name.startswith(f"cw{run_id}-")]
    if (STATE_ROOT / run_id).exists():
        left.append(f"state {STATE_ROOT / run_id}")
    return left


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "censorwatch", "lab", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def start_foreground(tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO)
    p = subprocess.Popen([sys.executable, "-m", "censorwatch", "lab", "up", str(f), "--foreground"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    assert p.stdout is not None
    try:
        line = p.stdout.readline()
        m = re.search(r"lab world ([0-9a-f]{5}) is up", line)
        assert m, f"no world started: {line!r} {p.stderr.read() if p.poll() is not None else ''}"
        run_id = m.group(1)
        assert any(t.startswith("netns") for t in traces(run_id))
        assert any(t.startswith("process") for t in traces(run_id))
    except BaseException:
        p.terminate()  # never leave a world behind because an assertion failed
        p.wait(timeout=30)
        raise
    return p, run_id


def test_normal_run_leaves_nothing() -> None:
    sc = scenario.parse(scenario_doc(), "cleanup")
    with LabInstance(sc, control=False) as lab:
        run_id = lab.topo.run_id
        assert len(traces(run_id)) >= 5
    assert traces(run_id) == []


def test_failed_build_leaves_nothing() -> None:
    doc = scenario_doc()
    doc["networks"][1]["censor"] = [{"endpoint": "not-in-the-world.test:443", "action": "drop"}]
    lab = LabInstance(scenario.parse(doc, "broken"), control=False)
    with pytest.raises(ScenarioError, match="not a host of the world"):
        lab.up()
    assert traces(lab.topo.run_id) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    p, run_id = start_foreground(tmp_path)
    p.send_signal(sig)
    p.wait(timeout=20)
    assert traces(run_id) == []


def test_killed_run_is_cleaned(tmp_path: Path) -> None:
    p, run_id = start_foreground(tmp_path)
    p.kill()
    p.wait(timeout=10)
    time.sleep(0.2)
    assert traces(run_id), "SIGKILL cannot clean up: leftovers expected before `lab clean`"
    r = cli("clean", run_id)  # scoped: another suite's `lab clean` on this machine must not race this one
    assert r.returncode == 0, r.stderr
    assert run_id in r.stdout
    assert traces(run_id) == []


def test_scoped_clean_leaves_other_dead_worlds(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    p1, first = start_foreground(tmp_path / "a")
    p2, second = start_foreground(tmp_path / "b")
    for p in (p1, p2):
        p.kill()
        p.wait(timeout=10)
    try:
        r = cli("clean", first)
        assert r.returncode == 0, r.stderr
        assert first in r.stdout and second not in r.stdout
        assert traces(first) == []
        assert traces(second), "a scoped `lab clean` removed a world it was not given"
    finally:
        cli("clean", second)
    assert traces(second) == []


def test_up_exec_down(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO)
    r = cli("up", str(f))
    assert r.returncode == 0, r.stderr
    run_id = re.search(r"lab world ([0-9a-f]{5}) is up", r.stdout).group(1)  # type: ignore[union-attr]
    try:
        e = cli("exec", "two", "--run", run_id, "--", "cat", "/etc/resolv.conf")
        assert e.returncode == 0, e.stderr
        assert "nameserver 198.18.53.2" in e.stdout  # network "two" is ISP 1: its own resolver
        e = cli("exec", "nope", "--run", run_id, "--", "true")
        assert e.returncode == 2 and "no network 'nope'" in e.stderr
        assert cli("clean", run_id).returncode == 0
        assert traces(run_id), "`lab clean` must not remove a world that `lab up` keeps running"
    finally:
        d = cli("down", run_id)
    assert d.returncode == 0, d.stderr
    assert traces(run_id) == []


def test_lab_run_cli_leaves_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"  # a private state root: this run's worlds are told apart from others'
    before = set(netns.list_netns())
    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO)
    r = subprocess.run([sys.executable, "-m", "censorwatch", "lab", "run", str(f)], capture_output=True,
                       text=True, timeout=120, env={**ENV, "CENSORWATCH_LAB_STATE": str(state)})
    assert r.stdout.strip(), r.stderr
    assert not state.exists() or not any(state.iterdir()), "state left behind"
    # namespaces that appeared meanwhile must belong to other (live) users of the machine's lab
    new = {n for n in set(netns.list_netns()) - before if n.startswith("cw")}
    assert all((STATE_ROOT / n[2:7]).exists() for n in new), f"namespaces left behind: {new}"


def scenario_doc() -> dict:
    import yaml

    return yaml.safe_load(SCENARIO)


def test_sigint_during_parallel_lab_run(tmp_path: Path) -> None:
    """Ctrl-C while two worlds measure (--jobs 2): both are torn down, probes included."""
    state = tmp_path / "state"
    files = []
    for i in range(2):
        f = tmp_path / f"s{i}.yaml"
        f.write_text(f"name: slow{i}\nprobe: {{test: web_connectivity, input: \"https://www.example.com/\"}}\n"
                     "censor: [{sni: www.example.com, action: drop}]\n")
        files.append(str(f))
    p = subprocess.Popen([sys.executable, "-m", "censorwatch", "lab", "run", *files, "--jobs", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**ENV, "CENSORWATCH_LAB_STATE": str(state)})
    run_ids: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(run_ids) < 2:
        if state.is_dir():
            run_ids |= {d.name for d in state.iterdir() if (d / "config.json").exists()}
        time.sleep(0.1)
    assert len(run_ids) == 2, f"worlds did not come up: {p.stderr.read() if p.poll() is not None else ''}"
    time.sleep(1.0)  # the probes are now waiting on the dropped handshakes
    for rid in run_ids:
        assert traces(rid)  # remembers the processes inside
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "interrupted" in err
    for rid in run_ids:
        left = [t for t in traces(rid) if not t.startswith("state")]
        assert left == [], left
    assert not any(state.iterdir())
