"""The demo world: Pakistan-like, three ISPs, a compressed timeline, probes measuring throughout.

Real time is compressed: each probing round stands for one hour of simulated time, and every
measurement's timestamps are moved onto that simulated clock (the real ones stay in
``annotations.censorwatch_demo_real_time``) so the detectors see a day-like series.

Timeline, as fractions of the run: at 25% X (x.com, twitter.com, twimg) is blocked by TLS SNI reset on
PTCL and Jazz and by the resolver on Nayatel (answers the blockpage address); at 55% the mobile ISP Jazz
goes dark; at 80% it comes back (X still blocked). Other sites stay reachable throughout. From the
block on, every ISP also throttles VPN handshakes by protocol fingerprint (WireGuard, OpenVPN), and every
third round each ISP runs the X platform test and the VPN checks (``lab/platform_demo.py``).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from censorwatch.lab import platform_demo, scenario
from censorwatch.lab.errors import LabError
from censorwatch.lab.instance import LabInstance
from censorwatch.lab.probing import classify, run_probe

X_NAMES = ("x.com", "twitter.com", "api.x.com", "t.co", "abs.twimg.com", "pbs.twimg.com", "video.twimg.com")
URLS = ("https://x.com/", "https://twitter.com/", "https://abs.twimg.com/", "https://www.example.com/",
        "https://www.youtube.com/", "http://www.example.org/")
NETWORKS = (
    {"name": "ptcl", "cc": "PK", "asn": "AS17557"},
    {"name": "nayatel", "cc": "PK", "asn": "AS23674"},
    {"name": "jazz", "cc": "PK", "asn": "AS24499"},
)
SNI_RESET = [{"sni": n, "action": "reset"} for n in X_NAMES]
#: every third round also runs the platform test for X and the VPN checks
PLATFORM_EVERY = 3


def demo_scenario(total_s: float) -> scenario.Scenario:
    def at(frac: float) -> float:
        return round(total_s * frac, 1)

    doc = {
        "name": "demo-pakistan",
        "description": "X blocked by SNI reset on PTCL and Jazz, by DNS on Nayatel; Jazz (mobile) goes dark",
        "networks": [dict(n) for n in NETWORKS],
        "timeline": [
            {"at": at(0.25), "network": "ptcl", "censor": SNI_RESET + platform_demo.VPN_THROTTLE},
            {"at": at(0.25), "network": "jazz", "censor": SNI_RESET + platform_demo.VPN_THROTTLE},
            {"at": at(0.25), "network": "nayatel", "resolver": {"add": {n: ["@blockpage"] for n in X_NAMES}},
             "censor": platform_demo.VPN_THROTTLE},
            {"at": at(0.55), "network": "jazz", "censor": [{"shutdown": True}]},
            {"at": at(0.80), "network": "jazz", "censor": SNI_RESET + platform_demo.VPN_THROTTLE},
        ],
    }
    return scenario.parse(doc, "demo")


@dataclass(slots=True)
class DemoResult:
    measurements: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per measurement: time, network, domain, verdict
    platform_rows: list[dict[str, Any]] = field(default_factory=list)  # platform_demo.row() per platform/VPN test
    errors: list[str] = field(default_factory=list)


class Demo:
    def __init__(self, minutes: float = 3.0, rounds: int = 24,
                 on_measurement: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
                 on_log: Callable[[str], None] | None = None) -> None:
        if minutes <= 0 or rounds < 2:
            raise LabError("the demo needs a positive length and at least two rounds")
        self.total = minutes * 60.0
        self.rounds = rounds
        self.round_s = self.total / rounds
        self.scenario = demo_scenario(self.total)
        self.on_measurement = on_measurement
        self.log = on_log or (lambda _msg: None)
        now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        self.sim_start = now - dt.timedelta(hours=rounds)
        self.result = DemoResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def sim_time(self, elapsed: float) -> dt.datetime:
        return self.sim_start + dt.timedelta(hours=elapsed / self.round_s)

    def run(self) -> DemoResult:
        from censorwatch.lab.pool import POOL
        from censorwatch.lab.probing import PROBE_PRELOAD

        POOL.per_kind[PROBE_PRELOAD] = len(self.scenario.networks)  # a warm probe per network and round
        with LabInstance(self.scenario) as lab:
            self.log(f"world {lab.topo.run_id} up in {lab.timings['up_s']:.2f}s: "
                     + ", ".join(f"{n.name} ({n.cc} {n.asn})" for n in self.scenario.networks))
            t0 = time.monotonic()
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
            self.log(f"t={e.at:5.0f}s ({self.sim_time(e.at):%H:%M} simulated) {e.network}: {what}")

    def _probe_loop(self, lab: LabInstance, network: str, t0: float) -> None:
        for i in range(self.rounds):
            start = t0 + i * self.round_s
            if self._stop.wait(max(0.0, start - time.monotonic())):
                return
            elapsed = time.monotonic() - t0
            try:
                ms = run_probe(lab, network, "web_connectivity", list(URLS),
                               timeout=max(30.0, self.round_s * 3), url_deadline=min(20.0, self.round_s * 2))
            except LabError as exc:
                with self._lock:
                    self.result.errors.append(f"{network} round {i}: {exc}")
                continue
            for m in ms:
                self._retime(m, elapsed)
                v = classify(m)
                with self._lock:
                    self.result.measurements += 1
                    self.result.rows.append({"round": i, "network": network, "domain": v.get("domain"),
                                             "blocking": v.get("blocking"), "status": v.get("status"),
                                             "method": v.get("method")})
                if self.on_measurement is not None:
                    self.on_measurement(m, v)
            if i % PLATFORM_EVERY == PLATFORM_EVERY - 1:
                self._platform_round(lab, network, i, elapsed)

    def _platform_round(self, lab: LabInstance, network: str, i: int, elapsed: float) -> None:
        try:
            pairs = platform_demo.measure_round(run_probe, lab, network, timeout=max(30.0, self.round_s * 3),
                                               url_deadline=min(20.0, self.round_s * 2))
        except LabError as exc:
            with self._lock:
                self.result.errors.append(f"{network} round {i} (platform tests): {exc}")
            return
        for m, v in pairs:
            self._retime(m, elapsed)
            with self._lock:
                self.result.measurements += 1
                self.result.platform_rows.append(platform_demo.row(i, network, v))
            if self.on_measurement is not None:
                self.on_measurement(m, v)

    def _retime(self, m: dict[str, Any], elapsed: float) -> None:
        fmt = "%Y-%m-%d %H:%M:%S"
        real = m.get("measurement_start_time")
        sim = self.sim_time(elapsed).strftime(fmt)
        m["measurement_start_time"] = sim
        m["test_start_time"] = sim
        m.setdefault("annotations", {}).update({"censorwatch_demo": True, "censorwatch_demo_real_time": real})
        m.pop("measurement_uid", None)  # the store derives a stable uid from the retimed measurement


def summarize(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(network, domain, outcome over the rounds, methods) for every pair measured."""
    out = []
    pairs = sorted({(r["network"], r["domain"]) for r in rows})
    for net, dom in pairs:
        rs = sorted((r for r in rows if (r["network"], r["domain"]) == (net, dom)), key=lambda r: r["round"])
        marks = "".join("X" if r["blocking"] not in (False, None) else "?" if r["blocking"] is None else "." for r in rs)
        methods = sorted({r["method"] for r in rs if r["method"]})
        out.append((net, dom or "?", marks, ", ".join(methods)))
    return out


def findings(rows: list[dict[str, Any]], sim_start: dt.datetime) -> list[str]:
    """Plain sentences: per network, which domains were blocked from when and how, and dark rounds."""
    def when(r: int) -> str:
        return f"{sim_start + dt.timedelta(hours=r):%H:%M}"

    out = []
    for net in sorted({r["network"] for r in rows}):
        rs = [r for r in rows if r["network"] == net]
        rounds = sorted({r["round"] for r in rs})
        dark = [i for i in rounds if all(r["blocking"] is None for r in rs if r["round"] == i)]
        blocked = [r for r in rs if r["blocking"] not in (False, None)]
        doms = sorted({r["domain"] for r in blocked})
        open_doms = sorted({r["domain"] for r in rs} - set(doms))
        if doms:
            first = min(r["round"] for r in blocked)
            methods = ", ".join(sorted({r["method"] for r in blocked if r["method"]}))
            out.append(f"{net}: {', '.join(doms)} blocked from {when(first)} (simulated) by {methods}; "
                       f"reachable: {', '.join(open_doms) or 'nothing'}")
        else:
            out.append(f"{net}: nothing blocked")
        if dark:
            out.append(f"{net}: dark (no measurement reached anything) in rounds at "
                       + ", ".join(when(i) for i in dark))
    return out
