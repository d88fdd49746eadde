"""One streaming reader for every shape OONI measurements come in.

Accepted: ``.json`` (one object, possibly pretty-printed; or one object a line), ``.jsonl``,
``.jsonc`` (``//`` and ``/* */`` comments stripped, line numbers kept), the ``.gz`` form of each, a
top-level JSON array of measurements, directories (recursively, in sorted order) and ``-`` (JSON
lines on standard input).

The reader never stops at a bad record: it yields a ``ReadError`` located as ``path:line`` with a
reason, and goes on with the rest of the file. Good records come out as ``Measurement`` with
``raw_bytes`` set to the bytes they were read from (the line, the whole file, or the comment-stripped
text), so the store can keep them losslessly.
"""

from __future__ import annotations

import gzip
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

_gzip: ModuleType = gzip
_inflate_error: type[Exception] = zlib.error
try:  # ISA-L's inflate: ~2.4x zlib's speed on OONI .jsonl.gz (15 vs 36 us per 8 KiB line here)
    from isal import igzip, isal_zlib

    _gzip, _inflate_error = igzip, isal_zlib.error  # type: ignore[assignment]
except ImportError:  # pragma: no cover - no wheel for this platform: the standard library's
    pass

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
    if isinstance(obj, dict) and "test_name" not in obj:
        stem = Path(source.split(":", 1)[0]).name.split(".json", 1)[0]
        envelope = _envelope_from_uid(obj, stem)
        if envelope is not None:
            obj, raw = envelope, orjson.dumps(envelope)
    try:
        return Measurement.from_raw(obj, source=source, raw_bytes=raw)
    except InvalidMeasurement as exc:
        return ReadError(source, str(exc))


def _from_value(value: Any, source: str, raw: bytes | None) -> Iterator[Measurement | ReadError]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            src = f"{source}[{i}]"
            if isinstance(item, dict):
                yield _measurement(item, src, orjson.dumps(item))
            else:
                yield ReadError(src, f"expected a JSON object in the list, got {type(item).__name__}")
    else:
        yield _measurement(value, source, raw)


def _decode_error(exc: orjson.JSONDecodeError) -> str:
    msg = str(exc).split(":", 1)[0] if ": line" in str(exc) else str(exc)
    return f"invalid JSON: {msg}"


def _parse_lines(lines: Iterable[bytes], label: str, first_lineno: int = 1) -> Iterator[Measurement | ReadError]:
    lineno = first_lineno - 1
    for line in lines:
        lineno += 1
        s = line.strip()
        if not s:
            continue
        source = f"{label}:{lineno}"
        try:
            value = orjson.loads(s)
        except orjson.JSONDecodeError as exc:
            yield ReadError(source, _decode_error(exc))
            continue
        yield from _from_value(value, source, s)


def open_input(path: Path) -> IO[bytes]:
    """The bytes of one input: ``-`` is standard input, ``.gz`` is inflated (ISA-L when installed)."""
    if str(path) == "-":
        return sys.stdin.buffer
    if path.name.lower().endswith(".gz"):
        return _gzip.open(path, "rb")  # type: ignore[no-any-return]
    return path.open("rb")


def _read_document(data: bytes, label: str, jsonc: bool) -> Iterator[Measurement | ReadError]:
    """A ``.json``/``.jsonc`` file: one document, a top-level array, or JSON lines."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if jsonc:
        data = strip_jsonc(data)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # Not one document. If the first non-empty line is a complete value, it is JSON lines.
        lines = data.split(b"\n")
        first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
        if first is not None:
            try:
                orjson.loads(lines[first])
            except orjson.JSONDecodeError:
                pass
            else:
                yield from _parse_lines(lines, label)
                return
        line = getattr(exc, "lineno", None) or 1
        yield ReadError(f"{label}:{line}", _decode_error(exc))
        return
    if isinstance(value, dict):
        yield _measurement(value, label, data.strip())
    else:
        yield from _from_value(value, f"{label}:1", None)


def read_stream(fh: IO[bytes], label: str, suffix: str = ".jsonl") -> Iterator[Measurement | ReadError]:
    """The records of an open binary stream (already inflated), located as ``label:line``.

    ``suffix`` is the shape of its content (one of ``SUFFIXES``). For streams that are not files:
    an object fetched from an archive, a member of a tarball.
    """
    try:
        if suffix in (".jsonl", ".ndjson") or label == "-":
            yield from _parse_lines(fh, label)
        else:
            yield from _read_document(fh.read(), label, jsonc=suffix == ".jsonc")
    except (OSError, EOFError, zlib.error, _inflate_error) as exc:
        # e.g. a truncated or corrupt .gz: what was read before the damage has already been yielded
        yield ReadError(label, f"cannot read file: {exc}")


def read_file(path: Path) -> Iterator[Measurement | ReadError]:
    label = str(path)
    try:
        fh = open_input(path)
    except OSError as exc:
        yield ReadError(label, f"cannot read file: {exc}")
        return
    with fh:
        yield from read_stream(fh, label, _base_suffix(path))


def read_paths(paths: Iterable[str | Path]) -> Iterator[Measurement | ReadError]:
    """Every measurement (or located error) in files and directory trees, in order."""
    for item in iter_files(paths):
        if isinstance(item, ReadError):
            yield item
        else:
            yield from read_file(item)
