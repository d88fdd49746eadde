"""One running lab world: topology + world daemon + control server + censors, with guaranteed teardown.

Teardown runs on normal exit, on errors (try/finally), at interpreter exit (atexit) and on SIGINT/SIGTERM
(the handlers raise :class:`Interrupted` so every ``finally`` runs). ``censorwatch lab clean`` removes
what a killed process (SIGKILL) could not.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import platformdirs

from censorwatch.lab import addresses as A
from censorwatch.lab import netns
from censorwatch.lab.censor import compile_rules
from censorwatch.lab.certs import CertStore
from censorwatch.lab.errors import LabError, require_root
from censorwatch.lab.pool import POOL
from censorwatch.lab.scenario import Rule, Scenario, TimelineEntry, ZoneChanges
from censorwatch.lab.topology import Topology, new_run_id
from censorwatch.lab.world import CONTROL_NAMES, DEFAULT_WORLD, World

#: how long a server may take to say it is ready. A server that dies is noticed at once; a slow one
#: is waited for, because on a loaded machine start-up is slow, not broken.
READY_TIMEOUT = 120.0
RELOAD_TIMEOUT = 60.0
#: what each server imports before it is needed (see pool.py)
CONTROL_PRELOAD = "censorwatch.cli.control,censorwatch.control.serve"  # only the control command
DAEMON_PRELOAD = "censorwatch.lab.daemon"
VPN_PRELOAD = "censorwatch.lab.vpn_servers"
CONTROL_PORT = 443
CONTROL_URL = f"https://{CONTROL_NAMES[0]}/"
DOH_URL = f"https://{A.PUBLIC_RESOLVERS[0]}/dns-query"


def cache_dir() -> Path:
    env = os.environ.get("CENSORWATCH_LAB_CACHE")
    return Path(env) if env else Path(platformdirs.user_cache_dir("censorwatch")) / "lab"


class Interrupted(KeyboardInterrupt):
    """SIGINT/SIGTERM arrived while a lab world was up."""


_LIVE: dict[str, LabInstance] = {}
_LOCK = threading.Lock()
_HANDLERS_INSTALLED = False


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(f"signal {signal.Signals(signum).name}")


def install_handlers() -> None:
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    atexit.register(teardown_all)
    _HANDLERS_INSTALLED = True


def teardown_all() -> None:
    for inst in list(_LIVE.values()):
        inst.down()


class LabInstance:
    def __init__(self, scenario: Scenario, world: World = DEFAULT_WORLD, *, control: bool = True,
                 run_id: str | None = None) -> None:
        self.scenario = scenario
        self.world = world
        self.want_control = control
        self.topo = Topology(run_id or new_run_id(), [n.name for n in scenario.networks])
        self.certs = CertStore(cache_dir(), world)
        self.daemon: subprocess.Popen[str] | None = None
        self.control: subprocess.Popen[str] | None = None
        self.vpn: subprocess.Popen[str] | None = None
        self.censor: dict[str, tuple[Rule, ...]] = {n.name: n.censor for n in scenario.networks}
        self.resolver: dict[str, ZoneChanges] = {n.name: n.resolver for n in scenario.networks}
        self.everywhere = scenario.resolvers_everywhere
        self.compiled: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.generation = 0  # of config.json; the daemon acknowledges each reload with it
        self._lines: dict[int, _Lines] = {}  # stdout of the servers, by pid
        self._installed: dict[int, str] = {}  # the censor chains in force, by network index
        self._apply_lock = threading.Lock()  # one rule change at a time: each waits for its own reload
        self._up = False

    # -- lifecycle ----------------------------------------------------------------------------------------
    def __enter__(self) -> LabInstance:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        require_root()
        install_handlers()
        t0 = time.monotonic()
        with _LOCK:
            _LIVE[self.topo.run_id] = self
        self._up = True
        try:
            self.topo.save()
            # servers come from the warm pool (imports done) and enter the internet namespace on "go"
            starts: list[tuple[subprocess.Popen[str], list[str], str]] = []
            self.daemon = POOL.take(DAEMON_PRELOAD)
            starts.append((self.daemon, ["censorwatch.lab.daemon", str(self.topo.state_dir)], "daemon"))
            if self.want_control:
                self.control = POOL.take(CONTROL_PRELOAD)
                starts.append((self.control, self._control_argv(), "control"))
            self.vpn = POOL.take(VPN_PRELOAD)
            starts.append((self.vpn, ["censorwatch.lab.vpn_servers", "--lab-defaults"], "vpn"))
            self.certs.ensure()
            self.topo.build(self.world)
            self._compile_all()
            self._write_config()
            t1 = time.monotonic()
            for proc, argv, name in starts:
                assert proc.stdin is not None
                go = {"ns": self.topo.inet, "argv": argv, "log": str(self.topo.state_dir / f"{name}.log")}
                proc.stdin.write(json.dumps(go) + "\n")
                proc.stdin.flush()
            self._wait_ready(self.daemon, "world daemon")
            if self.vpn is not None:
                self._wait_ready(self.vpn, "VPN servers", "vpn")
            if self.control is not None:
                self._wait_control()
            self.timings = {"topology_s": t1 - t0, "up_s": time.monotonic() - t0}
        except BaseException:
            self.down()
            raise

    def down(self) -> list[str]:
        """Idempotent and thorough: also cleans up after a half-finished ``up``."""
        self._up = False
        t0 = time.monotonic()
        for p in (self.control, self.daemon, self.vpn):  # stateless servers: no graceful shutdown needed
            if p is not None and p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
        for p in (self.control, self.daemon, self.vpn):
            if p is not None:
                try:
                    p.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.pid, signal.SIGKILL)
                    p.wait(timeout=2)
        problems = self.topo.teardown()
        with _LOCK:
            _LIVE.pop(self.topo.run_id, None)
        self.timings["down_s"] = time.monotonic() - t0
        return problems

    def detach(self) -> None:
        """Leave the world running after this process exits (``lab up``); ``lab down`` removes it."""
        assert self.daemon is not None
        with _LOCK:
            _LIVE.pop(self.topo.run_id, None)
        from censorwatch.model.processes import process_start

        self.topo.owner_pid = self.daemon.pid
        self.topo.owner_start = process_start(self.daemon.pid)
        self.topo.detached = True
        self.topo.save()

    # -- processes ----------------------------------------------------------------------------------------
    def _wait_ready(self, p: subprocess.Popen[str], what: str, log_name: str = "daemon",
                    expect: str = "ready", timeout: float = READY_TIMEOUT) -> None:
        """Wait for the line ``expect`` on ``p``'s stdout; a line ``failed: REASON`` is an error."""
        lines = self._lines.setdefault(p.pid, _Lines(p))
        line = lines.wait_for(expect, timeout)
        if line == expect:
            return
        log = self.topo.state_dir / f"{log_name}.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        said = f"{line}; " if line else f"no {expect!r} within {timeout:.0f}s (exit {p.poll()}): "
        raise LabError(f"{what}: {said}{tail}")

    def _control_argv(self) -> list[str]:
        self.certs.ensure()
        cert = self.certs.host(A.CONTROL)
        asn_map = self.topo.state_dir / "asn-map.csv"
        asn_map.write_text(asn_map_csv(self.scenario))
        # the CLI app with only the control command registered (not every command module of the CLI)
        return ["censorwatch.cli.app:app", "control", "serve", "--lab-mode",
               "--host", A.CONTROL, "--port", str(CONTROL_PORT), "--tls-cert", str(cert.cert),
               "--tls-key", str(cert.key), "--ca-file", str(self.certs.ca_file), "--doh-url", DOH_URL,
               "--asn-map", str(asn_map)]

    def _wait_control(self) -> None:
        import socket

        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.control is not None and self.control.poll() is not None:
                tail = (self.topo.state_dir / "control.log").read_text()[-2000:]
                raise LabError(f"control server exited ({self.control.returncode}): {tail}")
            with netns.netns(self.topo.inet):
                s = socket.socket()
            s.settimeout(0.5)
            try:
                s.connect((A.CONTROL, CONTROL_PORT))
                return
            except OSError:
                time.sleep(0.05)
            finally:
                s.close()
        raise LabError("control server did not start listening")

    # -- rules --------------------------------------------------------------------------------------------
    def _compile_all(self) -> None:
        """Compile every network's rules and install those that changed. The first time the whole
        ruleset; after that only the censor's own chains (CW, CWNAT): replacing whole tables would
        take their base chains' hooks away for a moment, and the kernel drops every packet waiting
        in NFQUEUE when its hook goes (an unrelated datagram lost on a rule change)."""
        for n, name in enumerate(self.topo.networks):
            c = compile_rules(self.censor[name], self.world, n, self.topo.isp_if(n)[1])
            if n not in self._installed:
                netns.iptables_restore(self.topo.censor(n), c.iptables)
            elif self._installed[n] != c.chains:
                netns.iptables_restore(self.topo.censor(n), c.chains, noflush=True)
            self._installed[n] = c.chains
            self.compiled[name] = c

    def _write_config(self) -> None:
        self.generation += 1
        cfg = {
            "generation": self.generation,
            "run_id": self.topo.run_id,
            "cache_dir": str(cache_dir()),
            "everywhere": _zc(self.everywhere),
            "networks": [
                {"index": n, "name": name, "censor_ns": self.topo.censor(n), "resolver": _zc(self.resolver[name]),
                 "proxy_rules": self.compiled[name].proxy_rules}
                for n, name in enumerate(self.topo.networks)
            ],
        }
        tmp = self.topo.state_dir / "config.json.tmp"
        tmp.write_text(json.dumps(cfg))
        tmp.replace(self.topo.state_dir / "config.json")

    def apply(self, network: str | None, censor: tuple[Rule, ...] | None = None,
              resolver: ZoneChanges | None = None) -> None:
        """Change the rules of one network (None: every network) while the world runs."""
        self.apply_step([TimelineEntry(0.0, network, censor, resolver)])

    def apply_step(self, entries: list[TimelineEntry]) -> None:
        """Apply several changes (in order; a later one wins) as one step. When it returns the step is
        in force: the kernel's rules are installed and the daemon has acknowledged the new
        configuration (its proxy, packet judge and resolvers use it from their next decision)."""
        with self._apply_lock:
            if self.daemon is None or self.daemon.poll() is not None:
                raise LabError("the world daemon is not running: rules cannot change")
            for e in entries:
                for name in self.topo.networks if e.network is None else [e.network]:
                    if e.censor is not None:
                        self.censor[name] = e.censor
                    if e.resolver is not None:
                        self.resolver[name] = e.resolver
            self._compile_all()
            self._write_config()
            os.killpg(self.daemon.pid, signal.SIGHUP)
            self._wait_ready(self.daemon, "world daemon reload", expect=f"reloaded {self.generation}",
                             timeout=RELOAD_TIMEOUT)

    def apply_timeline(self, until: float) -> None:
        """Apply every timeline entry with ``at <= until`` as one step (virtual time: no waiting)."""
        due = [e for e in self.scenario.timeline if e.at <= until]
        if due:
            self.apply_step(due)

    # -- using it -----------------------------------------------------------------------------------------
    def ns_of(self, network: str) -> str:
        return self.topo.isp(self.topo.index(network))

    def exec_cmd(self, network: str, cmd: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns_of(network), *cmd]

    def network_info(self, network: str) -> dict[str, Any]:
        n = self.topo.index(network)
        net = self.scenario.network(network)
        return {"name": network, "cc": net.cc, "asn": net.asn, "namespace": self.topo.isp(n),
                "client": A.isp_client(n), "resolver": A.isp_resolver(n), "isp_proxy": A.isp_proxy(n)}


def asn_map_csv(scenario: Scenario, world: World = DEFAULT_WORLD) -> str:
    """network,asn,cc,as_name rows for the control server: every world host, every ISP of the scenario."""
    rows = ["network,asn,cc,as_name"]
    rows += [f"{h.address}/32,{h.asn},{h.cc},{h.as_name}" for h in world.hosts]
    rows.append(f"198.18.53.0/24,{LAB_RESOLVER_ASN},ZZ,lab ISP resolvers")
    for n, net in enumerate(scenario.networks):
        rows.append(f"198.19.{n}.0/24,{net.asn.removeprefix('AS')},{net.cc},{net.name}")
        rows.append(f"198.19.{100 + n}.0/30,{net.asn.removeprefix('AS')},{net.cc},{net.name}")
    return "\n".join(rows) + "\n"


LAB_RESOLVER_ASN = 64553


def _zc(z: ZoneChanges) -> dict[str, Any]:
    return {"remove": list(z.remove), "add": {k: list(v) for k, v in z.add.items()}}


class _Lines:
    """The lines a server writes to stdout, read from the pipe's descriptor (not through a buffered
    file object, whose buffer ``select`` cannot see: two lines arriving together would leave the
    second unseen until the timeout)."""

    def __init__(self, p: subprocess.Popen[str]) -> None:
        assert p.stdout is not None
        self.p, self.fd, self.buf = p, p.stdout.fileno(), b""

    def wait_for(self, expect: str, timeout: float) -> str | None:
        """Lines up to ``expect`` or one starting with ``failed``; that line, or None on EOF/timeout."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self.buf:
                raw, self.buf = self.buf.split(b"\n", 1)
                line = raw.decode(errors="replace").strip()
                if line == expect or line.startswith("failed"):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if r:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    return None
                self.buf += chunk
            elif self.p.poll() is not None:
                return None
