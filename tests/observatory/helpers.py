"""A real observatory (``censorwatch observatory`` in a subprocess) for the tests, and waiting helpers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from collector.helpers import REPO, free_port

TOKEN = "test-admin-token"


def wait_for(cond: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class ObservatoryProcess:
    def __init__(self, db: Path, *extra: str, port: int | None = None, collector_port: int | None = None,
                 token: str | None = TOKEN) -> None:
        self.db = db
        self.port = port or free_port()
        self.collector_port = collector_port or free_port()
        self.extra = extra
        self.token = token
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.parent / f"observatory-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def collector(self) -> str:
        return f"http://127.0.0.1:{self.collector_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CENSORWATCH_")}
        env["PYTHONPATH"] = str(REPO / "src")
        if self.token:
            env["CENSORWATCH_ADMIN_TOKEN"] = self.token
        return env

    def start(self, timeout: float = 90.0) -> ObservatoryProcess:
        args = [sys.executable, "-m", "censorwatch", "observatory", "--db", str(self.db), "--port", str(self.port),
                "--collector-port", str(self.collector_port), "--client-rate", "0", *self.extra]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"observatory exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2.0).status_code == 200 and self.state_file().exists():
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"observatory did not come up in {timeout:.0f} s:\n{self.log.read_text()}")

    def state_file(self) -> Path:
        return self.db.with_name(self.db.name + ".observatory.json")

    def metrics(self) -> dict[str, float]:
        text = httpx.get(self.url + "/metrics", timeout=10.0).text
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name.removeprefix("censorwatch_observatory_")] = float(value)
        return out

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(20)

    def stop(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return self.proc.returncode


def cli(*args: str, token: str | None = None, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENSORWATCH_")}
    env["PYTHONPATH"] = str(REPO / "src")
    if token:
        env["CENSORWATCH_ADMIN_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "censorwatch", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
