"""The measurements in one archive object, read as its bytes arrive (nothing is spooled to disk).

Every kind ends in the store's reader (``store.reader.read_stream``), so a measurement read from the
archive is the same as one read from a local file: located as ``s3://bucket/key:line`` (a can's
members as ``s3://bucket/key/member.json:line``), with its exact bytes kept. An object damaged
part-way (a truncated gzip) gives every record before the damage and one error at the line where
the damage was found.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import IO

from censorwatch.model.measurement import Measurement
from censorwatch.store.reader import ReadError, read_stream

Record = Measurement | ReadError


def _can(stream: IO[bytes], label: str) -> Iterator[Record]:
    """A tar.lz4 can: its ``.json`` members are JSON lines; ``.yaml`` reports are not read."""
    import lz4.frame

    with lz4.frame.open(stream, "rb") as lz, tarfile.open(fileobj=lz, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = f"{label}/{member.name}"
            if member.name.endswith(".json"):
                fh = tar.extractfile(member)
                if fh is not None:
                    yield from read_stream(fh, name, fmt=".jsonl")
            elif member.name.endswith(".yaml"):
                yield ReadError(name, "YAML reports (OONI's format before 2016) are not read")
            else:
                yield ReadError(name, "not a measurement file (expected .json or .yaml)")


def records(stream: IO[bytes], label: str, kind: str) -> Iterator[Record]:
    """Every measurement (or located error) in an object of ``kind`` (``layout.READABLE``)."""
    try:
        if kind in ("jsonl.gz", "json.gz", "jsonl", "json"):
            yield from read_stream(stream, label, fmt="." + kind)
        elif kind == "json.lz4":
            import lz4.frame

            with lz4.frame.open(stream, "rb") as lz:
                yield from read_stream(lz, label, fmt=".jsonl")
        elif kind == "tar.lz4":
            yield from _can(stream, label)
        else:
            yield ReadError(label, f"not a measurement object ({kind})")
    except (tarfile.TarError, RuntimeError, OSError, EOFError, ValueError) as exc:
        # lz4 and tarfile report damage with these; what came before it has been yielded
        yield ReadError(label, f"cannot read object: {exc}")
