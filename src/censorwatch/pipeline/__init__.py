"""Layer 3: drives ``analysis`` over ``store``.

``run_analysis`` runs the analysis stages in order over a store. Each stage is one call that returns
a small dict of counts for the summary; add a stage by adding one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from censorwatch.pipeline import detection, verdicts
from censorwatch.pipeline.verdicts import Progress
from censorwatch.store.db import Store

ENGINES = ("local", "spark")

StageResult = dict[str, Any]


def run_analysis(
    store: Store, engine: str = "local", *, fingerprints: Any = None, on_progress: Progress | None = None,
    spark_output: Path | None = None,
) -> dict[str, StageResult]:
    """Run every analysis stage over ``store``: verdicts first (what later stages read), then
    aggregates, events and incidents (detection, docs/detection.md).

    ``engine``: ``local`` (Python + DuckDB, incremental) or ``spark`` (PySpark classification and
    aggregation over the store's Parquet export, a full batch recomputation). ``on_progress(stage,
    done, total)`` reports long stages. ``spark_output``: instead of running Spark here, load the
    outputs of a Spark job run elsewhere (a cluster over the archive; docs/spark.md).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    results: dict[str, StageResult] = {}
    if engine == "spark":
        from censorwatch.pipeline.spark import engine as spark_engine  # pyspark is optional

        if spark_output is not None:
            results.update(spark_engine.load(store, spark_output))
        else:
            results.update(spark_engine.run(store, fingerprints=fingerprints))
    else:
        results["verdicts"] = verdicts.run(store, fingerprints=fingerprints, on_progress=on_progress)
        results["aggregates"] = detection.aggregates(store)
    results["events"] = detection.events(store, on_progress=on_progress)
    results["incidents"] = detection.incidents_for(store, results["events"]["countries"])
    return results
