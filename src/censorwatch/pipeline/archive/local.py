"""Write measurements into OONI's ``raw/`` layout in a local folder (for Spark, tests, benchmarks).

A folder laid out like the archive can be read by the Spark job (``job.py --archive DIR``) exactly as
``s3a://ooni-data-eu-fra`` is, and served by any S3-compatible server as a bucket.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import orjson

from censorwatch.pipeline.archive.layout import raw_key


def write_archive(lines: Iterable[bytes], root: Path, *, host: str = "n0") -> tuple[int, int]:
    """Write JSON measurement lines under ``root/raw/`` by the hour of their start time and their
    country; a run of lines of one hour and country becomes one object (later runs of the same hour
    and country, further parts). Returns (objects, measurements)."""
    objects = n = 0
    parts: dict[str, int] = {}
    key: tuple[str, str, str] | None = None
    run: list[bytes] = []

    def flush() -> None:
        nonlocal objects
        if key is None or not run:
            return
        hour, cc, test = key
        base = raw_key(datetime.strptime(hour, "%Y%m%d%H"), cc, test, 0, host)
        part = parts[base] = parts.get(base, -1) + 1
        path = root / raw_key(datetime.strptime(hour, "%Y%m%d%H"), cc, test, part, host)
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wb", compresslevel=6) as fh:
            fh.write(b"\n".join(run) + b"\n")
        objects += 1

    for line in lines:
        line = line.strip()
        if not line:
            continue
        obj = orjson.loads(line)
        t = str(obj.get("measurement_start_time") or "")  # "YYYY-MM-DD hh:mm:ss"
        k = (t[0:4] + t[5:7] + t[8:10] + t[11:13], str(obj.get("probe_cc") or "ZZ"), str(obj.get("test_name")))
        if k != key:
            flush()
            key, run = k, []
        run.append(line)
        n += 1
    flush()
    return objects, n
