"""Interoperability with a real OpenVPN server (openvpn 2.6, UDP and TCP) in a private network namespace.
Needs root and the Debian package openvpn (scripts/system-deps.sh); fails, never skips, without them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from platform_certs import make_ca_and_server

pytestmark = pytest.mark.lab
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def ovpn_servers(tmp_path: Path) -> Iterator[str]:
    """openvpn servers on 127.0.0.1:1194/udp and 127.0.0.1:1195/tcp inside a new namespace."""
    assert shutil.which("openvpn") and shutil.which("ip"), "install openvpn and iproute2 (Debian) and run as root"
    assert os.geteuid() == 0, "needs root (network namespaces, TUN)"
    make_ca_and_server(tmp_path)
    ns = f"cwplat-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=20)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True, timeout=20)
        for proto, port, net in (("udp", 1194, "10.8.0.0"), ("tcp-server", 1195, "10.9.0.0")):
            conf = tmp_path / f"{proto}.conf"
            conf.write_text(f"dev tun\nproto {proto}\nport {port}\nca {tmp_path}/ca.pem\ncert {tmp_path}/server.pem\n"
                            f"key {tmp_path}/server.key\ndh none\nserver {net} 255.255.255.0\nverb 3\n")
            log = (tmp_path / f"{proto}.log").open("wb")
            procs.append(subprocess.Popen(["ip", "netns", "exec", ns, "openvpn", "--config", str(conf)],
                                          stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            logs = [(tmp_path / f"{p}.log").read_text() for p in ("udp", "tcp-server")]
            if all("Initialization Sequence Completed" in t for t in logs):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"openvpn did not start: {logs}")
        yield ns
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def test_a_real_openvpn_server_answers_the_hard_reset(ovpn_servers: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "CENSORWATCH_CONFIG_DIR": str(tmp_path / "cfg")}
    r = subprocess.run(["ip", "netns", "exec", ovpn_servers, sys.executable, "-m", "censorwatch", "vpn",
                        "openvpn://127.0.0.1:1194?transport=udp", "openvpn://127.0.0.1:1195?transport=tcp",
                        "--accept-risk", "--allow-loopback", "--timeout", "3", "--out", "-"],
                       capture_output=True, env=env, timeout=90)
    assert r.returncode == 0, r.stderr.decode()
    for line in r.stdout.splitlines():
        m = orjson.loads(line)
        hs = m["test_keys"]["handshake"]
        assert hs["success"] is True and hs["response"] == "server_hard_reset", (m["input"], hs)
        assert m["test_keys"]["openvpn_handshake"][0]["status"]["success"] is True
