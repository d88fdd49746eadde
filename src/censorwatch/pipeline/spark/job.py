"""The Spark job: classification and aggregation over the Parquet layout or OONI's archive.

Classification runs ``censorwatch.analysis.classify`` inside ``mapPartitions`` (the same function
and the same verdict-row conversion as the local engine, so the rows are identical); aggregation is
Spark SQL with the local engine's semantics (target = domain, else input, else test name; hours and
days in UTC). Outputs are Parquet directories named after the store's tables: ``verdicts``,
``agg_hourly``, ``agg_daily``, ``agg_hourly_cc``, ``agg_daily_cc``, ``volume_hourly``.

Run on a cluster (censorwatch zipped or installed on the executors)::

    spark-submit --py-files censorwatch.zip -m censorwatch.pipeline.spark.job \\
        --ooni-archive 's3a://ooni-data-eu-fra/raw/20240217/*/PK/webconnectivity/*.jsonl.gz' \\
        --out s3a://my-bucket/censorwatch/20240217
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from censorwatch.model.verdict import STATUSES
from censorwatch.store.rows import VERDICT_SCHEMA

_TYPES = {"string": T.StringType(), "bool": T.BooleanType(), "double": T.DoubleType()}


def verdict_schema() -> T.StructType:
    fields = []
    for f in VERDICT_SCHEMA:
        if str(f.type).startswith("timestamp"):
            t: T.DataType = T.TimestampNTZType()
        else:
            t = _TYPES[str(f.type)]
        fields.append(T.StructField(f.name, t, True))
    return T.StructType(fields)


_FPS: dict[str, Any] = {}


def classify_partition(rows: Iterable[Any], fingerprints: Any = None) -> Iterator[tuple[Any, ...]]:
    """(measurement_uid, source, raw) rows -> verdict-table tuples; unreadable rows are skipped."""
    import orjson

    from censorwatch import analysis
    from censorwatch.analysis.fingerprints import load_fingerprints
    from censorwatch.model.measurement import Measurement
    from censorwatch.store.rows import RowBatch
    from censorwatch.store.uid import stable_uid

    fps = fingerprints
    if fps is None:
        fps = _FPS.get("default") or _FPS.setdefault("default", load_fingerprints())
    names = [f.name for f in VERDICT_SCHEMA]
    batch = RowBatch()
    for r in rows:
        try:
            m = Measurement.from_raw(orjson.loads(r["raw"]), source=r["source"])
            v = analysis.classify(m, fps)
        except Exception:  # the local engine counts these as errors and leaves them stale
            continue
        uid = r["measurement_uid"] or stable_uid(m)
        if v.measurement_uid is None:
            v.measurement_uid = uid
        batch.add_verdict(uid, v, m.measurement_start_time)
        if batch.verdict_count >= 2000:
            yield from _flush(batch, names)
            batch = RowBatch()
    yield from _flush(batch, names)


def _flush(batch: Any, names: list[str]) -> Iterator[tuple[Any, ...]]:
    if not batch.verdict_count:
        return
    cols = batch.verdicts_table().to_pydict()
    yield from zip(*(cols[n] for n in names), strict=True)


def read_layout(spark: SparkSession, path: str) -> DataFrame:
    """The store's export (``store/export.py``): measurements/day=/probe_cc=/*.parquet."""
    return spark.read.parquet(path).select("measurement_uid", "source", "raw")


def read_ooni_archive(spark: SparkSession, glob: str) -> DataFrame:
    """OONI's public archive layout: one JSON measurement per line in ``*.jsonl.gz`` files."""
    return spark.read.text(glob).select(
        F.lit(None).cast("string").alias("measurement_uid"),
        F.input_file_name().alias("source"),
        F.encode(F.col("value"), "UTF-8").alias("raw"),
    )


def verdicts(spark: SparkSession, measurements: DataFrame, fingerprints: Any = None) -> DataFrame:
    rdd = measurements.rdd.mapPartitions(lambda rows: classify_partition(rows, fingerprints))
    return spark.createDataFrame(rdd, verdict_schema())


def _counts(base: DataFrame, keys: list[str], tcol: str) -> DataFrame:
    """Counts per status and a JSON method -> count map, from the (keys, hour, status, method, n) base."""
    n = F.col("n")
    status = [F.sum(F.when(F.col("status") == s, n).otherwise(0)).cast("int").alias(s) for s in STATUSES]
    counts = base.groupBy(*keys, tcol).agg(F.sum(n).cast("int").alias("total"), *status)
    methods = (
        base.where(F.col("method").isNotNull()).groupBy(*keys, tcol, "method").agg(F.sum(n).alias("n"))
        .groupBy(*keys, tcol)
        .agg(F.to_json(F.map_from_entries(F.collect_list(F.struct("method", "n")))).alias("methods"))
    )
    return counts.join(methods, on=[*keys, tcol], how="left").select(
        *keys, tcol, "total", *STATUSES, "methods"
    )


def aggregates(verdicts_df: DataFrame) -> dict[str, DataFrame]:
    """The store's aggregate tables from verdict rows, with the local engine's semantics.

    One pass over the verdicts builds the finest grain (cc, asn, target, hour, status, method) with its
    count; every table is summed from that (small, cached) base.
    """
    base = (
        verdicts_df.select(
            "probe_cc", "probe_asn",
            F.coalesce("domain", "input", "test_name").alias("domain"),
            F.date_trunc("hour", F.col("measurement_start_time")).cast("timestamp_ntz").alias("hour"),
            "status", "method",
        )
        .groupBy("probe_cc", "probe_asn", "domain", "hour", "status", "method").agg(F.count(F.lit(1)).alias("n"))
        .withColumn("day", F.to_date("hour"))
        .cache()
    )
    net = ["probe_cc", "probe_asn", "domain"]
    cc = ["probe_cc", "domain"]
    n = F.col("n")
    volume = base.groupBy("probe_cc", "probe_asn", "hour").agg(
        F.sum(n).cast("int").alias("total"),
        F.sum(F.when(F.col("status") != "failure", n).otherwise(0)).cast("int").alias("reachable"),
    )
    return {
        "agg_hourly": _counts(base, net, "hour"),
        "agg_daily": _counts(base, net, "day"),
        "agg_hourly_cc": _counts(base, cc, "hour"),
        "agg_daily_cc": _counts(base, cc, "day"),
        "volume_hourly": volume,
    }


def run(
    spark: SparkSession, out: str, *, layout: str | None = None, archive: str | None = None,
    fingerprints: Any = None,
) -> dict[str, int]:
    """Classify and aggregate; write every output under ``out``; returns row counts."""
    if (layout is None) == (archive is None):
        raise ValueError("give exactly one input: layout (store export) or archive (OONI jsonl.gz glob)")
    src = read_layout(spark, layout) if layout is not None else read_ooni_archive(spark, archive or "")
    verdicts(spark, src, fingerprints).write.mode("overwrite").parquet(f"{out}/verdicts")
    v = spark.read.parquet(f"{out}/verdicts")  # classify once; aggregate from the written rows
    counts = {"verdicts": v.count()}
    for name, df in aggregates(v).items():
        df.write.mode("overwrite").parquet(f"{out}/{name}")
    return counts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--layout", help="the store's Parquet export (<dir>/measurements)")
    src.add_argument("--ooni-archive", help="glob of OONI jsonl.gz files (s3a://ooni-data-eu-fra/raw/...)")
    ap.add_argument("--out", required=True, help="output directory (Parquet per table)")
    args = ap.parse_args(argv)
    spark = (SparkSession.builder.appName("censorwatch-analyze")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    counts = run(spark, args.out, layout=args.layout, archive=args.ooni_archive)
    print(counts)


if __name__ == "__main__":
    main()
