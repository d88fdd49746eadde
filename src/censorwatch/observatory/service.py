"""The observatory process: the collector's intake as child processes, the store loop, the web server.

Start order: open the store (it fails here, with one sentence, if another process holds it), start
the collector process (supervised: started again after an unexpected exit, with a backoff) and wait
until it answers, start the store loop's thread, start the dashboard (uvicorn, in a thread, on a
socket bound here), then write ``<db>.observatory.json``.

Stop (SIGTERM, SIGINT, or ``stop()``), in the order that loses nothing: the collector stops first (its
front-ends finish the answers in flight, its writer commits what is queued: everything acknowledged
is in the log); the store loop finishes its jobs and stores every leaf the log signed; then the web
server stops, the store closes and the state file goes. A SIGKILL loses nothing acknowledged either:
the collector dies with the observatory (``PR_SET_PDEATHSIG``), the log is durable, and the next
start resumes from the store's watermark (ingestion is idempotent: each leaf is stored once).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import censorwatch
from censorwatch import __version__
from censorwatch.observatory import statefile
from censorwatch.observatory.config import ObservatoryConfig
from censorwatch.pipeline.live import Analyze, LoopSettings, StoreLoop
from censorwatch.store.db import Store, StoreError
from censorwatch.store.evidence import evidence_dir

log = logging.getLogger("censorwatch.observatory")
READY_TIMEOUT = 60.0


class StartError(RuntimeError):
    """The observatory cannot start; the message says why and what to do."""


def free_port(host: str) -> int:
    family = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _bound(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartError(f"cannot listen on {host}:{port} for the dashboard: {exc.strerror}") from None
    sock.listen(2048)
    return sock


class Intake:
    """The collector process, started again (after 1 s, doubling up to 30 s) whenever it exits while
    the observatory runs. Its thread spawns it: ``PR_SET_PDEATHSIG`` follows the spawning thread."""

    def __init__(self, settings: dict[str, Any], url: str) -> None:
        self.settings = settings
        self.url = url
        self.proc: subprocess.Popen[bytes] | None = None
        self.up = threading.Event()
        self.failed: str | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="observatory-intake", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.up.wait(0.1):
            if self.failed is not None:
                raise StartError(self.failed)
            if time.monotonic() > deadline:
                raise StartError(f"the collector did not answer at {self.url} within {timeout:.0f} s")

    def _spawn(self) -> subprocess.Popen[bytes]:
        root = str(Path(censorwatch.__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        return subprocess.Popen(
            [sys.executable, "-m", "censorwatch.observatory.intake", json.dumps(self.settings), str(os.getpid())],
            env=env, stdin=subprocess.DEVNULL)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v1/log/sth", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _run(self) -> None:
        delay, ever_up = 1.0, False
        while not self._stopping.is_set():
            started = time.monotonic()
            self.proc = proc = self._spawn()
            while proc.poll() is None and not self._stopping.is_set() and not self.up.is_set():
                if self._answers():
                    self.up.set()
                    ever_up = True
                    log.info("collector (pid %d) listens on %s", proc.pid, self.url)
                else:
                    time.sleep(0.1)
            code = proc.wait()
            self.up.clear()
            if self._stopping.is_set():
                return
            if not ever_up:
                self.failed = (f"the collector exited before it answered (exit code {code}): is "
                               f"{self.url.removeprefix('http://')} already in use? Its own message is above")
                return
            self.restarts += 1
            log.error("the collector (pid %d) exited with %s; starting it again in %.0f s", proc.pid, code, delay)
            if self._stopping.wait(delay):
                return
            delay = min(30.0, delay * 2) if time.monotonic() - started < 60 else 1.0

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM: the collector finishes the answers in flight and commits what is queued."""
        self._stopping.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.error("the collector did not stop within %.0f s; killing it", timeout)
                proc.kill()
                proc.wait()
        self._thread.join(timeout)


class Observatory:
    def __init__(self, config: ObservatoryConfig, *, analyze: Analyze | None = None) -> None:
        self.config = config
        self._analyze = analyze
        self.store: Store | None = None
        self.loop: StoreLoop | None = None
        self.intake: Intake | None = None
        self.server: Any = None
        self.dashboard_url = ""
        self.collector_url = ""
        self._loop_thread: threading.Thread | None = None
        self._web_thread: threading.Thread | None = None
        self._stop_loop = threading.Event()
        self._stopped = False
        self.started_at = dt.datetime.now(dt.UTC)

    # -- start ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Everything up and listening when this returns; ``StartError`` (everything undone) if not."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        cfg = self.config
        try:
            self.store = Store(cfg.db)
        except StoreError as exc:
            raise StartError(str(exc)) from None
        from censorwatch.store.views import ensure_indexes

        ensure_indexes(self.store.con)
        fps = self._fingerprints()
        dash_sock = _bound(cfg.host, cfg.port)
        dash_port = int(dash_sock.getsockname()[1])
        col_port = cfg.collector_port or free_port(cfg.collector_host)
        self.dashboard_url = cfg.public_base_url(dash_port)
        self.collector_url = f"http://{_url_host(cfg.collector_host)}:{col_port}"
        from censorwatch.collector.server import default_workers

        self.intake = Intake({
            "evidence_dir": str(evidence_dir(cfg.db)), "host": cfg.collector_host, "port": col_port,
            "workers": cfg.collector_workers or default_workers(), "client_rate": cfg.client_rate,
            "client_burst": cfg.client_burst,
        }, self.collector_url)
        self.intake.start()
        self.intake.wait_ready()
        self.loop = StoreLoop(self.store, LoopSettings(
            analyze_every=cfg.analyze_every, analyze_min_gap=cfg.analyze_min_gap, ingest_every=cfg.ingest_every,
            alerts_every=cfg.alerts_every, max_backoff=cfg.max_backoff, base_url=self.dashboard_url,
            fingerprints=fps), analyze=self._analyze, on_analysed=self._analysed)
        self._loop_thread = threading.Thread(target=self.loop.run, args=(self._stop_loop,),
                                             name="observatory-store", daemon=True)
        self._loop_thread.start()
        self._start_web(dash_sock)
        statefile.write(cfg.db, statefile.ServiceInfo(
            pid=os.getpid(), process_start=statefile.process_start(os.getpid()), dashboard=self.dashboard_url,
            collector=self.collector_url, started_at=self.started_at.isoformat(timespec="seconds"),
            version=__version__))
        log.info("observatory: dashboard %s, collector %s, store %s", self.dashboard_url, self.collector_url, cfg.db)

    def _fingerprints(self) -> Any:
        from censorwatch.analysis.fingerprints import load_fingerprints

        try:
            fps = load_fingerprints(self.config.fingerprints)
        except (OSError, ValueError) as exc:
            raise StartError(f"cannot load fingerprints: {exc}") from None
        if fps.errors:
            log.warning("%d fingerprint rows skipped, first: %s", len(fps.errors), fps.errors[0])
        return fps

    def _start_web(self, sock: socket.socket) -> None:
        import uvicorn

        from censorwatch.observatory.api import attach
        from censorwatch.web.app import create_app

        assert self.store is not None
        app = create_app(self.store.con.cursor(), db_path=self.config.db, admin_token=self.config.admin_token,
                         base_url=self.dashboard_url, cache_ttl=self.config.cache_ttl)
        attach(app, self)
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
        self._web_thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                            name="observatory-web", daemon=True)
        self._web_thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.server.started:
            if not self._web_thread.is_alive() or time.monotonic() > deadline:
                raise StartError("the dashboard server did not start (see the log above)")
            time.sleep(0.02)

    def _analysed(self, results: dict[str, Any]) -> None:
        app = getattr(self, "app", None)
        if app is not None:
            app.state.cache.clear()

    # -- state -------------------------------------------------------------------------------------------
    @property
    def loop_alive(self) -> bool:
        return self._loop_thread is not None and self._loop_thread.is_alive()

    # -- stop --------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Collector, then the store loop's drain, then the web server; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self.intake is not None:
            self.intake.stop()
        if self._loop_thread is not None:
            self._stop_loop.set()
            assert self.loop is not None
            self.loop.wake()
            self._loop_thread.join()
        if self.server is not None and self._web_thread is not None:
            self.server.should_exit = True
            self._web_thread.join(30)
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.close()
        statefile.remove(self.config.db, os.getpid())
        log.info("observatory stopped")

    def run(self) -> None:
        """Start, serve until SIGTERM/SIGINT, stop (the main thread's entry point)."""
        stop = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("%s: stopping", signal.Signals(signum).name)
            stop.set()

        old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not stop.wait(1.0):
                if not self.loop_alive:
                    raise StartError("the store loop ended unexpectedly")
        finally:
            self.stop()
            for s, h in old.items():
                signal.signal(s, h)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
