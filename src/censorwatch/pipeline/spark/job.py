"""The Spark job: classification and aggregation over the store's export or OONI's archive layout.

Classification runs ``censorwatch.analysis.classify`` inside ``mapPartitions`` (the same function
and the same verdict-row conversion as the local engine, so the rows are identical); aggregation is
Spark SQL with the local engine's semantics (target = domain, else input, else test name; hours and
days in UTC). Outputs are Parquet directories named after the store's tables: ``verdicts``,
``agg_hourly``, ``agg_daily``, ``agg_hourly_cc``, ``agg_daily_cc``, ``volume_hourly``;
``censorwatch analyze --spark-output DIR`` loads them into a store (docs/spark.md).

Inputs: ``--archive ROOT`` with a selection (``--since``, ``--until``, ``--cc``, ``--test``) reads
OONI's layout under ROOT (``raw/YYYYMMDD/HH/CC/TEST/*.jsonl.gz``, ``jsonl/...``; a local folder,
``s3a://ooni-data-eu-fra`` or any Hadoop file system), the files found by the same selection rules
as ``censorwatch sync`` (``pipeline/archive/layout.py``); ``--ooni-archive GLOB`` reads a glob of
``.jsonl.gz`` files; ``--layout DIR`` the store's own export. On a cluster (docs/spark.md)::

    spark-submit --archives env.tar.gz#env --conf spark.pyspark.python=./env/bin/python \\
        job.py --archive s3a://ooni-data-eu-fra --cc PK --since 2024-02-17 --until 2024-02-24 \\
        --out s3a://my-bucket/censorwatch/pk-2024-02
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from censorwatch.model.verdict import STATUSES
from censorwatch.pipeline.archive.layout import Selection, file_globs, parse_when
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


def classify_partition(rows: Iterable[Any], fingerprints: Any = None, errors: Any = None) -> Iterator[tuple[Any, ...]]:
    """(measurement_uid, source, raw) rows -> verdict-table tuples; unreadable rows are skipped and
    counted in the ``errors`` accumulator when one is given."""
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
            if errors is not None and r["raw"] and r["raw"].strip():
                errors.add(1)
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


def read_ooni_archive(spark: SparkSession, paths: str | list[str]) -> DataFrame:
    """JSON measurements one a line in ``*.jsonl.gz`` files (a glob, or a list of files).

    Spark checks a long list of paths with a listing job of one task per path (up to 10,000):
    with OONI's many small objects that job cost more than reading them (30 s against 4 s for 1,834
    files on local[2]), so it gets one task per core instead.
    """
    spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.parallelism",
                   str(spark.sparkContext.defaultParallelism))
    return spark.read.text(paths).select(
        F.lit(None).cast("string").alias("measurement_uid"),
        F.input_file_name().alias("source"),
        F.encode(F.col("value"), "UTF-8").alias("raw"),
    )


def archive_files(spark: SparkSession, root: str, selection: Selection) -> list[str]:
    """The ``.jsonl.gz`` files under ``root`` (any Hadoop file system) the selection needs."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    files: list[str] = []
    for glob in file_globs(selection):
        path = jvm.org.apache.hadoop.fs.Path(root.rstrip("/") + "/" + glob)  # type: ignore[union-attr]
        found = path.getFileSystem(conf).globStatus(path)
        files.extend(str(st.getPath().toString()) for st in found or [])
    return files


def verdicts(spark: SparkSession, measurements: DataFrame, fingerprints: Any = None, errors: Any = None) -> DataFrame:
    rdd = measurements.rdd.mapPartitions(lambda rows: classify_partition(rows, fingerprints, errors))
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
    spark: SparkSession, out: str, *, layout: str | None = None, archive: str | list[str] | None = None,
    fingerprints: Any = None,
) -> dict[str, int]:
    """Classify and aggregate; write every output under ``out``; returns row counts (``errors``:
    non-empty lines that were not a measurement, or whose classification failed).

    ``layout``: the store's export; ``archive``: a glob or a list of OONI ``.jsonl.gz`` files
    (``archive_files``).
    """
    if (layout is None) == (archive is None):
        raise ValueError("give exactly one input: layout (store export) or archive (OONI jsonl.gz files)")
    if archive is not None and not archive:
        raise ValueError("no archive files match the selection")
    src = read_layout(spark, layout) if layout is not None else read_ooni_archive(spark, archive or [])
    errors = spark.sparkContext.accumulator(0)
    verdicts(spark, src, fingerprints, errors).write.mode("overwrite").parquet(f"{out}/verdicts")
    v = spark.read.parquet(f"{out}/verdicts")  # classify once; aggregate from the written rows
    counts = {"verdicts": v.count(), "errors": int(errors.value)}
    for name, df in aggregates(v).items():
        df.write.mode("overwrite").parquet(f"{out}/{name}")
    return counts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--archive", help="root of OONI's archive layout (s3a://ooni-data-eu-fra, a folder)")
    src.add_argument("--ooni-archive", help="glob of OONI jsonl.gz files (s3a://ooni-data-eu-fra/raw/...)")
    src.add_argument("--layout", help="the store's Parquet export (<dir>/measurements)")
    ap.add_argument("--since", help="with --archive: first day or hour, YYYY-MM-DD[THH] (UTC)")
    ap.add_argument("--until", help="with --archive: last day or hour, included (default: --since's day)")
    ap.add_argument("--cc", action="append", default=[], help="with --archive: countries (repeat or comma-separate)")
    ap.add_argument("--test", action="append", default=[], help="with --archive: OONI test names")
    ap.add_argument("--out", required=True, help="output directory (Parquet per table)")
    args = ap.parse_args(argv)
    builder = SparkSession.builder.appName("censorwatch-analyze").config("spark.sql.session.timeZone", "UTC")
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # a plain script, not spark-submit: Spark on this machine
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = builder.master("local[*]").config("spark.sql.shuffle.partitions", str(os.cpu_count() or 2))
    spark = builder.getOrCreate()
    archive: str | list[str] | None = args.ooni_archive
    if args.archive is not None:
        if not args.since:
            ap.error("--archive needs --since")
        sel = Selection.of(parse_when(args.since, end=False), parse_when(args.until or args.since, end=True),
                           [c for v in args.cc for c in v.split(",")], [t for v in args.test for t in v.split(",")])
        archive = archive_files(spark, args.archive, sel)
        print(f"{len(archive)} archive files selected")
    counts = run(spark, args.out, layout=args.layout, archive=archive)
    print(counts)


if __name__ == "__main__":
    main()
