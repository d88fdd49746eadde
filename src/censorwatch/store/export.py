"""The Parquet layout the Spark engine reads, exported from the store.

Layout (hive-partitioned, one directory per UTC day and country, like OONI's archive is per day and
country): ``<dir>/measurements/day=YYYY-MM-DD/probe_cc=CC/part-*.parquet`` with columns
``measurement_uid`` (string), ``probe_asn`` (string), ``test_name`` (string),
``measurement_start_time`` (timestamp, UTC, no zone), ``source`` (string) and ``raw`` (binary: the
measurement's JSON bytes exactly as ingested, uncompressed). ``day`` and ``probe_cc`` are partition
columns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import zstandard

from censorwatch.store.rawstore import RawStore, connection_raw_store, stored_bytes

SCHEMA = pa.schema(
    [
        ("measurement_uid", pa.string()),
        ("probe_cc", pa.string()),
        ("probe_asn", pa.string()),
        ("test_name", pa.string()),
        ("measurement_start_time", pa.timestamp("us")),
        ("source", pa.string()),
        ("raw", pa.binary()),
        ("day", pa.string()),
    ]
)


def export_measurements(
    con: duckdb.DuckDBPyConnection, out_dir: Path, *, batch: int = 20_000,
    on_progress: Callable[[int], None] | None = None, raws: RawStore | None = None,
) -> int:
    """Write every stored measurement into ``out_dir/measurements``; returns the count."""
    target = out_dir / "measurements"
    dctx = zstandard.ZstdDecompressor()
    raws = raws if raws is not None else connection_raw_store(con)
    cur = con.execute(
        "SELECT measurement_uid, probe_cc, probe_asn, test_name, measurement_start_time, source, raw, "
        "strftime(measurement_start_time, '%Y-%m-%d'), raw_part, raw_row FROM measurements "
        "ORDER BY raw_part, raw_row"
    )
    n = part = 0
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            break
        cols = list(zip(*rows, strict=True))
        tbl = pa.Table.from_arrays(
            [
                pa.array(cols[0], pa.string()), pa.array(cols[1], pa.string()), pa.array(cols[2], pa.string()),
                pa.array(cols[3], pa.string()), pa.array(cols[4], pa.timestamp("us")),
                pa.array(cols[5], pa.string()), pa.array([stored_bytes(b, p, r, raws, dctx.decompress)
                                                  for b, p, r in zip(cols[6], cols[8], cols[9], strict=True)],
                                                 pa.binary()),
                pa.array(cols[7], pa.string()),
            ],
            schema=SCHEMA,
        )
        ds.write_dataset(
            tbl, target, format="parquet", partitioning=["day", "probe_cc"], partitioning_flavor="hive",
            basename_template=f"part-{part:05d}-{{i}}.parquet", existing_data_behavior="overwrite_or_ignore",
        )
        part += 1
        n += len(rows)
        if on_progress is not None:
            on_progress(len(rows))
    return n
