"""Every rule id exists in docs/classification.md and every id the code can emit is registered."""

from __future__ import annotations

import re
from pathlib import Path

from censorwatch.analysis.rules import RULES

ROOT = Path(__file__).resolve().parents[2]


def test_every_rule_is_documented() -> None:
    doc = (ROOT / "docs" / "classification.md").read_text(encoding="utf-8")
    missing = [r for r in RULES if f"`{r}`" not in doc]
    assert not missing, f"rules missing from docs/classification.md: {missing}"


def test_every_rule_id_in_the_code_is_registered() -> None:
    src = ROOT / "src" / "censorwatch" / "analysis"
    used: set[str] = set()
    for path in src.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'"((?:wc|whatsapp|telegram|signal|facebook_messenger|bootstrap|tor|openvpn|'
                               r'riseupvpn|meek|hirl|hhfm|http_requests|dns_consistency|browser_web|dnscheck)'
                               r'\.[a-z_.]+)"', text))
    assert used, "no rule ids found"
    assert not (used - set(RULES)), f"unregistered: {used - set(RULES)}"
