"""The ``censorwatch vpn`` command against the lab VPN servers run as their own process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from censorwatch.lab.vpn_servers import LAB_WG_PUBLIC

SRC = Path(__file__).resolve().parents[2] / "src"


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), "CENSORWATCH_CONFIG_DIR": str(tmp / "cfg")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, int]]:
    ports = {"wg": _free_port(), "ovpn": _free_port(), "tor": _free_port()}
    p = subprocess.Popen(
        [sys.executable, "-m", "censorwatch.lab.vpn_servers", "--wireguard", f"127.0.0.1:{ports['wg']}",
         "--openvpn", f"127.0.0.1:{ports['ovpn']}", "--tor", f"127.0.0.1:{ports['tor']}"],
        stdout=subprocess.PIPE, env=_env(tmp_path), text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        yield ports
    finally:
        p.terminate()
        assert p.wait(10) == 0  # SIGTERM is a clean shutdown


def test_vpn_command_measures_and_judges(servers: dict[str, int], tmp_path: Path) -> None:
    eps = tmp_path / "endpoints.txt"
    eps.write_text(f"# mine\nwireguard://127.0.0.1:{servers['wg']}?public_key={LAB_WG_PUBLIC}\n"
                   f"openvpn://127.0.0.1:{servers['ovpn']}?transport=tcp\n")
    r = subprocess.run(
        [sys.executable, "-m", "censorwatch", "vpn", f"tor://127.0.0.1:{servers['tor']}", "--endpoints", str(eps),
         "--accept-risk", "--allow-loopback", "--timeout", "2", "--out", "-"],
        capture_output=True, env=_env(tmp_path), timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    ms = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert [m["test_name"] for m in ms] == ["tor", "wireguard", "openvpn"]
    assert all(m["test_keys"]["success"] for m in ms)
    assert b"ok" in r.stderr  # the results table


def test_vpn_command_bad_input_says_where(tmp_path: Path) -> None:
    eps = tmp_path / "endpoints.txt"
    eps.write_text("tor://198.18.5.3:9001\nopenvpn://vpn.example:1194\n")
    r = subprocess.run([sys.executable, "-m", "censorwatch", "vpn", "--endpoints", str(eps), "--accept-risk"],
                       capture_output=True, env=_env(tmp_path), timeout=60)
    assert r.returncode == 2
    assert b"endpoints.txt:2" in r.stderr and b"IP address" in r.stderr
    r = subprocess.run([sys.executable, "-m", "censorwatch", "vpn", "tor://127.0.0.1:9001", "--accept-risk"],
                       capture_output=True, env=_env(tmp_path), timeout=60)
    assert r.returncode == 2 and b"loopback" in r.stderr


def test_platform_command_with_a_catalogue_of_its_own(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    closed = _free_port()
    cat = tmp_path / "cat.yaml"
    cat.write_text("platforms:\n  mine:\n    endpoints:\n"
                   f"      - {{part: app, tcp: \"127.0.0.1:{port}\"}}\n"
                   f"      - {{part: media, tcp: \"127.0.0.1:{closed}\"}}\n")
    try:
        r = subprocess.run(
            [sys.executable, "-m", "censorwatch", "platform", "mine", "--catalogue", str(cat), "--accept-risk",
             "--allow-loopback", "--system-resolver", "127.0.0.1:9"],
            capture_output=True, env=_env(tmp_path), timeout=60)
    finally:
        listener.close()
    assert r.returncode == 0, r.stderr.decode()
    (m,) = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert m["test_name"] == "platform" and m["input"] == "mine"
    assert m["test_keys"]["parts"] == {"media": "blocked", "app": "ok"}  # no control: a refusal is an anomaly
    bad = tmp_path / "bad.yaml"
    bad.write_text("platforms:\n  mine:\n    endpoints:\n      - {part: cdn, tcp: \"127.0.0.1:1\"}\n")
    r = subprocess.run([sys.executable, "-m", "censorwatch", "platform", "mine", "--catalogue", str(bad),
                        "--accept-risk"], capture_output=True, env=_env(tmp_path), timeout=60)
    assert r.returncode == 2 and b"platforms.mine.endpoints[0].part" in r.stderr


def test_probe_platform_submits_and_repeats(tmp_path: Path) -> None:
    """``probe --platform`` honours --submit (to a real collector) and --every/--repeat."""
    import re

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from collector.helpers import CollectorProcess

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    cat = tmp_path / "cat.yaml"
    cat.write_text("platforms:\n  mine:\n    endpoints:\n"
                   f"      - {{part: app, tcp: \"127.0.0.1:{listener.getsockname()[1]}\"}}\n")
    collector = CollectorProcess(tmp_path / "c.duckdb", None, "--client-rate", "0", "--workers", "1").start()
    try:
        r = subprocess.run(
            [sys.executable, "-m", "censorwatch", "probe", "--platform", "mine", "--catalogue", str(cat),
             "--submit", collector.url, "--every", "1s", "--repeat", "2", "--out", "-", "--accept-risk",
             "--allow-loopback", "--system-resolver", "127.0.0.1:9", "--db", str(tmp_path / "store.duckdb")],
            capture_output=True, env={**_env(tmp_path), "CENSORWATCH_SPOOL": str(tmp_path / "spool")}, timeout=120)
        metrics = __import__("httpx").get(collector.url + "/metrics", timeout=10).text
    finally:
        listener.close()
        collector.stop()
    assert r.returncode == 0, r.stderr.decode()
    ms = [orjson.loads(line) for line in r.stdout.splitlines()]
    assert [m["input"] for m in ms] == ["mine", "mine"]  # two runs
    assert b"next run in 1 s" in r.stderr
    assert re.search(r"censorwatch_collector_accepted_total 2\b", metrics), metrics[:500]
    assert len(list((tmp_path / "spool" / "receipts").glob("*.json"))) == 2
    assert b"stored 1 new measurements" in r.stderr
