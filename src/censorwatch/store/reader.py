"""One streaming reader for every shape OONI measurements come in.

Accepted: ``.json`` (one object, possibly pretty-printed; or one object a line), ``.jsonl``,
``.jsonc`` (``//`` and ``/* */`` comments stripped, line numbers kept), the ``.gz`` form of each, a
top-level JSON array of measurements, directories (recursively, in sorted order) and ``-`` (JSON
lines on standard input).

The reader never stops at a bad record: it yields a ``ReadError`` located as ``path:line`` with a
reason, and goes on with the rest of the file. Good records come out as ``Measurement`` with
``raw_bytes`` set to the bytes they were read from (the line, the whole file, or the comment-stripped
text), so the store can keep them losslessly.

Limits (``Limits``; the README's Limits section): a record (one line, or a whole ``.json`` document)
of at most ``max_record_bytes``; at most ``max_decompressed_bytes`` read from one file. A record past a
limit is one ``ReadError`` naming the limit and the reading goes on (past the file limit, with the
next file); memory stays bounded by the record limit, however long a line is. Nesting: orjson reads
1,024 levels; a record the reader must write back itself (an array element, a rebuilt envelope) is
refused beyond 254 (``store.uid.MAX_DEPTH``), as is, at ingest, one whose uid must be derived.

The public entry points: ``read_paths`` (paths and directory trees), ``read_file`` (one path) and
``read_stream`` (any binary stream plus the name to report it as: the format follows the name's
suffix, ``.gz`` is inflated).
"""

from __future__ import annotations

import io
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import orjson

from censorwatch.model.measurement import InvalidMeasurement, Measurement
from censorwatch.store.uid import TOO_DEEP

_zlib: ModuleType = zlib
_inflate_error: type[Exception] = zlib.error
try:  # ISA-L's inflate: ~2.4x zlib's speed on OONI .jsonl.gz (15 vs 36 us per 8 KiB line here)
    from isal import isal_zlib

    _zlib, _inflate_error = isal_zlib, isal_zlib.error  # type: ignore[assignment]
except ImportError:  # pragma: no cover - no wheel for this platform: the standard library's
    pass
#: compressed bytes read at a time
_CHUNK = 1 << 18

SUFFIXES = (".json", ".jsonl", ".jsonc", ".ndjson")
# OONI measurement uid as used for file names: 20230706183840.201925_PK_webconnectivity_19f5e0d803cbaea7
_UID_RE = re.compile(r"^(?P<ts>\d{14})\.\d{6}_(?P<cc>[A-Z]{2})_(?P<test>[a-z0-9]+)_[0-9a-f]{16}$")
_COMPACT_TESTS = {
    "webconnectivity": "web_connectivity",
    "httpinvalidrequestline": "http_invalid_request_line",
    "httpheaderfieldmanipulation": "http_header_field_manipulation",
    "facebookmessenger": "facebook_messenger",
    "vanillator": "vanilla_tor",
    "dnscheck": "dnscheck",
}
_TEST_KEYS_MARKERS = ("queries", "tcp_connect", "requests", "tls_handshakes", "control")


@dataclass(slots=True, frozen=True)
class ReadError:
    """A record (or file) that could not be used: ``source`` is ``path`` or ``path:line``."""

    source: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass(slots=True, frozen=True)
class Limits:
    """How much one record and one file may hold; past a limit, that record is an error, the run goes on."""

    #: one JSON line, or a whole ``.json``/``.jsonc`` document (held in memory once, then decoded)
    max_record_bytes: int = 32 * 2**20
    #: bytes read from one file after inflating (a bound on time: reading streams, memory does not grow)
    max_decompressed_bytes: int = 4 * 2**30


DEFAULT_LIMITS = Limits()
_SKIP_PIECE = 1 << 20
_BUFFER = 1 << 16


def _base_suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suf in SUFFIXES:
        if name.endswith(suf):
            return suf
    return ""


def is_measurement_file(path: Path) -> bool:
    return _base_suffix(path) != ""


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path | ReadError]:
    """Expand directories (sorted, recursive) into measurement files; report missing paths."""
    for p in paths:
        path = Path(p)
        if str(p) == "-":
            yield path
        elif path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file() and is_measurement_file(f):
                    yield f
        elif path.is_file():
            yield path
        else:
            yield ReadError(str(path), "no such file or directory")


def strip_jsonc(data: bytes) -> bytes:
    """Remove ``//`` and ``/* */`` comments outside strings; newlines are kept so lines still count."""
    out = bytearray()
    i, n = 0, len(data)
    in_str = False
    while i < n:
        c = data[i]
        if in_str:
            out.append(c)
            if c == 0x5C and i + 1 < n:  # backslash: copy the escaped byte too
                out.append(data[i + 1])
                i += 2
                continue
            if c == 0x22:
                in_str = False
            i += 1
            continue
        if c == 0x22:
            in_str = True
            out.append(c)
            i += 1
        elif c == 0x2F and i + 1 < n and data[i + 1] == 0x2F:  # // to end of line
            j = data.find(b"\n", i)
            i = n if j < 0 else j
        elif c == 0x2F and i + 1 < n and data[i + 1] == 0x2A:  # /* ... */
            j = data.find(b"*/", i + 2)
            end = n if j < 0 else j + 2
            out.extend(b"\n" * data.count(b"\n", i, end))
            i = end
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _envelope_from_uid(test_keys: dict[str, Any], stem: str) -> dict[str, Any] | None:
    """probe-cli testdata files hold a bare ``test_keys`` named after the measurement uid.

    Rebuild the envelope from what the name says (time, country, test) and what the keys say
    (the input URL the control was asked about); the network is unknown (``AS0``). The result is
    marked in ``annotations`` so nobody mistakes it for a probe's own envelope.
    """
    m = _UID_RE.match(stem)
    if m is None or not any(k in test_keys for k in _TEST_KEYS_MARKERS):
        return None
    ts = m.group("ts")
    start = f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]} {ts[8:10]}:{ts[10:12]}:{ts[12:14]}"
    inp = None
    ctrl = test_keys.get("x_control_request")
    if isinstance(ctrl, dict) and isinstance(ctrl.get("http_request"), str):
        inp = ctrl["http_request"]
    else:
        reqs = test_keys.get("requests")
        if isinstance(reqs, list) and reqs and isinstance(reqs[-1], dict):
            req = reqs[-1].get("request")
            if isinstance(req, dict) and isinstance(req.get("url"), str):
                inp = req["url"]
    test = m.group("test")
    return {
        "annotations": {"censorwatch_envelope": "reconstructed from the file name (bare test_keys)"},
        "data_format_version": "0.2.0",
        "input": inp,
        "measurement_start_time": start,
        "measurement_uid": stem,
        "probe_asn": "AS0",
        "probe_cc": m.group("cc"),
        "test_name": _COMPACT_TESTS.get(test, test),
        "test_keys": test_keys,
    }


def _measurement(obj: Any, source: str, raw: bytes | None) -> Measurement | ReadError:
    """One decoded record as a ``Measurement``, or the reason it cannot be one (never an exception)."""
    try:
        if isinstance(obj, dict) and "test_name" not in obj:
            stem = Path(source.split(":", 1)[0]).name.split(".json", 1)[0]
            envelope = _envelope_from_uid(obj, stem)
            if envelope is not None:
                obj, raw = envelope, orjson.dumps(envelope)
        return Measurement.from_raw(obj, source=source, raw_bytes=raw)
    except InvalidMeasurement as exc:
        return ReadError(source, str(exc))
    except orjson.JSONEncodeError:
        return ReadError(source, TOO_DEEP)
    except Exception as exc:  # whatever else a hostile record trips over is that record's error
        return ReadError(source, f"unusable record: {type(exc).__name__}: {str(exc)[:200]}")


def _from_value(value: Any, source: str, raw: bytes | None) -> Iterator[Measurement | ReadError]:
    if isinstance(value, list):
        if not value:
            yield ReadError(source, "an empty JSON array: no measurements")
        for i, item in enumerate(value):
            src = f"{source}[{i}]"
            if not isinstance(item, dict):
                yield ReadError(src, f"expected a JSON object in the list, got {type(item).__name__}")
                continue
            try:
                item_raw = orjson.dumps(item)
            except orjson.JSONEncodeError:
                yield ReadError(src, TOO_DEEP)
                continue
            yield _measurement(item, src, item_raw)
    else:
        yield _measurement(value, source, raw)


def _decode_error(exc: orjson.JSONDecodeError) -> str:
    msg = str(exc).split(":", 1)[0] if ": line" in str(exc) else str(exc)
    return f"invalid JSON: {msg}"


def _parse_record(s: bytes, source: str) -> Iterator[Measurement | ReadError]:
    try:
        value = orjson.loads(s)
    except orjson.JSONDecodeError as exc:
        yield ReadError(source, _decode_error(exc))
        return
    yield from _from_value(value, source, s)


def read_record(data: bytes, source: str, *, limits: Limits | None = None) -> Iterator[Measurement | ReadError]:
    """The measurements of one record already in memory (a JSON object or a list of them), each bad one
    a ``ReadError`` naming ``source``: the same checks and limits as a line of a file."""
    limit = (limits or DEFAULT_LIMITS).max_record_bytes
    if len(data) > limit:
        yield ReadError(source, f"record of {len(data):,} bytes is over the {limit:,}-byte record limit: skipped")
        return
    yield from _parse_record(data.strip(), source)


def _read_lines(fh: IO[bytes], label: str, limits: Limits) -> Iterator[Measurement | ReadError]:
    """JSON lines from ``fh``, one ``readline`` at a time: a line over the record limit is skipped in
    pieces (never held whole), a file over the decompressed limit stops with a located error."""
    max_line, max_total = limits.max_record_bytes, limits.max_decompressed_bytes
    readline = fh.readline
    lineno = total = 0
    while True:
        try:
            line = readline(max_line + 1)
        except (OSError, EOFError, zlib.error, _inflate_error) as exc:
            # e.g. a truncated or corrupt .gz: every line before the damage has been yielded
            yield ReadError(f"{label}:{lineno + 1}" if lineno else label, f"cannot read file: {exc}")
            return
        if not line:
            return
        lineno += 1
        total += len(line)
        if len(line) > max_line and not line.endswith(b"\n"):
            size = len(line)
            del line
            while total <= max_total:  # the rest of the over-long line, piece by piece
                piece = readline(_SKIP_PIECE)
                size += len(piece)
                total += len(piece)
                if not piece or piece.endswith(b"\n"):
                    break
            more = "+" if total > max_total else ""
            yield ReadError(f"{label}:{lineno}", f"line of {size:,}{more} bytes is over the {max_line:,}-byte "
                                                  "record limit: skipped")
        else:
            s = line.strip()
            if s:
                yield from _parse_record(s, f"{label}:{lineno}")
        if total > max_total:
            yield ReadError(f"{label}:{lineno}", f"over {max_total:,} bytes decompressed (the per-file limit, "
                                                  "--max-file-size): the rest of the file is not read")
            return


class _Prepend(io.RawIOBase):
    """``head`` (bytes already read) followed by the rest of ``rest``, as one raw stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = memoryview(head)
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(self.head):
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _holds_an_object_line(data: bytes) -> bool:
    """Whether ``data`` (a file's start) is JSON lines, some of them damaged or cut off, rather than one
    document: one of its first 64 non-empty lines is a whole JSON object on its own, or, with more than
    one line, starts a compact object at its first column (``{"``, no trailing comma). A pretty-printed
    document has neither: its ``{`` lines stand alone and its members are indented."""
    lines = [ln for ln in data.split(b"\n", 256)[:256] if ln.strip()][:64]
    for ln in lines:
        try:
            if isinstance(orjson.loads(ln), dict):
                return True
        except orjson.JSONDecodeError:
            continue
    return len(lines) > 1 and any(ln.startswith(b'{"') and not ln.rstrip().endswith(b",") for ln in lines)


def _read_document(fh: IO[bytes], label: str, jsonc: bool, limits: Limits) -> Iterator[Measurement | ReadError]:
    """A ``.json``/``.jsonc`` file: one document, a top-level array, or JSON lines."""
    limit = limits.max_record_bytes
    data = fh.read(limit + 1)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if len(data) > limit:  # more than one record can be: JSON lines, streamed, or nothing usable
        if not jsonc and _holds_an_object_line(data):
            yield from _read_lines(io.BufferedReader(_Prepend(data, fh), _BUFFER), label, limits)
        else:
            yield ReadError(f"{label}:1", f"a document of over {limit:,} bytes (the record limit): not read; "
                                          "many measurements go one a line (.jsonl), where the limit is per line")
        return
    if jsonc:
        data = strip_jsonc(data)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # Not one document: JSON lines if a line holds a whole object (the others are located errors)
        if _holds_an_object_line(data):
            yield from _read_lines(io.BytesIO(data), label, limits)
            return
        line = getattr(exc, "lineno", None) or 1
        yield ReadError(f"{label}:{line}", _decode_error(exc))
        return
    if isinstance(value, dict):
        yield _measurement(value, label, data.strip())
    else:
        yield from _from_value(value, f"{label}:1", None)


class _Inflate(io.RawIOBase):
    """A (multi-member) gzip stream inflated as it is read, no more than asked for at a time (a
    small file that inflates to gigabytes is never held). Everything inflated before damage is
    handed out before the error: a stream cut short raises ``EOFError`` only once every byte
    before the cut was read, a corrupt one the inflater's error (CRCs are checked at each
    member's end)."""

    def __init__(self, src: IO[bytes], *, owns: bool) -> None:
        self.src, self.owns = src, owns
        self.d = _zlib.decompressobj(31)
        self.pending = b""  # compressed bytes not yet given to the inflater
        self.started = False  # the current member has begun

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            if self.d.eof:  # the next member, if any, starts in what the last one left over
                self.d, self.started = _zlib.decompressobj(31), False
            if not self.pending:
                self.pending = self.src.read(_CHUNK)
                if not self.pending:
                    if self.started:
                        raise EOFError("compressed data ended before the end-of-stream marker was reached")
                    return 0
            self.started = True
            out = self.d.decompress(self.pending, len(buffer))
            self.pending = self.d.unused_data if self.d.eof else self.d.unconsumed_tail
            if out:
                buffer[: len(out)] = out
                return len(out)

    def close(self) -> None:
        if self.owns and not self.closed:
            self.src.close()
        super().close()


def inflate(stream: IO[bytes], *, owns: bool = False) -> IO[bytes]:
    """The inflated bytes of a gzip ``stream`` (``owns``: closing the result closes the stream)."""
    return io.BufferedReader(_Inflate(stream, owns=owns), _BUFFER)


def open_input(path: Path) -> IO[bytes]:
    """The bytes of one input: ``-`` is standard input, ``.gz`` is inflated (ISA-L when installed)."""
    if str(path) == "-":
        return sys.stdin.buffer
    if path.name.lower().endswith(".gz"):
        return inflate(path.open("rb"), owns=True)
    return path.open("rb")


def _records(fh: IO[bytes], label: str, suffix: str, limits: Limits) -> Iterator[Measurement | ReadError]:
    """The records of an open (inflated) input; a file that holds none is reported, never silent."""
    empty = True
    try:
        if suffix in (".jsonl", ".ndjson") or label == "-" or suffix == "":
            items = _read_lines(fh, label, limits)
        else:
            items = _read_document(fh, label, suffix == ".jsonc", limits)
        for item in items:
            empty = False
            yield item
    except (OSError, EOFError, zlib.error, _inflate_error) as exc:
        # e.g. a truncated or corrupt .gz: what was read before the damage has already been yielded
        empty = False
        yield ReadError(label, f"cannot read file: {exc}")
    if empty:
        yield ReadError(label, "no measurements: the file is empty")


def read_stream(stream: IO[bytes], name: str, *, fmt: str | None = None,
                limits: Limits | None = None) -> Iterator[Measurement | ReadError]:
    """Every measurement (or located error) in a binary stream; ``name`` is what errors and
    ``Measurement.source`` call it, and its suffix says the format (``x.jsonl.gz``: gzip, JSON lines;
    no known suffix: JSON lines) unless ``fmt`` names it (``".jsonl"``: an archive member, a stream
    already inflated). The stream is read once, front to back, and not closed."""
    lim = limits or DEFAULT_LIMITS
    shape = "x" + fmt if fmt is not None else name
    suffix = _base_suffix(Path(shape))
    if not shape.lower().endswith(".gz"):
        yield from _records(stream, name, suffix, lim)
        return
    with inflate(stream) as inflated:
        yield from _records(inflated, name, suffix, lim)


def read_file(path: Path, *, limits: Limits | None = None) -> Iterator[Measurement | ReadError]:
    """Every measurement (or located error) in one file (``-``: standard input, JSON lines)."""
    label = str(path)
    lim = limits or DEFAULT_LIMITS
    try:
        fh = open_input(path)
    except OSError as exc:
        yield ReadError(label, f"cannot read file: {exc}")
        return
    if label == "-":
        yield from _records(fh, label, "", lim)
        return
    with fh:
        yield from _records(fh, label, _base_suffix(path), lim)


def read_paths(paths: Iterable[str | Path], *, limits: Limits | None = None) -> Iterator[Measurement | ReadError]:
    """Every measurement (or located error) in files and directory trees, in order."""
    for item in iter_files(paths):
        if isinstance(item, ReadError):
            yield item
        else:
            yield from read_file(item, limits=limits)
