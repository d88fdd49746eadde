"""A warm pool of ``nsrun`` processes: servers whose imports are already done, waiting to be told
which namespace to enter. ``lab run`` builds many worlds; with the pool only the first pays the
import time of the world daemon and the control server."""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2])


def _spawn(preload: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([SRC, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.Popen([sys.executable, "-m", "censorwatch.lab.nsrun", "--preload", preload],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env, start_new_session=True)


class Pool:
    def __init__(self) -> None:
        self.idle: dict[str, list[subprocess.Popen[str]]] = {}
        self.target = 0  # idle processes kept per kind; lab run and the demo raise it
        self.per_kind: dict[str, int] = {}  # overrides of ``target`` by preload string
        self.lock = threading.Lock()
        atexit.register(self.close)

    def take(self, preload: str) -> subprocess.Popen[str]:
        """A process that preloads ``preload`` (warm if one is idle); the pool refills behind it."""
        with self.lock:
            idle = [p for p in self.idle.get(preload, []) if p.poll() is None]
            proc = idle.pop(0) if idle else None
            while len(idle) < self.per_kind.get(preload, self.target):
                idle.append(_spawn(preload))
            self.idle[preload] = idle
        return proc or _spawn(preload)

    def close(self) -> None:
        with self.lock:
            procs = [p for ps in self.idle.values() for p in ps]
            self.idle.clear()
        for p in procs:  # EOF on stdin ends an idle nsrun; kill as a fallback
            with contextlib.suppress(OSError):
                if p.stdin is not None:
                    p.stdin.close()
        for p in procs:
            try:
                p.wait(timeout=1)
            except subprocess.TimeoutExpired:
                p.kill()


POOL = Pool()
