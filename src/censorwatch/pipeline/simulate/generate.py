"""Generate an OONI-format measurement stream and its ground truth from a ``Scenario``.

Every measurement is a template measurement (``templates/<outcome>.json``) with the target's domain,
the network, the time and fresh ids substituted in. Outcomes per measurement, first that applies:
the network is dark (no measurement) or unreachable (``control_failure``); the target's site is down
for everyone (``site_down``: the control fails too); a block covers (cc, asn, target) and a draw under
``partial`` hits (the block method's template); a draw under ``noise`` (a flaky spurious anomaly,
``tcp_timeout`` or ``tls_reset``); a draw under ``failure`` (``control_failure``); else ``ok``.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from censorwatch.model.events import iso
from censorwatch.pipeline.simulate.scenario import METHOD_TEMPLATES, Network, Scenario

TEMPLATES = Path(__file__).parent / "templates"
TEMPLATE_DOMAIN = "example.org"
_MARKS = {
    "measurement_start_time": "@@T@@", "test_start_time": "@@T@@", "probe_asn": "@@ASN@@",
    "resolver_asn": "@@ASN@@", "probe_cc": "@@CC@@", "report_id": "@@RID@@",
    "probe_network_name": "@@NET@@", "resolver_network_name": "@@NET@@", "measurement_uid": "@@UID@@",
}


def _template_text(name: str) -> str:
    obj: dict[str, Any] = orjson.loads((TEMPLATES / f"{name}.json").read_bytes())
    obj["measurement_uid"] = None
    for k, mark in _MARKS.items():
        obj[k] = mark
    return orjson.dumps(obj).decode()


@dataclass(slots=True)
class Stats:
    measurements: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


def _poisson(rnd: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rnd.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rnd.random()
        if p <= limit:
            return k
        k += 1


class Generator:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        names = {"ok", "site_down", "control_failure", "tcp_timeout", "tls_reset", *METHOD_TEMPLATES.values()}
        self.raw = {n: _template_text(n) for n in names}
        self._cache: dict[tuple[str, str], str] = {}

    def _text(self, outcome: str, target: str) -> str:
        key = (outcome, target)
        t = self._cache.get(key)
        if t is None:
            t = self._cache[key] = self.raw[outcome].replace(TEMPLATE_DOMAIN, target)
        return t

    def outcome(self, net: Network, target: str, t: datetime, rnd: random.Random) -> str | None:
        sc = self.sc
        for o in sc.outages:
            if o.cc == net.cc and o.asn == net.asn and o.period.covers(t):
                return None if o.mode == "dark" else "control_failure"
        for tgt, p in sc.site_outages:
            if tgt == target and p.covers(t):
                return "site_down"
        for b in sc.blocks:
            if b.target == target and b.cc == net.cc and net.asn in b.asns and any(
                p.covers(t) for p in b.periods
            ):
                if rnd.random() < b.partial:
                    return METHOD_TEMPLATES[b.method]
                break
        r = rnd.random()
        if r < sc.noise:
            return "tcp_timeout" if r < sc.noise / 2 else "tls_reset"
        if r < sc.noise + sc.failure:
            return "control_failure"
        return "ok"

    def _times(self, net: Network, rnd: random.Random) -> Iterator[tuple[datetime, str]]:
        sc = self.sc
        hours = int((sc.end - sc.start).total_seconds() // 3600)
        for h in range(hours):
            base = sc.start + timedelta(hours=h)
            f = 1.0 + sc.diurnal * math.sin(2 * math.pi * ((base.hour - 9) % 24) / 24)
            found: list[tuple[datetime, str]] = []
            if net.bursty:
                for _ in range(_poisson(rnd, net.rate * f)):
                    t0 = base + timedelta(seconds=rnd.uniform(0, 3600))
                    found.extend(
                        (t0 + timedelta(seconds=4 * i), tg) for i, tg in enumerate(sc.targets)
                    )
            else:
                for tg in sc.targets:
                    found.extend(
                        (base + timedelta(seconds=rnd.uniform(0, 3600)), tg)
                        for _ in range(_poisson(rnd, net.rate * f))
                    )
            found.sort()
            yield from (x for x in found if x[0] < sc.end)

    def measurements(self, net: Network, stats: Stats) -> Iterator[bytes]:
        seed = int.from_bytes(hashlib.blake2b(f"{self.sc.seed}/{net.cc}/{net.asn}".encode(), digest_size=8).digest())
        rnd = random.Random(seed)
        asn_num = net.asn.removeprefix("AS")
        name = net.name or f"Simulated network {net.asn}"
        for t, target in self._times(net, rnd):
            out = self.outcome(net, target, t, rnd)
            if out is None:
                continue
            h = hashlib.blake2b(f"{seed}/{t.timestamp()}/{target}".encode(), digest_size=10).hexdigest()
            ts = t.astimezone(UTC)
            uid = f"{ts:%Y%m%d%H%M%S}.{int(h[:5], 16) % 1_000_000:06d}_{net.cc}_webconnectivity_{h[4:20]}"
            rid = f"{ts:%Y%m%dT%H%M%SZ}_webconnectivity_{net.cc}_{asn_num}_n1_{h}"
            text = (
                self._text(out, target).replace("@@T@@", f"{ts:%Y-%m-%d %H:%M:%S}")
                .replace("@@ASN@@", net.asn).replace("@@CC@@", net.cc).replace("@@RID@@", rid)
                .replace("@@NET@@", name).replace("@@UID@@", uid)
            )
            stats.measurements += 1
            stats.by_outcome[out] = stats.by_outcome.get(out, 0) + 1
            yield text.encode()


def truth(sc: Scenario) -> dict[str, Any]:
    blocks = [
        {"cc": b.cc, "asn": a, "target": b.target, "method": b.method, "start": iso(p.start),
         "end": iso(p.end), "partial": b.partial}
        for b in sc.blocks for a in b.asns for p in b.periods
    ]
    censored = {b.cc for b in sc.blocks}
    return {
        "scenario": sc.name, "start": iso(sc.start), "end": iso(sc.end), "targets": sc.targets,
        "networks": [{"cc": n.cc, "asn": n.asn, "rate": n.rate, "bursty": n.bursty} for n in sc.networks],
        "blocks": sorted(blocks, key=lambda b: (b["cc"], b["asn"], b["target"], b["start"])),
        "outages": [{"cc": o.cc, "asn": o.asn, "start": iso(o.period.start), "end": iso(o.period.end),
                     "mode": o.mode} for o in sc.outages],
        "site_outages": [{"target": t, "start": iso(p.start), "end": iso(p.end)} for t, p in sc.site_outages],
        "uncensored_countries": sorted({n.cc for n in sc.networks} - censored),
    }


def write(
    sc: Scenario, out: Path, truth_path: Path, on_network: Callable[[int], None] | None = None
) -> Stats:
    """Write the measurements (gzip JSON lines) and the truth (JSON); returns counts."""
    gen = Generator(sc)
    stats = Stats()
    with gzip.open(out, "wb", compresslevel=1) as f:
        for net in sc.networks:
            buf: list[bytes] = []
            for line in gen.measurements(net, stats):
                buf.append(line)
                if len(buf) >= 2000:
                    f.write(b"\n".join(buf) + b"\n")
                    buf.clear()
            if buf:
                f.write(b"\n".join(buf) + b"\n")
            if on_network is not None:
                on_network(1)
    t = truth(sc)
    t["measurements"] = stats.measurements
    t["by_outcome"] = stats.by_outcome
    truth_path.write_bytes(orjson.dumps(t, option=orjson.OPT_INDENT_2) + b"\n")
    return stats
