"""Interoperability with a real WireGuard implementation: wireguard-go (userspace, TUN) in a private
network namespace, configured with ``wg``. Needs root and the Debian packages wireguard-go and
wireguard-tools (scripts/system-deps.sh); fails, never skips, without them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from censorwatch.probe.circumvention import wireguard

pytestmark = pytest.mark.lab
SRC = Path(__file__).resolve().parents[2] / "src"


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=20)


@pytest.fixture
def wg_server(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A wireguard-go server on 127.0.0.1:51820 in its own namespace: (namespace, server public, peer private)."""
    missing = [t for t in ("wireguard-go", "wg", "ip") if shutil.which(t) is None]
    assert not missing, f"install {missing} (Debian: wireguard-go wireguard-tools iproute2) and run as root"
    assert os.geteuid() == 0, "needs root (network namespaces, TUN)"
    server_priv, server_pub = wireguard.generate()
    peer_priv, peer_pub = wireguard.generate()
    key = tmp_path / "server.key"
    key.write_text(server_priv)
    ns = f"cwplat-{uuid.uuid4().hex[:8]}"
    _run("ip", "netns", "add", ns)
    proc = None
    try:
        _run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        env = {**os.environ, "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1"}
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "wireguard-go", "-f", "wg0"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "show", "wg0"],
                              capture_output=True).returncode == 0:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        _run("ip", "netns", "exec", ns, "wg", "set", "wg0", "listen-port", "51820", "private-key", str(key),
             "peer", peer_pub, "allowed-ips", "10.9.0.2/32")
        _run("ip", "netns", "exec", ns, "ip", "link", "set", "wg0", "up")
        yield ns, server_pub, peer_priv
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def test_a_real_wireguard_server_answers_our_initiation(wg_server: tuple[str, str, str], tmp_path: Path) -> None:
    ns, server_pub, peer_priv = wg_server
    base = f"wireguard://127.0.0.1:51820?public_key={server_pub}"
    env = {**os.environ, "PYTHONPATH": str(SRC), "CENSORWATCH_CONFIG_DIR": str(tmp_path / "cfg")}
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "censorwatch", "vpn",
                        f"{base}&private_key={peer_priv}", base, "--accept-risk", "--allow-loopback",
                        "--timeout", "3", "--out", "-"], capture_output=True, env=env, timeout=90)
    assert r.returncode == 0, r.stderr.decode()
    known, unknown = (orjson.loads(line) for line in r.stdout.splitlines())
    # the configured peer: wireguard-go's handshake response authenticates under our Noise state
    assert known["test_keys"]["handshake"]["success"] is True
    assert known["test_keys"]["handshake"]["response"] == "response"
    assert peer_priv not in known["input"]
    # a peer the server does not know is dropped silently, as the protocol says
    assert unknown["test_keys"]["handshake"]["failure"] == "generic_timeout_error"
    # (the responder counts a handshake as complete only after the first transport message, which a
    # reachability check never sends, so `wg show latest-handshakes` stays 0 by design)
