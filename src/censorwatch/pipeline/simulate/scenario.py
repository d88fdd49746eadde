"""Simulator scenarios: a YAML/JSON file describing countries, networks, targets and ground truth.

```yaml
name: pk-x-2024
start: 2024-02-10T00:00:00Z     # UTC
days: 14
seed: 1
noise: 0.03                     # share of spurious anomalies (flaky networks), per measurement
failure: 0.02                   # share of measurements whose control failed (no verdict possible)
diurnal: 0.5                    # day/night volume swing (0 = flat)
targets: [x.com, wikipedia.org, example.org]
countries:
  - cc: PK
    networks:
      - {asn: AS17557, rate: 1.5}               # measurements per target per hour (Poisson)
      - {asn: AS59257, rate: 0.5, bursty: true} # whole test list at once, rate/len(targets) runs/h
  - cc: IT
    networks: [{asn: AS30722, rate: 1}]
blocks:
  - {cc: PK, target: x.com, method: tls.reset, start: 2024-02-17T10:00:00Z, end: null,
     asns: [AS17557], partial: 1.0, restorations: [[2024-02-18T12:00:00Z, 2024-02-18T20:00:00Z]]}
outages:                        # a network going dark: no measurements (mode: dark) or all failing
  - {cc: PK, asn: AS59257, start: 2024-02-08T06:00:00Z, end: 2024-02-08T18:00:00Z, mode: dark}
site_outages:                   # the site is down for everyone, the control too
  - {target: example.org, start: ..., end: ...}
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

METHOD_TEMPLATES = {
    "tls.reset": "tls_reset", "dns.nxdomain": "dns_nxdomain", "dns.bogon": "dns_bogon",
    "tcp.timeout": "tcp_timeout", "http.blockpage": "blockpage",
}


class ScenarioError(ValueError):
    """The scenario cannot be used; the message says where and why."""


@dataclass(slots=True)
class Network:
    cc: str
    asn: str
    rate: float
    bursty: bool = False
    name: str = ""


@dataclass(slots=True)
class Period:
    start: datetime
    end: datetime | None

    def covers(self, t: datetime) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass(slots=True)
class Block:
    cc: str
    target: str
    method: str
    asns: list[str]
    periods: list[Period]  # the block minus its restorations
    partial: float = 1.0


@dataclass(slots=True)
class Outage:
    cc: str
    asn: str
    period: Period
    mode: str = "dark"


@dataclass(slots=True)
class Scenario:
    name: str
    start: datetime
    end: datetime
    seed: int
    targets: list[str]
    networks: list[Network]
    blocks: list[Block] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    site_outages: list[tuple[str, Period]] = field(default_factory=list)
    noise: float = 0.03
    failure: float = 0.02
    diurnal: float = 0.0


def _time(v: Any, where: str, *, null: bool = False) -> datetime | None:
    if v is None and null:
        return None
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    if isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    raise ScenarioError(f"{where}: expected an ISO 8601 time{' or null' if null else ''}, got {v!r}")


def _num(d: dict[str, Any], key: str, where: str, default: float, lo: float, hi: float) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise ScenarioError(f"{where}.{key}: expected a number in [{lo}, {hi}], got {v!r}")
    return float(v)


def _list(d: dict[str, Any], key: str, where: str, required: bool = False) -> list[Any]:
    v = d.get(key)
    if v is None and not required:
        return []
    if not isinstance(v, list):
        raise ScenarioError(f"{where}.{key}: expected a list, got {v!r}")
    return v


def _dict(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ScenarioError(f"{where}: expected a mapping, got {v!r}")
    return v


def _str(d: dict[str, Any], key: str, where: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not v:
        raise ScenarioError(f"{where}.{key}: expected a non-empty string, got {v!r}")
    return v


def parse(obj: Any, source: str = "scenario") -> Scenario:
    d = _dict(obj, source)
    start = _time(d.get("start"), f"{source}.start")
    assert start is not None
    days = _num(d, "days", source, 7, 1 / 24, 366)
    targets = [str(t) for t in _list(d, "targets", source, required=True)]
    if not targets:
        raise ScenarioError(f"{source}.targets: at least one target is needed")
    networks: list[Network] = []
    for i, c in enumerate(_list(d, "countries", source, required=True)):
        w = f"{source}.countries[{i}]"
        c = _dict(c, w)
        cc = _str(c, "cc", w).upper()
        for j, n in enumerate(_list(c, "networks", w, required=True)):
            wn = f"{w}.networks[{j}]"
            n = _dict(n, wn)
            networks.append(Network(cc, _str(n, "asn", wn).upper(), _num(n, "rate", wn, 1.0, 0.0, 1000.0),
                                    bool(n.get("bursty", False)), str(n.get("name", ""))))
    known = {(n.cc, n.asn) for n in networks}
    sc = Scenario(
        name=str(d.get("name", "scenario")), start=start, end=start + timedelta(days=days),
        seed=int(d.get("seed", 0)), targets=targets, networks=networks,
        noise=_num(d, "noise", source, 0.03, 0, 0.5), failure=_num(d, "failure", source, 0.02, 0, 0.5),
        diurnal=_num(d, "diurnal", source, 0.0, 0, 0.95),
    )
    for i, b in enumerate(_list(d, "blocks", source)):
        w = f"{source}.blocks[{i}]"
        b = _dict(b, w)
        cc = _str(b, "cc", w).upper()
        method = _str(b, "method", w)
        if method not in METHOD_TEMPLATES:
            raise ScenarioError(f"{w}.method: {method!r} is not one of {', '.join(METHOD_TEMPLATES)}")
        asns = [str(a).upper() for a in _list(b, "asns", w)] or [n.asn for n in networks if n.cc == cc]
        for a in asns:
            if (cc, a) not in known:
                raise ScenarioError(f"{w}.asns: {cc}/{a} is not a network of the scenario")
        target = _str(b, "target", w)
        if target not in targets:
            raise ScenarioError(f"{w}.target: {target!r} is not in targets")
        bs = _time(b.get("start"), f"{w}.start")
        be = _time(b.get("end"), f"{w}.end", null=True)
        assert bs is not None
        periods = [Period(bs, be)]
        for k, r in enumerate(_list(b, "restorations", w)):
            if not isinstance(r, list) or len(r) != 2:
                raise ScenarioError(f"{w}.restorations[{k}]: expected [start, end]")
            rs, re_ = _time(r[0], f"{w}.restorations[{k}][0]"), _time(r[1], f"{w}.restorations[{k}][1]")
            assert rs is not None and re_ is not None
            last = periods[-1]
            if not (last.start < rs < re_ and (last.end is None or re_ < last.end)):
                raise ScenarioError(f"{w}.restorations[{k}]: must lie inside the block, in order")
            periods[-1:] = [Period(last.start, rs), Period(re_, last.end)]
        sc.blocks.append(Block(cc, target, method, asns, periods, _num(b, "partial", w, 1.0, 0.05, 1.0)))
    for i, o in enumerate(_list(d, "outages", source)):
        w = f"{source}.outages[{i}]"
        o = _dict(o, w)
        cc, asn = _str(o, "cc", w).upper(), _str(o, "asn", w).upper()
        if (cc, asn) not in known:
            raise ScenarioError(f"{w}: {cc}/{asn} is not a network of the scenario")
        mode = str(o.get("mode", "dark"))
        if mode not in ("dark", "unreachable"):
            raise ScenarioError(f"{w}.mode: expected dark or unreachable, got {mode!r}")
        os_, oe = _time(o.get("start"), f"{w}.start"), _time(o.get("end"), f"{w}.end", null=True)
        assert os_ is not None
        sc.outages.append(Outage(cc, asn, Period(os_, oe), mode))
    for i, s in enumerate(_list(d, "site_outages", source)):
        w = f"{source}.site_outages[{i}]"
        s = _dict(s, w)
        ss, se = _time(s.get("start"), f"{w}.start"), _time(s.get("end"), f"{w}.end", null=True)
        assert ss is not None
        sc.site_outages.append((_str(s, "target", w), Period(ss, se)))
    return sc


def load(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise ScenarioError(f"{where}: not valid YAML/JSON: {getattr(exc, 'problem', exc)}") from exc
    return parse(obj, str(path))
