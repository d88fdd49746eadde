"""Every rule id a verdict can carry, with one line saying what it decides: the union of the families'.

Each family (``analysis/registry.py``) declares its own rules and version; docs/classification.md
explains every id, and ``tests/analysis/test_rules_documented.py`` checks both lists agree.
``RULES_VERSION`` changes whenever any family's version does (for reports; staleness is per family).
"""

from __future__ import annotations

from typing import Final

from censorwatch.analysis.registry import registry

RULES: Final[dict[str, str]] = registry().rules
RULES_VERSION: Final[str] = registry().version
