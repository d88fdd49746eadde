"""The demo world: Pakistan-like, three ISPs, a timeline of a few minutes in real time; probes on every
ISP measure throughout and submit every measurement to a collector over the lab network.

Timeline, as fractions of the run: at 20% X (x.com, twitter.com, twimg) is blocked by TLS SNI reset
on PTCL and Jazz and by the resolver on Nayatel (it answers the blockpage address), and every ISP
starts throttling VPN handshakes by protocol fingerprint (WireGuard, OpenVPN); at 50% the mobile ISP
Jazz goes dark (nothing passes, the collector included: its probes keep measuring into their spool);
at 80% it comes back (X still blocked). Other sites stay reachable throughout. Every third round each
ISP also runs the X platform test and the VPN checks (``lab/platform_demo.py``).

Time is real: every measurement keeps the time it was made, its receipt covers exactly what was
measured, and the observatory finds the block and the outage from the measurements as they arrive.
``Truth`` is the timeline in wall-clock time; ``check`` holds what the product reported (its incidents
and events) against it: anything it found that the timeline does not explain is a false finding.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from censorwatch.lab import platform_demo, relay, scenario, vpn_servers
from censorwatch.lab.errors import LabError
from censorwatch.lab.instance import LabInstance
from censorwatch.lab.probing import run_probe

X_NAMES = ("x.com", "twitter.com", "api.x.com", "t.co", "abs.twimg.com", "pbs.twimg.com", "video.twimg.com")
URLS = ("https://x.com/", "https://twitter.com/", "https://abs.twimg.com/", "https://www.example.com/",
        "https://www.youtube.com/", "http://www.example.org/")
NETWORKS = (
    {"name": "ptcl", "cc": "PK", "asn": "AS17557"},
    {"name": "nayatel", "cc": "PK", "asn": "AS23674"},
    {"name": "jazz", "cc": "PK", "asn": "AS45669"},
)
SNI_RESET = [{"sni": n, "action": "reset"} for n in X_NAMES]
#: every third round also runs the platform test for X and the VPN checks
PLATFORM_EVERY = 3
BLOCK_AT, DARK_AT, BACK_AT = 0.20, 0.50, 0.80
#: the X platform test's target (the catalogue name it measures) and the VPN tests' (their servers)
X_PLATFORM = "x"
VPN_HOSTS = (vpn_servers.LAB_WIREGUARD[0], vpn_servers.LAB_OPENVPN[0])


def demo_scenario(total_s: float) -> scenario.Scenario:
    def at(frac: float) -> float:
        return round(total_s * frac, 1)

    doc = {
        "name": "demo-pakistan",
        "description": "X blocked by SNI reset on PTCL and Jazz, by DNS on Nayatel; VPNs throttled; Jazz (mobile) goes dark",
        "networks": [dict(n) for n in NETWORKS],
        "timeline": [
            {"at": at(BLOCK_AT), "network": "ptcl", "censor": SNI_RESET + platform_demo.VPN_THROTTLE},
            {"at": at(BLOCK_AT), "network": "jazz", "censor": SNI_RESET + platform_demo.VPN_THROTTLE},
            {"at": at(BLOCK_AT), "network": "nayatel", "resolver": {"add": {n: ["@blockpage"] for n in X_NAMES}},
             "censor": platform_demo.VPN_THROTTLE},
            {"at": at(DARK_AT), "network": "jazz", "censor": [{"shutdown": True}]},
            {"at": at(BACK_AT), "network": "jazz", "censor": SNI_RESET + platform_demo.VPN_THROTTLE},
        ],
    }
    return scenario.parse(doc, "demo")


@dataclass(frozen=True, slots=True)
class Truth:
    """What the demo did, in wall-clock UTC: the ground truth its findings are checked against."""

    start: dt.datetime
    end: dt.datetime
    block: dt.datetime  # X blocked and VPNs throttled on every network from here on
    dark: tuple[dt.datetime, dt.datetime]  # the dark network's outage
    dark_network: str = "jazz"
    asns: dict[str, str] = field(default_factory=lambda: {n["asn"]: n["name"] for n in NETWORKS})

    @classmethod
    def of(cls, start: dt.datetime, total_s: float) -> Truth:
        def at(frac: float) -> dt.datetime:
            return start + dt.timedelta(seconds=round(total_s * frac, 1))

        return cls(start, at(1.0), at(BLOCK_AT), (at(DARK_AT), at(BACK_AT)))

    def name(self, asn: str | None) -> str:
        return self.asns.get(asn or "", asn or "?")

    def dark_asn(self) -> str:
        return next(a for a, n in self.asns.items() if n == self.dark_network)


def _time(v: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(v.replace("Z", "+00:00")) if v else None


def is_x(target: str | None) -> bool:
    t = (target or "").lower()
    return t == X_PLATFORM or any(t == n or t.endswith("." + n) or f"//{n}" in t for n in X_NAMES)


def is_vpn(target: str | None) -> bool:
    t = (target or "").lower()
    return any(t == h or f"//{h}:" in t for h in VPN_HOSTS) or t in ("wireguard", "openvpn")


def check(found: Iterable[dict[str, Any]], truth: Truth, *, slack: float = 15.0) -> list[str]:
    """Findings (incidents or events as the API gives them) that the timeline does not explain, one
    sentence each; empty when every finding is true. ``slack``: seconds a measurement may have started
    before the change that it saw (a measurement under way when the rules changed)."""
    s = dt.timedelta(seconds=slack)
    false: list[str] = []
    for f in found:
        start, end = _time(f.get("start")), _time(f.get("end"))
        asns = [a for a in (f.get("asns") or [f.get("asn")]) if a]
        what = f"{f.get('kind')} of {f.get('target') or 'the network'} on {', '.join(truth.name(a) for a in asns)}"
        if start is None:
            false.append(f"{what}: no start time")
        elif f.get("kind") == "outage":
            dark = f"{truth.dark_network} was dark {truth.dark[0]:%H:%M:%S}-{truth.dark[1]:%H:%M:%S}"
            if set(asns) != {truth.dark_asn()}:
                false.append(f"{what}: only {truth.dark_network} went dark")
            elif not truth.dark[0] - 2 * s <= start <= truth.dark[1]:
                false.append(f"{what} from {start:%H:%M:%S}: {dark}")
            elif end is None or not truth.dark[0] <= end <= truth.dark[1] + 2 * s:
                false.append(f"{what} until {f'{end:%H:%M:%S}' if end else 'now'}: {dark}")
        elif is_x(f.get("target")) or is_vpn(f.get("target")):
            if start < truth.block - s:
                false.append(f"{what} from {start:%H:%M:%S}: the block began at {truth.block:%H:%M:%S}")
            elif end is not None and end < truth.end - s:
                false.append(f"{what} ended at {end:%H:%M:%S}: the block never ended")
        else:
            false.append(f"{what}: nothing blocked {f.get('target')} in the demo")
    return false


def missing(incidents: Iterable[dict[str, Any]], truth: Truth) -> list[str]:
    """What the demo did that the product's incidents do not show (yet)."""
    incs = list(incidents)
    out = []
    if not any(i.get("kind") == "blocking" and is_x(i.get("target")) for i in incs):
        out.append("the block of X")
    if not any(i.get("kind") == "outage" and truth.dark_asn() in (i.get("asns") or []) for i in incs):
        out.append(f"the shutdown of {truth.dark_network}")
    if not any(i.get("kind") == "blocking" and is_vpn(i.get("target")) for i in incs):
        out.append("the throttled VPNs")
    return out


@dataclass(slots=True)
class DemoResult:
    measurements: int = 0
    errors: list[str] = field(default_factory=list)


class Demo:
    def __init__(self, minutes: float = 3.0, rounds: int = 24, *, collector: str | None = None,
                 spool: Path | None = None,
                 on_measurement: Callable[[dict[str, Any]], None] | None = None,
                 on_log: Callable[[str], None] | None = None) -> None:
        """``collector``: HOST:PORT of the collector the probes submit to (through the world's collector
        host), with one spool per network under ``spool``; None: measurements are only handed to
        ``on_measurement``."""
        if minutes <= 0 or rounds < 2:
            raise LabError("the demo needs a positive length and at least two rounds")
        if collector is not None and spool is None:
            raise LabError("submitting to a collector needs a spool directory")
        self.total = minutes * 60.0
        self.rounds = rounds
        self.round_s = self.total / rounds
        self.scenario = demo_scenario(self.total)
        self.collector = collector
        self.spool = spool
        self.on_measurement = on_measurement
        self.log = on_log or (lambda _msg: None)
        self.truth: Truth | None = None
        self.result = DemoResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def spool_of(self, network: str) -> Path | None:
        return self.spool / network if self.spool is not None else None

    def run(self) -> DemoResult:
        from censorwatch.lab.pool import POOL
        from censorwatch.lab.probing import PROBE_PRELOAD

        POOL.per_kind[PROBE_PRELOAD] = len(self.scenario.networks)  # a warm probe per network and round
        with LabInstance(self.scenario) as lab:
            self.log(f"world {lab.topo.run_id} up in {lab.timings['up_s']:.2f}s: "
                     + ", ".join(f"{n.name} ({n.cc} {n.asn})" for n in self.scenario.networks))
            if self.collector is not None:
                relay.start(lab, self.collector)
                self.log(f"probes submit to {relay.URL} (the world's collector host), relayed to {self.collector}")
            t0 = time.monotonic()
            self.truth = Truth.of(dt.datetime.now(dt.UTC), self.total)
            threads = [threading.Thread(target=self._timeline, args=(lab, t0), name="timeline", daemon=True)]
            threads += [threading.Thread(target=self._probe_loop, args=(lab, n.name, t0), name=n.name, daemon=True)
                        for n in self.scenario.networks]
            for t in threads:
                t.start()
            try:
                while any(t.is_alive() for t in threads[1:]):
                    time.sleep(0.2)
            finally:
                self._stop.set()
                for t in threads:
                    t.join(timeout=30)
        return self.result

    def _timeline(self, lab: LabInstance, t0: float) -> None:
        for e in self.scenario.timeline:
            if self._stop.wait(max(0.0, t0 + e.at - time.monotonic())):
                return
            lab.apply(e.network, e.censor, e.resolver)
            what = "censor " + (", ".join(sorted({r.action or "dns" for r in e.censor})) if e.censor else "lifted") \
                if e.censor is not None else "resolver changes"
            if e.censor and e.censor[0].matcher == "shutdown":
                what = "shutdown (network dark)"
            self.log(f"t={e.at:5.0f}s {e.network}: {what}")

    def _submit(self, network: str) -> dict[str, Any] | None:
        spool = self.spool_of(network)
        if self.collector is None or spool is None:
            return None
        return {"submit": relay.URL, "spool": str(spool), "submit_wait": min(3.0, self.round_s)}

    def _probe_loop(self, lab: LabInstance, network: str, t0: float) -> None:
        """One round every ``round_s`` seconds; a round that ran late (a dark network waits for its
        timeouts) skips the slots it missed, and nothing starts after the timeline's end."""
        limits = {"timeout": max(30.0, self.round_s * 3), "url_deadline": min(20.0, max(8.0, self.round_s * 1.2))}
        i, platform_at = 0, PLATFORM_EVERY - 1
        while i < self.rounds:
            late = int((time.monotonic() - t0) // self.round_s)
            i = max(i, late)
            if i >= self.rounds or self._stop.wait(max(0.0, t0 + i * self.round_s - time.monotonic())):
                return
            try:
                ms = run_probe(lab, network, "web_connectivity", list(URLS), submit=self._submit(network), **limits)
            except LabError as exc:
                with self._lock:
                    self.result.errors.append(f"{network} round {i}: {exc}")
                i += 1
                continue
            self._keep(ms)
            if i >= platform_at:
                platform_at = i + PLATFORM_EVERY
                try:
                    pairs = platform_demo.measure_round(run_probe, lab, network, submit=self._submit(network),
                                                        **limits)
                except LabError as exc:
                    with self._lock:
                        self.result.errors.append(f"{network} round {i} (platform tests): {exc}")
                else:
                    self._keep([m for m, _v in pairs])
            i += 1

    def _keep(self, ms: list[dict[str, Any]]) -> None:
        with self._lock:
            self.result.measurements += len(ms)
        if self.on_measurement is not None:
            for m in ms:
                self.on_measurement(m)
