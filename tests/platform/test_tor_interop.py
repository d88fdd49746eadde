"""Interoperability with a real Tor relay's OR port (tor, not published, in a private network namespace
with no route out). Needs root and the Debian package tor; fails, never skips, without them."""

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

pytestmark = pytest.mark.lab
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[str]:
    assert shutil.which("tor") and shutil.which("ip"), "install tor and iproute2 (Debian) and run as root"
    assert os.geteuid() == 0, "needs root (network namespaces)"
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    torrc = tmp_path / "torrc"
    torrc.write_text(f"ORPort 127.0.0.1:9001\nSocksPort 0\nDataDirectory {data}\nPublishServerDescriptor 0\n"
                     "AssumeReachable 1\nExitRelay 0\nNickname cwtest\nLog notice stdout\n")
    ns = f"cwplat-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=20)
    proc = None
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True, timeout=20)
        log = tmp_path / "tor.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(["ip", "netns", "exec", ns, "tor", "-f", str(torrc)], stdout=fh,
                                    stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "Opened OR listener" not in log.read_text():
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"tor did not open its OR port: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield ns
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def test_a_real_tor_relay_answers_versions(relay: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "CENSORWATCH_CONFIG_DIR": str(tmp_path / "cfg")}
    r = subprocess.run(["ip", "netns", "exec", relay, sys.executable, "-m", "censorwatch", "vpn", "tor://127.0.0.1:9001",
                        "--accept-risk", "--allow-loopback", "--timeout", "5", "--out", "-"],
                       capture_output=True, env=env, timeout=90)
    assert r.returncode == 0, r.stderr.decode()
    (m,) = [orjson.loads(line) for line in r.stdout.splitlines()]
    hs = m["test_keys"]["handshake"]
    assert hs["success"] is True and hs["response"] in ("versions:4", "versions:5"), hs
    assert m["test_keys"]["tls_handshakes"][0]["handshake_failure"] is None
