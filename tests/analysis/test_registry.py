"""The analysis registry: one family per test name, one verdict constructor, no import circle."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from censorwatch.analysis import RULES, classify
from censorwatch.analysis.fingerprints import builtin_fingerprints
from censorwatch.analysis.registry import COMMON_RULES, Family, Registry, RegistryError, registry
from censorwatch.model.measurement import Measurement
from censorwatch.model.verdict import Verdict

SRC = Path(__file__).resolve().parents[2] / "src" / "censorwatch"


def _m(test: str, tk: dict[str, object] | None = None) -> Measurement:
    return Measurement.from_raw({"test_name": test, "measurement_start_time": "2024-02-17 10:00:00",
                                 "test_keys": tk or {}}, source="t")


def _family(name: str, tests: tuple[str, ...], rules: dict[str, str] | None = None, **kw: object) -> Family:
    def judge(m: Measurement, fps: object) -> Verdict:
        raise AssertionError("not called")
    return Family(name, tests, f"{name}-1", rules if rules is not None else {f"{name}.ok": "fine"}, judge, **kw)  # type: ignore[arg-type]


def test_a_test_name_claimed_twice_is_refused() -> None:
    with pytest.raises(RegistryError, match="'x' is claimed by families 'a' and 'b'"):
        Registry([_family("a", ("x",)), _family("b", ("y", "x"))])


def test_a_rule_declared_twice_is_refused() -> None:
    with pytest.raises(RegistryError, match=r"'a\.ok' is declared by families 'a' and 'b'"):
        Registry([_family("a", ("x",)), _family("b", ("y",), rules={"a.ok": "again"})])


def test_a_shape_tells_two_claimers_apart() -> None:
    ours = _family("ours", ("x",), shape=lambda m: bool((m.test_keys or {}).get("mine")))
    reg = Registry([_family("theirs", ("x",)), ours])
    assert reg.family_of(_m("x", {"mine": True})) is ours
    assert reg.family_of(_m("x")).name == "theirs"
    assert reg.family_of(_m("nobody")) is reg.unknown
    alone = Registry([ours])
    assert alone.family_of(_m("x")) is ours  # no default: the only claimer judges every shape


def test_a_new_family_rejudges_what_had_no_rules() -> None:
    """``unknown_test`` verdicts are stamped with a version that follows the claimed test names."""
    before = Registry([_family("a", ("x",))])
    after = Registry([_family("a", ("x",)), _family("b", ("y",))])
    assert before.unknown.stamp != after.unknown.stamp
    assert Registry([_family("a", ("x",))]).unknown.stamp == before.unknown.stamp


def test_the_build_registry() -> None:
    reg = registry()
    names = [f.name for f in reg.families]
    assert len(names) == len(set(names))
    assert {"web_connectivity", "vpn", "throughput", "platform"} <= set(names)
    assert reg.rules == RULES
    assert set(RULES) == set(COMMON_RULES).union(*(f.rules for f in reg.families))
    for fam in reg.families:
        assert fam.version and fam.summary and fam.tests, fam.name
        assert all(r in fam.rules for r in fam.rules)
    assert reg.family_of(_m("web_connectivity")).name == "web_connectivity"
    assert reg.family_of(_m("openvpn")).name != "vpn"  # OONI's openvpn test keeps OONI's rules
    assert reg.family_of(_m("openvpn", {"protocol": "openvpn", "handshake": {}})).name == "vpn"
    assert reg.family_of(_m("wireguard")).name == "vpn"


def test_every_verdict_is_stamped_by_its_family() -> None:
    fps = builtin_fingerprints()
    for m in (_m("web_connectivity"), _m("wireguard", {"protocol": "wireguard", "handshake": {"success": True}}),
              _m("throughput", {"samples": []}), _m("dash"), _m("tor", {"targets": {}})):
        fam = registry().family_of(m)
        v = classify(m, fps)
        assert v.rules_version == fam.stamp and (v.rule in fam.rules or v.rule in COMMON_RULES), (m.test_name, v)
        assert (v.fingerprints is not None) == fam.uses_fingerprints


def test_make_verdict_refuses_a_rule_of_another_family() -> None:
    from censorwatch.analysis.verdicts import make_verdict

    with pytest.raises(AssertionError, match="not declared by family 'web_connectivity'"):
        make_verdict(_m("web_connectivity"), "ok", "vpn.ok", "x")


def test_a_bumped_family_changes_only_its_own_stamp() -> None:
    reg = registry()
    bumped = Registry([dataclasses.replace(f, version="next") if f.name == "vpn" else f for f in reg.families])
    assert set(reg.stamps) ^ set(bumped.stamps) == {"vpn-3", "next"}


def test_verdicts_are_built_by_one_constructor() -> None:
    """No module but analysis/verdicts.py calls ``Verdict(...)``."""
    callers = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Verdict":
                callers.append(str(path.relative_to(SRC)))
    assert callers == ["analysis/verdicts.py"]


def test_no_family_module_stamps_its_own_version() -> None:
    for name in ("vpn.py", "throttle.py", "platform.py"):
        text = (SRC / "analysis" / name).read_text(encoding="utf-8")
        assert "RULES_VERSION" not in text and "rules_version=" not in text, name


def _module_imports(path: Path, name: str) -> set[str]:
    """The censorwatch modules ``path`` imports at module level (imports inside functions run late)."""
    out: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("censorwatch"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if (SRC.parent / (sub.replace(".", "/") + ".py")).exists()
                        or (SRC.parent / sub.replace(".", "/")).is_dir() else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("censorwatch"))
    return out


def test_the_analysis_modules_import_no_circle() -> None:
    """platform -> classify -> experiments -> platform_dispatch -> platform was a circle; the platform
    rules now judge URL endpoints with ``web.judge_test_keys`` and never reach the dispatcher."""
    graph: dict[str, set[str]] = {}
    for path in (SRC / "analysis").rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        graph[name] = _module_imports(path, name)
    state: dict[str, int] = {}
    path_: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        path_.append(n)
        for d in sorted(graph.get(n, ())):
            if d == n or d == "censorwatch.analysis" or d not in graph:
                continue
            if state.get(d) == 1:
                raise AssertionError("import circle: " + " -> ".join([*path_[path_.index(d):], d]))
            if d not in state:
                visit(d)
        path_.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert "censorwatch.analysis.classify" not in graph["censorwatch.analysis.platform"]
