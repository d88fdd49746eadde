"""The verdicts stage: classify every stored measurement whose verdict is missing or stale.

A verdict is stale when its ``rules_version`` is none of the current ones
(``analysis.current_versions()``: web_connectivity's ``RULES_VERSION`` and each family's version, every
family's spelled with its name): changing a family's rules and running ``censorwatch analyze``
re-derives that family's verdicts from the raw measurements kept in the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from censorwatch import analysis
from censorwatch.model.measurement import InvalidMeasurement, Measurement
from censorwatch.pipeline.ingest import no_cyclic_gc
from censorwatch.store.db import Store
from censorwatch.store.rows import RowBatch

BATCH_SIZE = 1000

#: ``on_progress(stage, done, total)``
Progress = Callable[[str, int, int], None]


def run(
    store: Store,
    *,
    fingerprints: Any = None,
    rules_version: str | frozenset[str] | None = None,
    batch_size: int = BATCH_SIZE,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Re-classify stale measurements, ``batch_size`` at a time, each batch written in one transaction.

    Returns ``{"stale", "classified", "errors", "seconds"}``. A measurement whose stored bytes no
    longer make a measurement, or whose classification raises, is counted in ``errors`` and left
    stale (the next run tries again); it never stops the stage.
    """
    with no_cyclic_gc():
        return _run(store, fingerprints, rules_version or analysis.current_versions(), batch_size, on_progress)


def _run(
    store: Store, fingerprints: Any, version: str | frozenset[str], batch_size: int, on_progress: Progress | None
) -> dict[str, Any]:
    t0 = time.perf_counter()
    stale = store.count_stale(version)
    classified = errors = done = 0
    if on_progress is not None:
        on_progress("verdicts", 0, stale)
    for rows in store.iter_stale(version, chunk=batch_size):
        batch = RowBatch()
        for r in rows:
            try:
                m = Measurement.from_raw(orjson.loads(r.raw), source=r.source)
                v = analysis.classify(m, fingerprints)
            except (orjson.JSONDecodeError, InvalidMeasurement, Exception):
                # stored bytes that no longer make a measurement, or a rule bug: count it, leave the
                # row stale (the next run tries again), never stop the stage
                errors += 1
                continue
            if v.measurement_uid is None:
                v.measurement_uid = r.measurement_uid
            batch.add_verdict(r.measurement_uid, v, m.measurement_start_time)
        classified += store.write(batch, replace_verdicts=True).verdicts
        done += len(rows)
        if on_progress is not None:
            on_progress("verdicts", done, stale)
    return {"stale": stale, "classified": classified, "errors": errors,
            "seconds": round(time.perf_counter() - t0, 3)}
