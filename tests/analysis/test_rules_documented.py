"""Every rule id and every family's version is documented, and every id the code can emit is registered."""

from __future__ import annotations

import re
from pathlib import Path

from censorwatch.analysis.registry import COMMON_RULES, registry
from censorwatch.analysis.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
#: modules of analysis/ owned by other areas, with their own rule ids
OTHER_AREAS = {"throttle.py", "platform.py", "vpn.py", "platform_dispatch.py", "merkle.py"}
#: the families documented outside docs/classification.md
DOCS = {"vpn": "platforms.md", "throughput": "platforms.md", "platform": "platforms.md"}


def _doc(family: str) -> str:
    return (ROOT / "docs" / DOCS.get(family, "classification.md")).read_text(encoding="utf-8")


def test_every_rule_is_documented() -> None:
    missing = [r for r in COMMON_RULES if f"`{r}`" not in _doc("")]
    for fam in registry().families:
        doc = _doc(fam.name)
        missing += [r for r in fam.rules if f"`{r}`" not in doc]
    assert not missing, f"rules missing from the docs: {missing}"


def test_every_rule_id_in_the_code_is_registered() -> None:
    """web_connectivity's ids are in RULES (each family checks its own: tests/analysis/test_families.py)."""
    src = ROOT / "src" / "censorwatch" / "analysis"
    used: set[str] = set()
    for path in src.rglob("*.py"):
        if path.name in OTHER_AREAS or "detect" in path.parts or "experiments" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'"(wc\.[a-z_.]+)"', text))
    assert used, "no rule ids found"
    assert not (used - set(RULES)), f"unregistered: {used - set(RULES)}"


def test_every_familys_current_stamp_is_documented() -> None:
    """docs/classification.md lists every family with the stamp its verdicts carry."""
    classification = _doc("")
    for fam in registry().families:
        assert f"`{fam.stamp}`" in classification, fam.stamp
        assert f"`{fam.stamp}`" in _doc(fam.name), fam.stamp
