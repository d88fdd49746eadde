"""OONI's archive layouts: which prefixes a selection lists, what a key says (pure, no server)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pytest

from censorwatch.pipeline.archive import s3 as s3mod
from censorwatch.pipeline.archive.layout import (
    ListDirs,
    Prefix,
    Selection,
    key_info,
    path_test_name,
    prefixes,
)
from censorwatch.pipeline.archive.sync import plan, sync
from censorwatch.store.db import Store


def _no_listing(bucket: str, prefix: str) -> list[str]:
    raise AssertionError(f"listed {bucket}/{prefix}")


def _raw_days(*days: str) -> ListDirs:
    def dirs(bucket: str, prefix: str) -> list[str]:
        assert prefix == "raw/", prefix  # the day directories, never objects
        return list(days)
    return dirs


def test_raw_prefixes_are_per_hour_country_and_test() -> None:
    dirs = _raw_days("20240216", "20240217", "20240218")
    sel = Selection.of(datetime(2024, 2, 17, 22), datetime(2024, 2, 18, 2), ["pk", "IR"], ["web_connectivity"])
    got = [p.prefix for p in prefixes(sel, dirs)]
    assert got == [f"raw/{d}/{h}/{cc}/webconnectivity/" for d, h in
                   (("20240217", "22"), ("20240217", "23"), ("20240218", "00"), ("20240218", "01"))
                   for cc in ("IR", "PK")]
    only_cc = [p.prefix for p in prefixes(Selection.of(datetime(2024, 2, 17), datetime(2024, 2, 17, 1), ["PK"]), dirs)]
    assert only_cc == ["raw/20240217/00/PK/"]
    hours = [p.prefix for p in prefixes(Selection.of(datetime(2024, 2, 17, 20), datetime(2024, 2, 18)), dirs)]
    assert hours == [f"raw/20240217/{h}/" for h in (20, 21, 22, 23)]
    # whole days without a country: one prefix a day, and only the days the bucket has
    everything = list(prefixes(Selection.of(datetime(2024, 2, 15), datetime(2024, 3, 1)), dirs))
    assert [p.prefix for p in everything] == ["raw/20240216/", "raw/20240217/", "raw/20240218/"]
    assert {p.bucket for p in everything} == {"ooni-data-eu-fra"}


def test_jsonl_days_find_tests_and_countries_one_level_at_a_time() -> None:
    asked: list[str] = []

    def dirs(bucket: str, prefix: str) -> list[str]:
        asked.append(prefix)
        return {"jsonl/": ["webconnectivity", "signal"], "jsonl/signal/": ["IT"],
                "jsonl/webconnectivity/": ["PK", "IT"], "raw/": ["20201020", "20201021"]}[prefix]

    sel = Selection.of(datetime(2020, 10, 19), datetime(2020, 10, 21))
    got = [p.prefix for p in prefixes(sel, dirs)]
    assert asked == ["jsonl/", "jsonl/signal/", "jsonl/webconnectivity/", "raw/"]  # directories, never objects
    jsonl = [f"jsonl/{t}/{c}/{d}/" for d in ("20201019", "20201020")
             for t, c in (("signal", "IT"), ("webconnectivity", "IT"), ("webconnectivity", "PK"))]
    assert [p for p in got if p.startswith("jsonl/")] == jsonl
    assert [p for p in got if p.startswith("raw/")] == ["raw/20201020/"]


def test_cans_by_day_in_the_bucket_of_their_time() -> None:
    sel = Selection.of(datetime(2020, 6, 1), datetime(2020, 6, 3), tests=["web_connectivity"], layout="can")
    assert list(prefixes(sel, _no_listing, bucket="main", legacy_bucket="old")) == [
        Prefix("old", "canned/2020-06-01/"), Prefix("main", "canned/2020-06-02/")]


def test_keys_of_every_layout() -> None:
    raw = key_info("raw/20240217/05/PK/webconnectivity/2024021705_PK_webconnectivity.n1.0.jsonl.gz")
    assert (raw.layout, raw.kind, raw.start, raw.cc, raw.test) == (
        "raw", "jsonl.gz", datetime(2024, 2, 17, 5), "PK", "webconnectivity")
    assert key_info("raw/20240217/05/PK/webconnectivity/2024021705_PK_webconnectivity.n1.0.tar.gz").kind is None
    old = key_info("jsonl/webconnectivity/IT/20200921/00/20200921_IT_webconnectivity.l.0.jsonl.gz")
    assert (old.layout, old.kind, old.start, old.hours, old.cc) == ("jsonl", "jsonl.gz", datetime(2020, 9, 21), 24, "IT")
    can = key_info("canned/2020-05-01/web_connectivity.0.tar.lz4")
    assert (can.layout, can.kind, can.cc, can.test) == ("can", "tar.lz4", None, "webconnectivity")
    report = key_info("canned/2020-05-01/20200501T000000Z-US-AS20093-facebook_messenger-r1-0.2.0-probe.json.lz4")
    assert (report.kind, report.cc, report.test) == ("json.lz4", "US", "facebookmessenger")
    assert key_info("canned/2020-05-01/index.json.gz").kind is None
    assert key_info("canned/2013-09-12/x-probe.yaml.lz4").kind is None
    assert key_info("mine/2024/pk.jsonl").kind == "jsonl"
    assert path_test_name(" Web_Connectivity ") == "webconnectivity"


def test_a_selection_matches_by_hour_country_and_test() -> None:
    sel = Selection.of(datetime(2024, 2, 17, 5), datetime(2024, 2, 17, 6), ["PK"], ["webconnectivity"])
    assert key_info("raw/20240217/05/PK/webconnectivity/a.jsonl.gz").matches(sel)
    assert not key_info("raw/20240217/06/PK/webconnectivity/a.jsonl.gz").matches(sel)
    assert not key_info("raw/20240217/05/IR/webconnectivity/a.jsonl.gz").matches(sel)
    assert not key_info("raw/20240217/05/PK/signal/a.jsonl.gz").matches(sel)
    assert key_info("canned/2024-02-17/web_connectivity.0.tar.lz4").matches(sel)  # the cc is in the records
    with pytest.raises(ValueError, match="empty time range"):
        Selection.of(datetime(2024, 2, 17), datetime(2024, 2, 17))


class _FlakyS3:
    """A client whose object's first transfer breaks half-way (as a dropped connection does)."""

    class _Stream:
        def __init__(self, data: bytes, break_at: int | None) -> None:
            self.data, self.pos, self.break_at = data, 0, break_at

        def read(self, n: int = -1) -> bytes:
            if self.break_at is not None and self.pos >= self.break_at:
                raise ConnectionResetError("connection reset by peer")
            end = len(self.data) if n < 0 else self.pos + n
            if self.break_at is not None:
                end = min(end, self.break_at)
            out, self.pos = self.data[self.pos:end], end
            return out

        def close(self) -> None:
            pass

    def __init__(self, data: bytes) -> None:
        self.data, self.gets = data, 0

    def get_object(self, **kw: Any) -> dict[str, Any]:
        self.gets += 1
        return {"Body": self._Stream(self.data, len(self.data) // 2 if self.gets == 1 else None)}


def test_a_broken_transfer_is_fetched_again_and_not_counted_bad() -> None:
    import gzip

    from archive.fake import measurement

    lines = [measurement("PK", datetime(2024, 2, 17, 1), i) for i in range(30)]
    data = gzip.compress(b"\n".join(lines) + b"\n", compresslevel=0)  # stored: the break is mid-stream
    client = _FlakyS3(data)
    obj = s3mod.ObjectInfo("b", "raw/20240217/01/PK/webconnectivity/x.jsonl.gz", len(data), "e1")
    with Store(":memory:") as store:
        p = plan(store, None, [])
        p.objects.append(obj)
        errors: list[str] = []
        stats = sync(store, client, p, on_error=lambda e: errors.append(str(e)), retry_wait=0)
        assert client.gets == 2 and errors == []
        assert (stats.objects_done, stats.objects_failed, stats.ingest.bad, stats.ingest.new) == (1, 0, 0, 30)
        assert store.counts()["measurements"] == 30


def test_buffered_body_counts_what_arrived() -> None:
    body = s3mod.Body(io.BytesIO(b"x" * 1000))
    assert io.BufferedReader(body, 64).read() == b"x" * 1000 and body.received == 1000 and body.error is None
