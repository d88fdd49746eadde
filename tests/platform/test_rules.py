"""Every rule id the platform area's analysis can emit is registered and documented."""

from __future__ import annotations

import re
from pathlib import Path

from censorwatch.analysis.platform_dispatch import PLATFORM_RULES

ROOT = Path(__file__).resolve().parents[2]


def test_rule_ids_are_registered_and_documented() -> None:
    used: set[str] = set()
    for name in ("vpn", "throttle", "platform"):
        text = (ROOT / "src" / "censorwatch" / "analysis" / f"{name}.py").read_text(encoding="utf-8")
        used |= set(re.findall(r'"((?:vpn|throttle|platform)\.[a-z_.]+)"', text))
    assert used == set(PLATFORM_RULES), (used ^ set(PLATFORM_RULES))
    doc = (ROOT / "docs" / "platforms.md").read_text(encoding="utf-8")
    assert not [r for r in PLATFORM_RULES if f"`{r}`" not in doc]
