"""The measurements in one archive object, read as its bytes arrive (nothing is spooled to disk).

Every kind ends in the store's reader (``store.reader.read_stream``), so a measurement read from the
archive is the same as one read from a local file: located as ``s3://bucket/key:line`` (a can's
members as ``s3://bucket/key/member.json:line``), with its exact bytes kept. An object damaged
part-way (a truncated gzip) gives every record before the damage and one error at the line where
the damage was found.
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import IO

from censorwatch.model.measurement import Measurement
from censorwatch.store.reader import ReadError, read_stream

_zlib: ModuleType = zlib
try:  # ISA-L's inflate, as the reader uses for local .gz files
    from isal import isal_zlib

    _zlib = isal_zlib
except ImportError:  # pragma: no cover - no wheel for this platform
    pass

Record = Measurement | ReadError
#: compressed bytes read at a time
CHUNK = 256 * 1024


def gunzip_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """A (multi-member) gzip stream inflated as it arrives.

    Everything inflated before damage is handed out first; a stream cut short then raises
    ``EOFError``, a corrupt one the inflater's error (CRCs are checked at each member's end).
    """
    d = _zlib.decompressobj(31)
    started = False
    while chunk := stream.read(CHUNK):
        while chunk:
            started = True
            if out := d.decompress(chunk):
                yield out
            if not d.eof:
                break
            chunk, d, started = d.unused_data, _zlib.decompressobj(31), False
    if started and not d.eof:
        raise EOFError("compressed data ended before the end-of-stream marker was reached")


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Lines (with their ``\n``) of a byte stream given in chunks; a last line may lack it."""
    parts: list[bytes] = []
    for data in chunks:
        start = 0
        while (i := data.find(b"\n", start)) >= 0:
            if parts:
                parts.append(data[start:i + 1])
                yield b"".join(parts)
                parts = []
            else:
                yield data[start:i + 1]
            start = i + 1
        if start < len(data):
            parts.append(data[start:])
    if parts:
        yield b"".join(parts)


class _CountedLines:
    """Lines, counted as they are handed out."""

    def __init__(self, lines: Iterable[bytes]) -> None:
        self._lines = lines
        self.lines = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self._lines:
            self.lines += 1
            yield line


def _lines(fh: Iterable[bytes], label: str) -> Iterator[Record]:
    """JSON lines; a stream that breaks is reported at the line it broke on."""
    counted = _CountedLines(fh)
    for item in read_stream(counted, label, ".jsonl"):  # type: ignore[arg-type]
        if isinstance(item, ReadError) and item.source == label:
            item = ReadError(f"{label}:{counted.lines + 1}", item.reason)
        yield item


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
                    yield from _lines(fh, name)
            elif member.name.endswith(".yaml"):
                yield ReadError(name, "YAML reports (OONI's format before 2016) are not read")
            else:
                yield ReadError(name, "not a measurement file (expected .json or .yaml)")


def records(stream: IO[bytes], label: str, kind: str) -> Iterator[Record]:
    """Every measurement (or located error) in an object of ``kind`` (``layout.READABLE``)."""
    try:
        if kind == "jsonl.gz":
            yield from _lines(split_lines(gunzip_chunks(stream)), label)
        elif kind == "json.gz":
            yield from read_stream(io.BytesIO(b"".join(gunzip_chunks(stream))), label, ".json")
        elif kind == "jsonl":
            yield from _lines(stream, label)
        elif kind == "json":
            yield from read_stream(stream, label, ".json")
        elif kind == "json.lz4":
            import lz4.frame

            with lz4.frame.open(stream, "rb") as lz:
                yield from _lines(lz, label)
        elif kind == "tar.lz4":
            yield from _can(stream, label)
        else:
            yield ReadError(label, f"not a measurement object ({kind})")
    except (tarfile.TarError, RuntimeError, OSError, EOFError, ValueError, zlib.error, _zlib.error) as exc:
        # lz4 and tarfile report damage with these; what came before it has been yielded
        yield ReadError(label, f"cannot read object: {exc}")
