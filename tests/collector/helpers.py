"""Helpers for the collector tests: a real collector subprocess on 127.0.0.1 and synthetic measurements."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "censorwatch", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


class CollectorProcess:
    def __init__(self, db: Path, port: int | None = None, *extra: str) -> None:
        self.db = db
        self.port = port or free_port()
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.parent / f"collector-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> CollectorProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        args = [sys.executable, "-m", "censorwatch", "collector", "serve", "--db", str(self.db),
                "--port", str(self.port), *self.extra]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/api/v1/log/sth", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"collector did not come up in {timeout}s:\n{self.log.read_text()}")

    def children(self) -> list[int]:
        """The pids of its child processes (the HTTP front-ends of ``--workers N``)."""
        assert self.proc is not None
        out: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
        return out

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def make_measurement(i: int, *, rng: random.Random | None = None, padding: int = 0,
                     start: str = "2026-03-01 10:00:00") -> dict[str, Any]:
    """A web_connectivity-shaped measurement, unique per ``i``."""
    rng = rng or random.Random(i)
    host = f"site{i}.example"
    body = "".join(rng.choice("abcdefghij <>/") for _ in range(padding))
    return {
        "annotations": {"platform": "linux", "engine_name": "censorwatch"},
        "data_format_version": "0.2.0",
        "input": f"http://{host}/",
        "measurement_start_time": start,
        "probe_asn": "AS64500",
        "probe_cc": "PK",
        "probe_network_name": "Lab ISP",
        "report_id": f"20260301T100000Z_webconnectivity_PK_64500_n1_{i:016d}",
        "software_name": "censorwatch",
        "software_version": "0.1.0",
        "test_keys": {
            "queries": [{"hostname": host, "query_type": "A", "failure": None,
                         "answers": [{"answer_type": "A", "ipv4": f"198.18.{i % 250}.{i % 200 + 1}"}]}],
            "tcp_connect": [{"ip": f"198.18.{i % 250}.{i % 200 + 1}", "port": 80,
                             "status": {"success": True, "failure": None}}],
            "requests": [{"request": {"url": f"http://{host}/", "method": "GET"},
                          "response": {"code": 200, "body": body, "headers": {"Server": "lab"}},
                          "failure": None}],
            "blocking": False,
            "accessible": True,
        },
        "test_name": "web_connectivity",
        "test_runtime": rng.random(),
        "test_start_time": start,
        "test_version": "0.4.3",
    }


@contextlib.contextmanager
def lean_server(config: Any, **options: Any) -> Iterator[str]:
    """The collector's own HTTP server (collector/http.py) in a thread of this process, on a free port:
    a failure inside it shows up here (as a 500 the tests refuse), not only in a subprocess log."""
    import asyncio
    import threading

    from censorwatch.collector.http import serve_async

    port = free_port()
    up = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
            ready = asyncio.Event()
            task = asyncio.create_task(serve_async(config, "127.0.0.1", port, ready=ready, stop=box["stop"], **options))
            await asyncio.wait([asyncio.create_task(ready.wait()), task], return_when=asyncio.FIRST_COMPLETED)
            up.set()
            await task

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced below
            box["error"] = exc
            up.set()

    thread = threading.Thread(target=run, name="lean-collector", daemon=True)
    thread.start()
    if not up.wait(30) or "error" in box:
        raise RuntimeError(f"the lean server did not start: {box.get('error')!r}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)


def resign_export(export: Path, alter: Any = None) -> None:
    """Rewrite an export as a forger would: ``alter(leaf lines) -> leaf lines`` (optional), then every
    receipt and the tree head re-signed with a new key of the forger's, whose key.json replaces the log's."""
    import orjson
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from censorwatch.collector.canonical import canonical_bytes, decode
    from censorwatch.collector.keys import LogSigner, public_key_document
    from censorwatch.collector.merkle import MerkleTree, leaf_hash

    signer = LogSigner(Ed25519PrivateKey.generate())
    leaves = (export / "leaves.jsonl").read_bytes().splitlines()
    if alter is not None:
        leaves = alter(leaves)
    tree, receipts = MerkleTree(), []
    for i, line in enumerate(leaves):
        h = leaf_hash(canonical_bytes(decode(line)))
        tree.append(h)
        receipts.append(orjson.dumps(signer.receipt(i, h, decode(line)["report_id"], 1)))
    (export / "leaves.jsonl").write_bytes(b"\n".join(leaves) + b"\n")
    (export / "receipts.jsonl").write_bytes(b"\n".join(receipts) + b"\n")
    (export / "sth.json").write_bytes(orjson.dumps(signer.sth(tree.size, tree.root(), 1)))
    (export / "key.json").write_bytes(orjson.dumps(public_key_document(signer.public)))
