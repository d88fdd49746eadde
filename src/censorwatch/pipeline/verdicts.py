"""The verdicts stage: classify every stored measurement whose verdict is missing or stale.

Staleness is per family of rules (``analysis/registry.py``): a verdict is stale when its family's
version changed, or, for families that read fingerprints, when the active fingerprint set did.
Changing one family's rules and running ``censorwatch analyze`` re-derives that family's verdicts of
the whole history from the raw measurements kept in the store, and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from censorwatch import analysis
from censorwatch.analysis.fingerprints import Fingerprints, default_fingerprints
from censorwatch.analysis.registry import fingerprints_identity, registry
from censorwatch.model.measurement import InvalidMeasurement, Measurement
from censorwatch.model.verdict import Verdict
from censorwatch.pipeline.ingest import no_cyclic_gc
from censorwatch.store.db import CurrentRules, Store
from censorwatch.store.reader import ReadError
from censorwatch.store.rows import RowBatch
from censorwatch.store.uid import NoUid, stable_uid

BATCH_SIZE = 1000

#: ``on_progress(stage, done, total)``
Progress = Callable[[str, int, int], None]


def classify_items(
    items: Iterable[Measurement | ReadError], fingerprints: Fingerprints, on_error: Callable[[ReadError], None]
) -> Iterator[Verdict]:
    """The verdict of every measurement in ``items``, without a store, its ``measurement_uid`` OONI's or
    the one the store would give it. A bad record, or whatever one measurement raises (a rule bug, no
    uid), goes to ``on_error`` against its source; the rest go on."""
    for item in items:
        if isinstance(item, ReadError):
            on_error(item)
            continue
        try:
            uid = stable_uid(item)
            v = analysis.classify(item, fingerprints)
        except NoUid as exc:
            on_error(ReadError(item.source or "-", f"no uid for this record: {exc}"))
            continue
        except Exception as exc:
            on_error(ReadError(item.source or "-", f"classification failed: {exc!r}"))
            continue
        if v.measurement_uid is None:
            v.measurement_uid = uid
        yield v


def current_rules(fingerprints: Fingerprints) -> CurrentRules:
    """What a verdict must carry to be current with this build's families and ``fingerprints``."""
    reg = registry()
    return CurrentRules(reg.stamps, reg.fingerprint_stamps, fingerprints_identity(fingerprints))


def run(
    store: Store,
    *,
    fingerprints: Fingerprints | None = None,
    batch_size: int = BATCH_SIZE,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Re-classify stale measurements, ``batch_size`` at a time, each batch written in one transaction.

    Returns ``{"stale", "classified", "errors", "seconds"}``. A measurement whose stored bytes no
    longer make a measurement, or whose classification raises, is counted in ``errors`` and left
    stale (the next run tries again); it never stops the stage.
    """
    fps = fingerprints if fingerprints is not None else default_fingerprints()
    with no_cyclic_gc():
        return _run(store, fps, current_rules(fps), batch_size, on_progress)


def _run(
    store: Store, fingerprints: Fingerprints, current: CurrentRules, batch_size: int,
    on_progress: Progress | None,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    stale = store.count_stale(current)
    classified = errors = done = 0
    if on_progress is not None:
        on_progress("verdicts", 0, stale)
    for rows in store.iter_stale(current, chunk=batch_size):
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
