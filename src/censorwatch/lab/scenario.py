"""Scenario files: parsing and validation of the YAML contract (docs/lab.md).

Every error names the file and the key path (``scenario.yaml: censor[2].action``) and the reason.
Unknown keys and impossible combinations are errors, never ignored.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from censorwatch.lab.errors import ScenarioError
from censorwatch.lab.world import ALIASES

ACTIONS: Final = ("reset", "drop", "close", "refuse", "blockpage", "throttle")
MATCHERS: Final = ("dns", "sni", "host", "endpoint", "protocol", "shutdown")
THROTTLE_KEYS: Final = ("delay_ms", "loss", "rate_kbps")
DEFAULT_NETWORK: Final = {"name": "isp", "cc": "ZZ", "asn": "AS64496"}
_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,19}$")
_LABEL_RE: Final = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_TEST_RE: Final = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
_DURATION_RE: Final = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class ZoneChanges:
    remove: tuple[str, ...] = ()
    add: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.remove or self.add)


@dataclass(frozen=True, slots=True)
class Rule:
    matcher: str  # one of MATCHERS
    target: str = ""  # name, "addr:port[/udp]", protocol name; "" for shutdown
    action: str | None = None  # None for dns rules that spoof an answer
    answer: tuple[str, ...] | None = None
    port: int | None = None
    delay_ms: int = 0
    loss: float = 0.0
    rate_kbps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    cc: str
    asn: str
    resolver: ZoneChanges = ZoneChanges()
    censor: tuple[Rule, ...] = ()


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: float  # seconds from the start
    network: str | None  # None: every network
    censor: tuple[Rule, ...] | None = None
    resolver: ZoneChanges | None = None


@dataclass(frozen=True, slots=True)
class Probe:
    test: str
    input: str | None
    network: str


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    probe: Probe | None
    networks: tuple[Network, ...]
    resolvers_everywhere: ZoneChanges
    timeline: tuple[TimelineEntry, ...]
    source: str

    def network(self, name: str) -> Network:
        for n in self.networks:
            if n.name == name:
                return n
        raise KeyError(name)


def _fail(where: str, reason: str) -> ScenarioError:
    return ScenarioError(where, reason)


def _mapping(v: Any, where: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
    if not isinstance(v, dict):
        raise _fail(where, f"expected a mapping, got {type(v).__name__}")
    for k in v:
        if not isinstance(k, str) or k not in allowed:
            raise _fail(f"{where}.{k}", f"unknown key (allowed: {', '.join(allowed)})")
    for k in required:
        if k not in v:
            raise _fail(f"{where}.{k}", "required key is missing")
    return v


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _fail(where, f"expected a non-empty string, got {v!r}")
    return v.strip()


def hostname(v: Any, where: str, *, wildcard: bool = False) -> str:
    """A DNS name, lower-cased and IDNA-encoded (``яндекс.рф`` -> ``xn--d1acpjx3f.xn--p1ai``)."""
    s = _str(v, where).rstrip(".")
    try:
        s = s.encode("idna").decode("ascii").lower() if not s.isascii() else s.lower()
    except UnicodeError as exc:
        raise _fail(where, f"{v!r} is not a valid (IDNA) hostname: {exc}") from None
    labels = s.split(".")
    if wildcard and labels[0] == "*":
        labels = labels[1:]
    if not labels or not all(_LABEL_RE.match(lab) for lab in labels) or len(s) > 253:
        raise _fail(where, f"{v!r} is not a valid hostname")
    return s


def _is_ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
        return True
    except ValueError:
        return False


def _answers(v: Any, where: str, *, isp_proxy_ok: bool) -> tuple[str, ...]:
    if not isinstance(v, list):
        raise _fail(where, f"expected a list of addresses, aliases or one hostname, got {v!r}")
    out: list[str] = []
    for i, a in enumerate(v):
        w = f"{where}[{i}]"
        s = _str(a, w)
        if s.startswith("@"):
            if s not in ALIASES:
                raise _fail(w, f"unknown alias {s!r} (known: {', '.join(ALIASES)})")
            if s == "@isp_proxy" and not isp_proxy_ok:
                raise _fail(w, "@isp_proxy exists only inside an ISP network, not for every resolver")
            out.append(s)
        elif _is_ipv4(s):
            out.append(s)
        elif ":" in s:
            raise _fail(w, f"{s!r}: only IPv4 answers are supported")
        else:
            out.append(hostname(s, w))
    names = [a for a in out if not a.startswith("@") and not _is_ipv4(a)]
    if names and len(out) > 1:
        raise _fail(where, "a hostname answer is a CNAME and must be the only answer")
    return tuple(out)


def zone_changes(v: Any, where: str, *, isp_proxy_ok: bool = True) -> ZoneChanges:
    m = _mapping(v, where, ("remove", "add"))
    remove = m.get("remove", [])
    if not isinstance(remove, list):
        raise _fail(f"{where}.remove", "expected a list of hostnames")
    add = m.get("add", {})
    if not isinstance(add, dict):
        raise _fail(f"{where}.add", "expected a mapping hostname -> list of answers")
    rem = tuple(hostname(n, f"{where}.remove[{i}]", wildcard=True) for i, n in enumerate(remove))
    added = {
        hostname(k, f"{where}.add.{k}", wildcard=True): _answers(a, f"{where}.add.{k}", isp_proxy_ok=isp_proxy_ok)
        for k, a in add.items()
    }
    both = set(rem) & set(added)
    if both:
        raise _fail(where, f"{sorted(both)[0]!r} is both removed and added")
    return ZoneChanges(rem, added)


def parse_duration(v: Any, where: str) -> float:
    if isinstance(v, bool):
        raise _fail(where, f"expected a duration like 60s, 2m, 500ms, got {v!r}")
    if isinstance(v, int | float):
        secs = float(v)
    else:
        m = _DURATION_RE.match(str(v).strip())
        if not m:
            raise _fail(where, f"expected a duration like 60s, 2m, 500ms, got {v!r}")
        secs = float(m.group(1)) * _UNITS[m.group(2)]
    if secs < 0:
        raise _fail(where, "durations cannot be negative")
    return secs


def _port(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        raise _fail(where, f"expected a port number 1-65535, got {v!r}")
    return v


def _endpoint(v: Any, where: str) -> str:
    s = _str(v, where)
    body, _, proto = s.partition("/")
    if proto and proto not in ("udp", "tcp"):
        raise _fail(where, f"unknown transport suffix /{proto} (use /udp or /tcp)")
    host, sep, port = body.rpartition(":")
    if not sep or not port.isdigit():
        raise _fail(where, f"{s!r}: expected address:port, hostname:port or @alias:port")
    _port(int(port), where)
    if host.startswith("@"):
        if host not in ALIASES:
            raise _fail(where, f"unknown alias {host!r} (known: {', '.join(ALIASES)})")
    elif not _is_ipv4(host):
        host = hostname(host, where)
    return f"{host}:{int(port)}/{proto or 'tcp'}"


def _name_target(v: Any, where: str) -> str:
    s = _str(v, where)
    if s.startswith("@"):
        if s not in ("@control",):
            raise _fail(where, f"only @control names a set of hostnames here, not {s!r}")
        return s
    return hostname(s, where)


def rule(v: Any, where: str) -> Rule:
    if not isinstance(v, dict):
        raise _fail(where, f"expected a mapping, got {type(v).__name__}")
    present = [k for k in MATCHERS if k in v]
    if len(present) != 1:
        raise _fail(where, f"a rule needs exactly one of {', '.join(MATCHERS)} (found {present or 'none'})")
    kind = present[0]
    if kind == "shutdown":
        _mapping(v, where, ("shutdown",))
        if v["shutdown"] is not True:
            raise _fail(f"{where}.shutdown", "must be true (omit the rule to let traffic pass)")
        return Rule("shutdown")
    if kind == "dns":
        m = _mapping(v, where, ("dns", "answer", "action"))
        target = _name_target(m["dns"], f"{where}.dns")
        if ("answer" in m) == ("action" in m):
            raise _fail(where, "a dns rule needs either answer: [...] (spoof; [] = NXDOMAIN) or action: drop")
        if "action" in m:
            if m["action"] != "drop":
                raise _fail(f"{where}.action", f"dns rules support only action: drop, not {m['action']!r}")
            return Rule("dns", target, action="drop")
        return Rule("dns", target, answer=_answers(m["answer"], f"{where}.answer", isp_proxy_ok=True))
    allowed = (kind, "action", "port", *THROTTLE_KEYS) if kind != "endpoint" else (kind, "action", *THROTTLE_KEYS)
    m = _mapping(v, where, allowed, required=("action",))
    action = m["action"]
    if action not in ACTIONS:
        raise _fail(f"{where}.action", f"unknown action {action!r} (known: {', '.join(ACTIONS)})")
    if kind == "endpoint":
        target = _endpoint(m["endpoint"], f"{where}.endpoint")
    elif kind == "protocol":
        target = _str(m["protocol"], f"{where}.protocol").lower()
    else:
        target = _name_target(m[kind], f"{where}.{kind}")
    port = _port(m["port"], f"{where}.port") if "port" in m else None
    throttle = {k: m[k] for k in THROTTLE_KEYS if k in m}
    if throttle and action != "throttle":
        raise _fail(f"{where}.{next(iter(throttle))}", f"only meaningful with action: throttle, not {action}")
    if action == "refuse" and kind in ("sni", "host", "protocol"):
        raise _fail(f"{where}.action", f"refuse answers the SYN, before any {kind} is visible: "
                    "use an endpoint rule, or reset")
    if kind == "endpoint" and target.endswith("/udp") and action in ("close", "blockpage", "throttle"):
        raise _fail(f"{where}.action", f"{action} needs a TCP stream; UDP endpoints support reset, drop, refuse")
    delay, loss, rate = 0, 0.0, None
    if action == "throttle":
        if not throttle:
            raise _fail(where, "throttle needs at least one of delay_ms, loss, rate_kbps")
        delay = throttle.get("delay_ms", 0)
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 60000:
            raise _fail(f"{where}.delay_ms", f"expected milliseconds 0-60000, got {delay!r}")
        loss = throttle.get("loss", 0.0)
        if isinstance(loss, bool) or not isinstance(loss, int | float) or not 0 <= loss < 1:
            raise _fail(f"{where}.loss", f"expected a fraction 0 <= loss < 1, got {loss!r}")
        if "rate_kbps" in throttle:
            rate = throttle["rate_kbps"]
            if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
                raise _fail(f"{where}.rate_kbps", f"expected a positive rate, got {rate!r}")
            rate = float(rate)
    return Rule(kind, target, action=action, port=port, delay_ms=delay, loss=float(loss), rate_kbps=rate)


def rules(v: Any, where: str) -> tuple[Rule, ...]:
    if not isinstance(v, list):
        raise _fail(where, "expected a list of rules")
    return tuple(rule(r, f"{where}[{i}]") for i, r in enumerate(v))


def _network(v: Any, where: str, defaults: dict[str, Any]) -> Network:
    m = _mapping(v, where, ("name", "cc", "asn", "resolver", "censor", "description"), required=("name",))
    name = _str(m["name"], f"{where}.name")
    if not _NAME_RE.match(name):
        raise _fail(f"{where}.name", f"{name!r}: use 1-20 of a-z 0-9 _ - (starting with a letter or digit)")
    cc = m.get("cc", DEFAULT_NETWORK["cc"])
    if not isinstance(cc, str) or not re.fullmatch(r"[A-Za-z]{2}", cc):
        raise _fail(f"{where}.cc", f"expected a two-letter country code, got {cc!r}")
    asn = m.get("asn", DEFAULT_NETWORK["asn"])
    if isinstance(asn, int) and not isinstance(asn, bool):
        asn = f"AS{asn}"
    if not isinstance(asn, str) or not re.fullmatch(r"(?i)AS\d{1,10}", asn):
        raise _fail(f"{where}.asn", f"expected an AS number like AS17557, got {asn!r}")
    resolver = zone_changes(m["resolver"], f"{where}.resolver") if "resolver" in m else defaults["resolver"]
    censor = rules(m["censor"], f"{where}.censor") if "censor" in m else defaults["censor"]
    return Network(name, cc.upper(), asn.upper(), resolver, censor)


def _timeline(v: Any, where: str, names: set[str]) -> tuple[TimelineEntry, ...]:
    if not isinstance(v, list):
        raise _fail(where, "expected a list of entries")
    out = []
    for i, e in enumerate(v):
        w = f"{where}[{i}]"
        m = _mapping(e, w, ("at", "network", "censor", "resolver"), required=("at",))
        net = m.get("network")
        if net is not None and net not in names:
            raise _fail(f"{w}.network", f"no network named {net!r} (networks: {', '.join(sorted(names))})")
        if "censor" not in m and "resolver" not in m:
            raise _fail(w, "a timeline entry changes censor and/or resolver; it has neither")
        out.append(TimelineEntry(
            parse_duration(m["at"], f"{w}.at"), net,
            rules(m["censor"], f"{w}.censor") if "censor" in m else None,
            zone_changes(m["resolver"], f"{w}.resolver") if "resolver" in m else None,
        ))
    return tuple(sorted(out, key=lambda t: t.at))


TOP_KEYS: Final = ("name", "description", "probe", "resolver", "resolvers_everywhere", "censor", "networks",
                   "timeline")


def parse(doc: Any, source: str = "<scenario>") -> Scenario:
    m = _mapping(doc, source, TOP_KEYS, required=("name",))
    name = _str(m["name"], f"{source}: name")
    desc = m.get("description", "")
    if not isinstance(desc, str):
        raise _fail(f"{source}: description", "expected a string")
    defaults: dict[str, Any] = {
        "resolver": zone_changes(m["resolver"], f"{source}: resolver") if "resolver" in m else ZoneChanges(),
        "censor": rules(m["censor"], f"{source}: censor") if "censor" in m else (),
    }
    if "networks" in m:
        nets_v = m["networks"]
        if not isinstance(nets_v, list) or not nets_v:
            raise _fail(f"{source}: networks", "expected a non-empty list of networks")
        networks = tuple(_network(n, f"{source}: networks[{i}]", defaults) for i, n in enumerate(nets_v))
    else:
        networks = (Network(DEFAULT_NETWORK["name"], DEFAULT_NETWORK["cc"], DEFAULT_NETWORK["asn"],
                            defaults["resolver"], defaults["censor"]),)
    names = [n.name for n in networks]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise _fail(f"{source}: networks", f"network name {sorted(dup)[0]!r} is used twice")
    from censorwatch.lab.addresses import MAX_NETWORKS

    if len(networks) > MAX_NETWORKS:
        raise _fail(f"{source}: networks", f"at most {MAX_NETWORKS} networks per world")
    everywhere = (zone_changes(m["resolvers_everywhere"], f"{source}: resolvers_everywhere", isp_proxy_ok=False)
                  if "resolvers_everywhere" in m else ZoneChanges())
    probe = None
    if "probe" in m:
        p = _mapping(m["probe"], f"{source}: probe", ("test", "input", "network"), required=("test",))
        test = _str(p["test"], f"{source}: probe.test")
        if not _TEST_RE.match(test):
            raise _fail(f"{source}: probe.test", f"{test!r} is not a test name")
        inp = _str(p["input"], f"{source}: probe.input") if "input" in p else None
        if test == "web_connectivity" and inp is None:
            raise _fail(f"{source}: probe.input", "web_connectivity needs an input URL")
        net = p.get("network", names[0])
        if net not in names:
            raise _fail(f"{source}: probe.network", f"no network named {net!r} (networks: {', '.join(names)})")
        probe = Probe(test, inp, net)
    timeline = _timeline(m["timeline"], f"{source}: timeline", set(names)) if "timeline" in m else ()
    return Scenario(name, desc, probe, networks, everywhere, timeline, source)


def load(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(p), f"cannot read: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        raise ScenarioError(loc, f"invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return parse(doc, str(p))


def load_many(paths: list[str] | list[Path]) -> list[Scenario]:
    scenarios = [load(p) for p in paths]
    seen: dict[str, str] = {}
    for s in scenarios:
        if s.name in seen:
            raise ScenarioError(f"{s.source}: name", f"{s.name!r} is already used by {seen[s.name]}")
        seen[s.name] = s.source
    return scenarios
