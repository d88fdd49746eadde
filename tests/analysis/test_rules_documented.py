"""Every rule id exists in docs/classification.md and every id the code can emit is registered."""

from __future__ import annotations

import re
from pathlib import Path

from censorwatch.analysis.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
#: modules of analysis/ owned by other areas, with their own rule ids and versions
OTHER_AREAS = {"throttle.py", "platform.py", "vpn.py", "platform_dispatch.py", "merkle.py"}


def test_every_rule_is_documented() -> None:
    doc = (ROOT / "docs" / "classification.md").read_text(encoding="utf-8")
    missing = [r for r in RULES if f"`{r}`" not in doc]
    assert not missing, f"rules missing from docs/classification.md: {missing}"


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


def test_the_documented_rules_version_is_the_current_one() -> None:
    from censorwatch.analysis import RULES_VERSION

    doc = (ROOT / "docs" / "classification.md").read_text(encoding="utf-8")
    assert f"Rules version: `{RULES_VERSION}`" in doc
