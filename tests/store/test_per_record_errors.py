"""Whatever one record raises, in the reader or in ingest, is that record's located error: the batch
it was in is written without it, and the stream goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from censorwatch.model.measurement import Measurement
from censorwatch.pipeline.ingest import ingest
from censorwatch.store import reader, rows
from censorwatch.store.db import Store
from censorwatch.store.reader import Limits, ReadError, read_paths, read_stream


def _m(i: int, **extra: Any) -> bytes:
    d = {"test_name": "web_connectivity", "measurement_start_time": "2024-02-17 10:00:00",
         "input": f"https://s{i}.example/", "probe_cc": "PK",
         "test_keys": {"queries": [{"hostname": f"s{i}.example", "answers": []}]}}
    d.update(extra)
    return orjson.dumps(d)


def test_an_unexpected_exception_while_lifting_a_record_is_its_error(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    real = Measurement.from_raw

    def flaky(obj: Any, source: str | None = None, raw_bytes: bytes | None = None) -> Measurement:
        if obj.get("input") == "https://s2.example/":
            raise RuntimeError("boom")
        return real(obj, source=source, raw_bytes=raw_bytes)

    monkeypatch.setattr(reader.Measurement, "from_raw", staticmethod(flaky))
    f = tmp_path / "m.jsonl"
    f.write_bytes(b"\n".join(_m(i) for i in range(1, 4)) + b"\n")
    items = list(read_paths([f]))
    assert [type(x).__name__ for x in items] == ["Measurement", "ReadError", "Measurement"]
    assert items[1].source == f"{f}:2" and "RuntimeError: boom" in items[1].reason  # type: ignore[union-attr]


def test_an_exception_while_building_rows_loses_only_that_record(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = rows.RowBatch.add_observations

    def flaky(self: rows.RowBatch, uid: str, tk: dict[str, Any]) -> None:
        real(self, uid, tk)  # some rows are added, then it fails: they must not stay
        if tk["queries"][0]["hostname"] == "s2.example":
            raise ValueError("hostile test_keys")

    monkeypatch.setattr(rows.RowBatch, "add_observations", flaky)
    f = tmp_path / "m.jsonl"
    f.write_bytes(b"\n".join(_m(i) for i in range(1, 4)) + b"\n")
    errors: list[ReadError] = []
    with Store(tmp_path / "s.duckdb") as store:
        stats = ingest(store, read_paths([f]), on_error=errors.append)
        counts = store.counts()
    assert (stats.new, stats.bad) == (2, 1)
    assert [e.source for e in errors] == [f"{f}:2"] and "hostile test_keys" in errors[0].reason
    assert counts == {"measurements": 2, "observations": 2, "verdicts": 2}


def test_read_stream_takes_any_binary_stream_and_a_name(tmp_path: Path) -> None:
    import gzip
    import io

    limit = len(_m(3)) + 1
    body = _m(1) + b"\n" + b"x" * 5 * limit + b"\n" + _m(3) + b"\n"
    items = list(read_stream(io.BytesIO(gzip.compress(body)), "s3://bucket/day.jsonl.gz",
                             limits=Limits(max_record_bytes=limit)))
    assert [type(x).__name__ for x in items] == ["Measurement", "ReadError", "Measurement"]
    assert items[0].source == "s3://bucket/day.jsonl.gz:1"  # type: ignore[union-attr]
    assert items[1].source == "s3://bucket/day.jsonl.gz:2"  # type: ignore[union-attr]
    assert f"over the {limit}-byte record limit" in items[1].reason  # type: ignore[union-attr]


def test_the_per_file_decompressed_limit_stops_that_file_only(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    a.write_bytes(b"".join(_m(i) + b"\n" for i in range(10)))
    b = tmp_path / "b.jsonl"
    b.write_bytes(_m(99) + b"\n")
    per_line = len(_m(1)) + 1
    items = list(read_paths([a, b], limits=Limits(max_decompressed_bytes=3 * per_line + 1)))
    kinds = [type(x).__name__ for x in items]
    assert kinds == ["Measurement"] * 4 + ["ReadError", "Measurement"]
    err = items[4]
    assert isinstance(err, ReadError) and err.source == f"{a}:4" and "the rest of the file is not read" in err.reason


def test_a_json_document_over_the_record_limit(tmp_path: Path) -> None:
    pretty = tmp_path / "big.json"
    pretty.write_bytes(orjson.dumps(orjson.loads(_m(1)), option=orjson.OPT_INDENT_2))
    lines = tmp_path / "lines.json"  # JSON lines under a .json name, larger than one record may be
    lines.write_bytes(b"".join(_m(i) + b"\n" for i in range(5)))
    lim = Limits(max_record_bytes=len(_m(1)) + 10)
    (err,) = list(read_paths([pretty], limits=lim))
    assert isinstance(err, ReadError) and err.source == f"{pretty}:1" and "record limit" in err.reason
    assert [type(x).__name__ for x in read_paths([lines], limits=lim)] == ["Measurement"] * 5


def test_json_lines_under_a_json_name_with_no_readable_object_line(tmp_path: Path) -> None:
    """Damaged JSON lines under a .json name, none of them a whole object in the first record's worth of
    bytes: still JSON lines, each line located (not one error for the file)."""
    lim = Limits(max_record_bytes=len(_m(1)) + 10)
    damaged = tmp_path / "damaged.json"
    damaged.write_bytes(_m(1)[:-5] + b"\xc9\n42\n")
    assert [e.source for e in read_paths([damaged], limits=lim)] == [f"{damaged}:1", f"{damaged}:2"]
    cut = tmp_path / "cut.json"  # over the record limit; the second line is cut off at the limit
    cut.write_bytes(_m(1)[:-5] + b"\n" + _m(2)[:-1] + b', "pad": "' + b"x" * len(_m(1)) + b'"}\n' + _m(3) + b"\n")
    items = list(read_paths([cut], limits=lim))
    assert [(type(x).__name__, x.source) for x in items] == [
        ("ReadError", f"{cut}:1"), ("ReadError", f"{cut}:2"), ("Measurement", f"{cut}:3")]
    assert "record limit" in items[1].reason  # type: ignore[union-attr]
    pretty = tmp_path / "pretty.json"  # a damaged pretty-printed document stays one error at its line
    pretty.write_bytes(orjson.dumps(orjson.loads(_m(1)), option=orjson.OPT_INDENT_2).replace(b'",\n', b'"\n', 1))
    (err,) = list(read_paths([pretty]))
    assert isinstance(err, ReadError) and err.source == f"{pretty}:3" and "invalid JSON" in err.reason
