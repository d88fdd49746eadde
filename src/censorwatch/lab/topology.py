"""Namespaces, veth pairs, addresses and routes of one world; built and torn down in a few batches.

Per run (prefix ``cw<id>``): ``<p>-inet`` holds every internet host; per ISP network N ``<p>-iN`` (the
probe's network) and ``<p>-cN`` (its censor, routing between the ISP and the internet). Only routes
to 198.18.0.0/15 exist: nothing in the lab can reach the host's networks.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from censorwatch.lab import addresses as A
from censorwatch.lab import netns
from censorwatch.lab.world import World
from censorwatch.model.processes import process_start

STATE_ROOT = Path(os.environ.get("CENSORWATCH_LAB_STATE", "/run/censorwatch-lab"))
PREFIX = "cw"


def new_run_id() -> str:
    """5 hex digits (interface names must stay under 16 characters), not used by a live world."""
    while True:
        rid = secrets.token_hex(3)[:5]
        if not (netns.NETNS_DIR / f"{PREFIX}{rid}-inet").exists() and not (STATE_ROOT / rid).exists():
            return rid


@dataclass(slots=True)
class Topology:
    run_id: str
    networks: list[str]  # scenario network names, in order: index N = ISP N
    owner_pid: int = field(default_factory=os.getpid)
    detached: bool = False
    #: the owner's start time (clock ticks since boot): a reused pid is not mistaken for the owner
    owner_start: int = field(default_factory=lambda: process_start(os.getpid()))

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.run_id}"

    @property
    def inet(self) -> str:
        return f"{self.prefix}-inet"

    def isp(self, n: int) -> str:
        return f"{self.prefix}-i{n}"

    def censor(self, n: int) -> str:
        return f"{self.prefix}-c{n}"

    def isp_if(self, n: int) -> tuple[str, str]:  # (in the ISP, in the censor)
        return f"{self.prefix}i{n}a", f"{self.prefix}i{n}b"

    def up_if(self, n: int) -> tuple[str, str]:  # (in the censor, in the internet)
        return f"{self.prefix}u{n}a", f"{self.prefix}u{n}b"

    def namespaces(self) -> list[str]:
        out = [self.inet]
        for n in range(len(self.networks)):
            out += [self.isp(n), self.censor(n)]
        return out

    def index(self, network: str) -> int:
        return self.networks.index(network)

    @property
    def state_dir(self) -> Path:
        return STATE_ROOT / self.run_id

    def save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / "meta.json.tmp"
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(self.state_dir / "meta.json")

    @classmethod
    def load(cls, run_id: str) -> Topology:
        return cls(**json.loads((STATE_ROOT / run_id / "meta.json").read_text()))

    # -- building ---------------------------------------------------------------------------------------
    def build(self, world: World) -> None:
        """Create everything; on any error the caller's teardown removes what exists."""
        self.save()
        host: list[str] = [f"netns add {ns}" for ns in self.namespaces()]
        for n in range(len(self.networks)):
            a, b = self.isp_if(n)
            host.append(f"link add {a} netns {self.isp(n)} type veth peer name {b} netns {self.censor(n)}")
            a, b = self.up_if(n)
            host.append(f"link add {a} netns {self.censor(n)} type veth peer name {b} netns {self.inet}")
        netns.ip_batch(host)
        inet = ["link set lo up"]
        inet += [f"address add {h.address}/32 dev lo" for h in world.hosts]
        for n in range(len(self.networks)):
            _, b = self.up_if(n)
            inet += [f"address add {A.isp_resolver(n)}/32 dev lo",
                     f"address add {A.uplink_inet(n)}/30 dev {b}", f"link set {b} up",
                     f"route add 198.19.{n}.0/24 via {A.uplink_censor(n)}"]
        netns.ip_batch(inet, self.inet)
        for n in range(len(self.networks)):
            ia, ib = self.isp_if(n)
            ua, _ = self.up_if(n)
            netns.ip_batch([
                "link set lo up", f"address add {A.isp_gateway(n)}/24 dev {ib}",
                f"address add {A.isp_proxy(n)}/24 dev {ib}", f"link set {ib} up",
                f"address add {A.uplink_censor(n)}/30 dev {ua}", f"link set {ua} up",
                f"route add {A.INTERNET_NET} via {A.uplink_inet(n)}",
            ], self.censor(n))
            netns.write_sysctl(self.censor(n), "net.ipv4.ip_forward", "1")
            netns.ip_batch([
                "link set lo up", f"address add {A.isp_client(n)}/24 dev {ia}", f"link set {ia} up",
                f"route add {A.INTERNET_NET} via {A.isp_gateway(n)}",
            ], self.isp(n))
            self._resolv(self.isp(n), A.isp_resolver(n))
        self._resolv(self.inet, A.PUBLIC_RESOLVERS[0])

    def _resolv(self, ns: str, server: str) -> None:
        d = netns.ETC_NETNS / ns
        d.mkdir(parents=True, exist_ok=True)
        (d / "resolv.conf").write_text(f"# censorwatch lab {self.run_id}\nnameserver {server}\n"
                                       "options timeout:2 attempts:2\n")

    # -- teardown ---------------------------------------------------------------------------------------
    def teardown(self) -> list[str]:
        """Kill what runs inside, delete namespaces (their veths and rules die with them), remove files.

        Returns the problems met (empty when everything is gone)."""
        return teardown_namespaces(self.namespaces(), self.state_dir)


def teardown_namespaces(names: list[str], state_dir: Path | None) -> list[str]:
    import signal
    import time

    problems: list[str] = []
    existing = [ns for ns in names if (netns.NETNS_DIR / ns).exists()]
    pids = {pid for ns in existing for pid in netns.netns_pids(ns)} - {os.getpid()}
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 1.0
        while pids and time.monotonic() < deadline:
            pids = {p for p in pids if _alive(p)}
            if pids:
                time.sleep(0.01)
        if not pids:
            break
    if pids:
        problems.append(f"processes still alive: {sorted(pids)}")
    if existing:
        try:
            netns.ip_batch([f"netns del {ns}" for ns in existing], check=True)
        except Exception as exc:  # keep going: report, then try the files
            problems.append(str(exc))
    for ns in names:
        shutil.rmtree(netns.ETC_NETNS / ns, ignore_errors=True)
    if state_dir is not None:
        shutil.rmtree(state_dir, ignore_errors=True)
    left = [ns for ns in names if (netns.NETNS_DIR / ns).exists()]
    if left:
        problems.append(f"namespaces left: {left}")
    return problems


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False
