"""Layer 3: drives ``analysis`` over ``store``.

``run_analysis`` runs the analysis stages in order over a store. Each stage is one call that returns
a small dict of counts for the summary; add a stage by adding one line.
"""

from __future__ import annotations

from typing import Any

from censorwatch.pipeline import verdicts
from censorwatch.pipeline.verdicts import Progress
from censorwatch.store.db import Store

ENGINES = ("local", "spark")

StageResult = dict[str, Any]


def run_analysis(
    store: Store, engine: str = "local", *, fingerprints: Any = None, on_progress: Progress | None = None
) -> dict[str, StageResult]:
    """Run every analysis stage over ``store``: verdicts first (what later stages read).

    ``engine`` picks how the aggregate stages run (``local`` DuckDB or ``spark``); classification
    itself is always local Python. ``on_progress(stage, done, total)`` reports long stages.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    results: dict[str, StageResult] = {}
    results["verdicts"] = verdicts.run(store, fingerprints=fingerprints, on_progress=on_progress)
    return results
