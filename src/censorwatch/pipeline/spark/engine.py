"""``--engine spark``: export the store to the Parquet layout, run the Spark job, load its outputs.

The Spark engine is a batch engine: it classifies every stored measurement and recomputes every
aggregate (that is what a cluster run over the archive does); events and incidents then run locally
over the loaded tables, exactly as after the local engine.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from censorwatch.store import detection as sql
from censorwatch.store.export import export_measurements

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from censorwatch.store.db import Store


class SparkUnavailable(RuntimeError):
    """PySpark or Java is missing, or Spark could not start; the message says which."""


def session(master: str = "local[2]") -> SparkSession:
    """A local Spark session whose Python workers can import censorwatch (reused if one is active)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable("--engine spark needs PySpark: pip install 'censorwatch[spark]'") from exc

    pkg_root = str(Path(__file__).resolve().parents[3])
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if pkg_root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([pkg_root, *paths])
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(master).appName("censorwatch")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "2g")
        .config("spark.python.worker.reuse", "true")
    )
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # no Java, or the JVM could not start
        raise SparkUnavailable(f"--engine spark could not start Spark (Java 17 needed): {exc}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def run(store: Store, *, fingerprints: Any = None, master: str = "local[2]") -> dict[str, dict[str, Any]]:
    """Verdicts and aggregates with Spark; returns stage results like the local stages'."""
    from censorwatch.pipeline.spark import job

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="censorwatch-spark-") as tmp:
        n = export_measurements(store.con, Path(tmp), raws=store.raws)
        t1 = time.perf_counter()
        if n == 0:
            return {"verdicts": {"classified": 0, "errors": 0, "seconds": 0.0},
                    "aggregates": {"engine": "spark", "seconds": 0.0}}
        spark = session(master)
        counts = job.run(spark, f"{tmp}/out", layout=f"{tmp}/measurements", fingerprints=fingerprints)
        t2 = time.perf_counter()
        loaded = sql.load_engine_outputs(store.con, Path(tmp) / "out")
    return {
        "verdicts": {"exported": n, "classified": counts["verdicts"], "errors": n - counts["verdicts"],
                     "seconds": round(t2 - t0, 3)},
        "aggregates": {"engine": "spark", **{k: v for k, v in loaded.items()},
                       "spark_seconds": round(t2 - t1, 3), "seconds": round(time.perf_counter() - t0, 3)},
    }


def load(store: Store, out_dir: Path) -> dict[str, dict[str, Any]]:
    """Load a Spark job's outputs (``job.py --out DIR``, e.g. a cluster run over the archive) into
    ``store``: its verdicts replace those of the same uids, its aggregates replace the tables."""
    t0 = time.perf_counter()
    missing = [t for t in ("verdicts", "agg_hourly", "volume_hourly") if not (out_dir / t).is_dir()]
    if missing:
        raise FileNotFoundError(f"{out_dir}: not a Spark job's output (no {', '.join(missing)})")
    loaded = sql.load_engine_outputs(store.con, out_dir)
    seconds = round(time.perf_counter() - t0, 3)
    return {"verdicts": {"loaded": loaded["verdicts"], "seconds": seconds},
            "aggregates": {"engine": "spark", **{k: v for k, v in loaded.items() if k != "verdicts"},
                           "seconds": seconds}}
